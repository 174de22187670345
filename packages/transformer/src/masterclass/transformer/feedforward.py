r"""# Position-wise feed-forward networks

Attention mixes information *across* positions; the feed-forward network (FFN) then transforms each
position on its own, with the same two-layer MLP at every position:

$$
\operatorname{FFN}(x) = \phi(x W_1 + b_1)\, W_2 + b_2,
\qquad W_1 \in \mathbb{R}^{C \times d_{ff}},\ W_2 \in \mathbb{R}^{d_{ff} \times C}.
$$

The hidden width $d_{ff}$ is usually $4C$, so the FFN holds two thirds of a transformer block's
parameters. A useful reading (Geva et al., 2021) is a key-value memory: the rows of $W_1$ are keys
matched against the input, $\phi$ turns the matches into weights, and the rows of $W_2$ are the
values they retrieve.

The activation $\phi$ was ReLU in the original Transformer and GELU in BERT and GPT-2. The
**gated linear unit** family (Dauphin et al., 2017; Shazeer, 2020, *GLU Variants Improve
Transformer*) multiplies an activated projection by a second, linear one:

$$
\operatorname{FFN}_{\text{GLU}}(x) = \bigl(\phi(x W_g) \odot x W_u\bigr) W_d,
$$

named after $\phi$: **SwiGLU** with SiLU (LLaMA, PaLM), **GeGLU** with GELU (T5 v1.1, Gemma). The
gate costs a third weight matrix, so gated FFNs shrink $d_{ff}$ to about $\tfrac{8}{3} C$ to keep
the parameter count of a $4C$ MLP. **ReLU²** ($\operatorname{relu}(x)^2$, So et al., 2021, *Primer*)
is a cheap ungated alternative that also beats GELU at small scale.

The activation functions themselves are Module 3's (`masterclass.nn.activations`, written from
their formulas); this file adds ReLU², a composition of two of them. For speed, `FeedForward` calls
torch's fused kernel of the same function where one exists (`FUSED`; the tests check that both
give the same values and gradients): Module 3's SiLU is five element-wise passes over memory, the
fused one is a single pass, and its backward recomputes $\sigma(g)$ rather than storing it
(`masterclass.perf.memory` counts the bytes that saves). The capstone's `bench/throughput.py`
times a training step both ways (`capstone/bench/results/throughput.txt`).

Left out: mixture-of-experts FFNs (Module 7), where a router sends each token to a few of many FFNs.

## Exercises

1. Write `mlp(x, w1, b1, w2, b2)`: the plain GELU FFN from its weights. How many of a block's
   parameters does it hold at $d_{ff} = 4C$? Check it:
   `uv run pytest --exercise transformer.feedforward`.
2. Write `relu2(x)`: ReLU², checked in value and gradient. Check it:
   `uv run pytest --exercise transformer.feedforward`.
"""

from collections.abc import Callable
from functools import partial

import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.nn.activations import ACTIVATIONS as _NN_ACTIVATIONS
from masterclass.nn.activations import relu
from masterclass.nn.dropout import Dropout

__all__ = ["ACTIVATIONS", "FUSED", "FeedForward", "relu2"]


def relu2(x: Tensor) -> Tensor:
    r"""ReLU squared, $\max(x, 0)^2$ (So et al., 2021)."""
    r = relu(x)
    return r * r


# The lookup by name that configs use: Module 3's activations, plus ReLU². `gelu_tanh` is GPT-2's
# tanh approximation of GELU (Hugging Face calls it `gelu_new`).
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {**_NN_ACTIVATIONS, "relu2": relu2}

# The same functions as torch's fused kernels, which the FFN runs by default (`fused=True`).
FUSED: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": partial(F.gelu, approximate="tanh"),
    "silu": F.silu,
}


# The module: two projections (three when gated) around the activation, applied to each position
# on its own.
class FeedForward(nn.Module):
    """The position-wise MLP of a transformer block, plain or gated.

    Plain: `down(act(up(x)))`. Gated (`gated=True`): `down(act(gate(x)) * up(x))`, i.e. SwiGLU with
    `activation="silu"`, GeGLU with `"gelu"`. Dropout is applied to the output, as in BERT and GPT-2.

    Args:
        d_model: input and output width `C`.
        d_ff: hidden width.
        activation: a key of `ACTIVATIONS` (`"relu"`, `"gelu"`, `"gelu_tanh"`, `"silu"`,
            `"relu2"`, ...).
        gated: use the gated (GLU) form with a third projection `gate`.
        bias: give the linear layers biases (GPT-2 and BERT do; LLaMA and T5 do not).
        dropout: dropout probability on the output.
        fused: run torch's fused kernel of the activation where `FUSED` has one (the same
            function, faster); `False` runs Module 3's formula.

    Shapes: `(..., C) -> (..., C)`.

    >>> import torch
    >>> ffn = FeedForward(8, 32, activation="silu", gated=True, bias=False)
    >>> ffn(torch.zeros(2, 3, 8)).shape
    torch.Size([2, 3, 8])
    """

    # Check the widths and the activation's name, then take the fused kernel where there is one.
    def __init__(
        self,
        d_model: int,
        d_ff: int,
        activation: str = "gelu",
        gated: bool = False,
        bias: bool = True,
        dropout: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if d_model <= 0 or d_ff <= 0:
            raise ValueError(
                f"d_model and d_ff must be positive, got d_model={d_model}, d_ff={d_ff}"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}"
            )
        self.activation, self.gated = activation, gated
        self.act = FUSED[activation] if fused and activation in FUSED else ACTIVATIONS[activation]
        # `up` widens, `down` narrows back; the gated form has a second widening projection `gate`
        # whose activation multiplies `up`'s output element by element.
        self.up = nn.Linear(d_model, d_ff, bias=bias)
        self.gate = nn.Linear(d_model, d_ff, bias=bias) if gated else None
        self.down = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the FFN to every position of `x` `(..., C)`."""
        gated = self.gate is not None
        h = self.act(self.gate(x)) * self.up(x) if gated else self.act(self.up(x))  # (..., d_ff)
        return self.dropout(self.down(h))  # (..., C)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}, gated={self.gated}"
