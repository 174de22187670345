"""# Activation functions and the feed-forward networks of LLMs

The feed-forward network (FFN) holds two thirds of a transformer's parameters, and its nonlinearity
is one of the few architecture choices that has changed since GPT-2. The ones in use:

| name | $\\phi(x)$ | FFN | used by |
|---|---|---|---|
| GELU | $x\\,\\Phi(x)$ (tanh approximation in GPT-2) | $W_2\\,\\phi(W_1 x)$ | GPT-2, GPT-3, BERT |
| ReLU² | $\\max(0, x)^2$ | $W_2\\,\\phi(W_1 x)$ | Primer (So et al., 2021), nanoGPT speedruns |
| SiLU / Swish | $x\\,\\sigma(x)$ | gate of SwiGLU | |
| SwiGLU | | $W_2\\,(\\operatorname{SiLU}(W_g x) \\odot W_u x)$ | PaLM, LLaMA, Mistral |
| GeGLU | | $W_2\\,(\\operatorname{GELU}(W_g x) \\odot W_u x)$ | T5 v1.1, Gemma |

The gated linear units (Shazeer, 2020, *GLU Variants Improve Transformer*) multiply a nonlinear
gate by a linear "up" projection. A gated FFN has three matrices instead of two, so at equal
parameter count its hidden width is $\\tfrac{2}{3}$ of the MLP's: $\\tfrac{8}{3} d$ instead of $4d$.

`FeedForward` implements all four FFN kinds for `LanguageModel`. Its gate and up projections are one
fused matrix `w_in` of shape $(2 d_{ff}, d)$ (gate rows first, then up rows): one matrix product
instead of two, which matters on a CPU where small matrix products are dominated by overhead.
(`masterclass.transformer.feedforward.FeedForward` is the general module of the transformer chapter;
this one adds ReLU² and the fused layout the converters to HF Llama rely on.)
`compare_activations` trains the same tiny model with each kind on one budget and tables the loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# ## The nonlinearities
#
# GELU is used in its tanh approximation, $\tfrac12 x\,(1 + \tanh(\sqrt{2/\pi}(x + 0.044715x^3)))$,
# as GPT-2 trained with; the exact erf form differs by less than $10^{-3}$. ReLU² keeps ReLU's
# sparsity but is smooth at zero from the right and grows quadratically, which Primer found by
# architecture search to speed up language-model training.


def relu2(x: Tensor) -> Tensor:
    """Squared ReLU, $\\max(0, x)^2$, elementwise.

    >>> relu2(torch.tensor([-1.0, 0.5, 2.0])).tolist()
    [0.0, 0.25, 4.0]
    """
    return F.relu(x).square()


def gelu_tanh(x: Tensor) -> Tensor:
    """GELU with the tanh approximation used by GPT-2."""
    return F.gelu(x, approximate="tanh")


ACTIVATIONS = {"gelu": gelu_tanh, "relu2": relu2, "swiglu": F.silu, "geglu": gelu_tanh}
GATED = ("swiglu", "geglu")


class FeedForward(nn.Module):
    """Position-wise FFN `(B, T, d_model) -> (B, T, d_model)` of kind "swiglu", "geglu", "gelu" or "relu2"."""

    def __init__(
        self, d_model: int, d_ff: int, kind: str = "swiglu", bias: bool = False, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if kind not in ACTIVATIONS:
            raise ValueError(f"unknown FFN kind {kind!r}; use one of {sorted(ACTIVATIONS)}")
        self.kind = kind
        self.d_ff = d_ff
        self.act = ACTIVATIONS[kind]
        n_in = 2 * d_ff if kind in GATED else d_ff
        self.w_in = nn.Linear(d_model, n_in, bias=bias)  # gated: rows [gate; up]
        self.w_out = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the FFN to `x` of shape `(B, T, d_model)`."""
        h = self.w_in(x)  # (B, T, 2 d_ff) gated or (B, T, d_ff)
        if self.kind in GATED:
            gate, up = h.split(self.d_ff, dim=-1)  # (B, T, d_ff) each
            h = self.act(gate) * up
        else:
            h = self.act(h)
        return self.dropout(self.w_out(h))  # (B, T, d_model)

    def matmul_params(self) -> int:
        """Number of weights that take part in a matrix product (biases excluded)."""
        return self.w_in.weight.numel() + self.w_out.weight.numel()


def ffn_reference(x: Tensor, ffn: FeedForward) -> Tensor:
    """The same FFN written with separate gate/up matrices and textbook formulas (for tests)."""
    w_in, w_out = ffn.w_in.weight, ffn.w_out.weight
    b_in = ffn.w_in.bias if ffn.w_in.bias is not None else torch.zeros(w_in.shape[0], dtype=x.dtype)
    if ffn.kind in GATED:
        w_g, w_u = w_in[: ffn.d_ff], w_in[ffn.d_ff :]
        b_g, b_u = b_in[: ffn.d_ff], b_in[ffn.d_ff :]
        g = x @ w_g.T + b_g
        if ffn.kind == "swiglu":
            gate = g * torch.sigmoid(g)
        else:
            gate = 0.5 * g * (1 + torch.tanh((2 / torch.pi) ** 0.5 * (g + 0.044715 * g**3)))
        h = gate * (x @ w_u.T + b_u)
    else:
        a = x @ w_in.T + b_in
        if ffn.kind == "relu2":
            h = torch.where(a > 0, a * a, torch.zeros_like(a))
        else:
            h = 0.5 * a * (1 + torch.tanh((2 / torch.pi) ** 0.5 * (a + 0.044715 * a**3)))
    out = h @ w_out.T
    return out + ffn.w_out.bias if ffn.w_out.bias is not None else out
