r"""# Activation functions in LLMs

The feed-forward network holds two thirds of a block's parameters, and its nonlinearity is one of
the few choices that changed between GPT-2 and today's models:

| name | $\phi(x)$ | FFN | used by |
|---|---|---|---|
| GELU | $x\,\Phi(x)$ (tanh approximation) | $W_2\,\phi(W_1 x)$ | GPT-2, GPT-3, BERT |
| SiLU / Swish | $x\,\sigma(x)$ | $W_2\,\phi(W_1 x)$ | (the gate of SwiGLU) |
| ReLU² | $\max(0, x)^2$ | $W_2\,\phi(W_1 x)$ | Primer (So et al., 2021), modded-nanoGPT |
| SwiGLU | | $W_2\,(\operatorname{SiLU}(W_g x) \odot W_u x)$ | PaLM, LLaMA, Mistral, Qwen |
| GeGLU | | $W_2\,(\operatorname{GELU}(W_g x) \odot W_u x)$ | T5 v1.1, Gemma |

The gated units (Shazeer, 2020) multiply a nonlinear gate by a linear "up" projection: the
product of two linear maps lets the FFN express quadratic interactions that a single nonlinearity
approximates poorly. A gated FFN has three matrices, so at equal parameters its width is
$\tfrac{8}{3} d$ instead of $4d$; `LMConfig` picks those widths by default, which keeps this
comparison fair. The functions themselves are Module 3's and the FFN is the transformer chapter's
`FeedForward`; `LMConfig.ffn` selects one ("gelu", "silu", "relu2", "swiglu", "geglu").

![The activations and their derivatives](figures/activation_shapes.png)

`compare_activations` trains the same byte-level model with each FFN on one budget
(`bench/studies.py` produced the table: 2 layers, width 64, 200 steps, one seed; a few hundredths
are within seed noise at this size):

| FFN | params | val loss |
|---|---|---|
| GELU MLP | 131,392 | 2.396 |
| SiLU MLP | 131,392 | 2.376 |
| ReLU² MLP | 131,392 | 2.314 |
| SwiGLU | 139,584 | 2.221 |
| GeGLU | 139,584 | 2.250 |

The ranking matches the literature: gated units first (SwiGLU slightly ahead of GeGLU, as in
Shazeer's table), ReLU² the best ungated choice (Primer), GELU and SiLU close to each other. The
gated rows carry 6% more parameters here ($\tfrac83 d$ rounded up to a multiple of 64).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from masterclass.llm.architecture_choices import BASELINE, compare_architectures

FFN_VARIANTS: dict[str, dict[str, Any]] = {
    "GELU MLP": dict(ffn="gelu"),
    "SiLU MLP": dict(ffn="silu"),
    "ReLU² MLP": dict(ffn="relu2"),
    "SwiGLU": dict(ffn="swiglu"),
    "GeGLU": dict(ffn="geglu"),
}


def compare_activations(
    data: tuple[Tensor, Tensor], *, steps: int = 200, seed: int = 0
) -> list[dict[str, Any]]:
    """Validation loss of the baseline byte model with each FFN kind, same budget and seed."""
    return compare_architectures(data, FFN_VARIANTS, base=BASELINE, steps=steps, seed=seed)
