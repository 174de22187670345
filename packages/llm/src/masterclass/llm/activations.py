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

`compare_activations` trains the same byte-level model with each FFN on one budget (2 layers,
width 64, 200 steps, one seed). The losses below are drawn from the committed output of
`bench/studies.py --only act` (`bench/results/studies_act.txt`, whose first line is the command
that made it), not typed in:

![Validation loss of each FFN activation, bars labelled with loss and parameter count](figures/study_activations.png)

Read it with the noise in mind: at this size a few hundredths are within seed noise, so only gaps
of a tenth or more are evidence. The literature's ranking (gated units first, SwiGLU and GeGLU
close, ReLU² the best ungated choice as in Primer, GELU and SiLU close to each other) needs several
seeds and longer runs to resolve; what one short run shows reliably is the ungated GELU and SiLU
MLPs behind the rest. The gated rows carry 6% more parameters here ($\tfrac83 d$ rounded up to a
multiple of 64): at width 64 the rounding takes the gated FFN from $3 \cdot 64 \cdot 171$ to
$3 \cdot 64 \cdot 192$ weights, against $2 \cdot 64 \cdot 256$ for the plain one:

>>> from masterclass.llm import LMConfig
>>> from masterclass.transformer.feedforward import FeedForward
>>> d_ff = LMConfig.llama(d_model=64, n_heads=4).d_ff
>>> gated = FeedForward(64, d_ff, "silu", gated=True, bias=False)
>>> plain = FeedForward(64, 4 * 64, "gelu_tanh", gated=False, bias=False)
>>> d_ff, [sum(p.numel() for p in ffn.parameters()) for ffn in (plain, gated)]
(192, [32768, 36864])

## Exercises

1. Write `gelu_tanh(x)`: GPT-2's tanh approximation of GELU. Where does it differ most from the
   exact $x\,\Phi(x)$? Check it: `uv run pytest --exercise llm.activations`.
2. Write `swiglu(x, w_gate, w_up, w_down)`: the SwiGLU FFN from its three weight matrices. Check
   it: `uv run pytest --exercise llm.activations`.
3. Write `equal_width(d_ff_plain)`: the gated hidden width whose three matrices hold as many
   parameters as the plain FFN's two. Check it: `uv run pytest --exercise llm.activations`.
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
