r"""# Dropout

Dropout (Srivastava et al., *Dropout: A Simple Way to Prevent Neural Networks from Overfitting*,
JMLR 2014) zeroes each activation independently with probability $p$ during training. A unit can
no longer rely on any particular other unit being present, which discourages co-adapted features
and acts like training an exponential ensemble of thinned networks that share weights.

*Inverted* dropout rescales the kept units by $1/(1-p)$ at training time,

$$y = \frac{m \odot x}{1 - p}, \qquad m_i \sim \mathrm{Bernoulli}(1 - p),$$

so that $\mathbb{E}[y] = x$ and evaluation needs no change at all: in eval mode dropout is the
identity. (The original paper scaled the weights by $1-p$ at test time instead; the inverted form
is what every framework uses.)

**Mean and variance**, derived for one unit. $m_i$ is 1 with probability $1 - p$, so
$E[y_i] = (1-p)\cdot\frac{x_i}{1-p} + p \cdot 0 = x_i$, and
$E[y_i^2] = (1-p)\frac{x_i^2}{(1-p)^2} = \frac{x_i^2}{1-p}$, hence

$$\mathrm{Var}[y_i] = \frac{x_i^2}{1-p} - x_i^2 = x_i^2\,\frac{p}{1-p}.$$

At $p = 0.5$ the noise has the same size as the signal ($\mathrm{Var} = x^2$); at $p = 0.1$ it is
$x^2/9$. The expectation is preserved but the variance is not, which is why a network trained with
dropout sees slightly different activation statistics in eval mode (the "variance shift" that
makes dropout and batch norm awkward neighbours, Li et al., 2019).

A worked example: with $p = 0.5$ the survivors double, and over many draws the mean stays $x$.

>>> g = torch.Generator().manual_seed(0)
>>> dropout(torch.ones(8), 0.5, generator=g).tolist()
[0.0, 2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 2.0]
>>> y = dropout(torch.full((100_000,), 3.0, dtype=torch.float64), 0.5, generator=g)
>>> round(y.mean().item(), 1), round(y.var().item(), 1)  # x, and x^2 p / (1 - p) = 9
(3.0, 9.0)

Because the mask is sampled once in the forward pass, the backward pass multiplies the upstream
gradient by the same $m/(1-p)$; autograd does that for us here.

Left out: variants that drop structured blocks (DropBlock, spatial `Dropout2d`), DropConnect,
and stochastic depth (dropping whole residual branches).

## Exercises

1. Write `inverted_dropout(x, u, p)`: dropout of `x` given the uniforms `u` (same shape) that
   decide the mask. Check it: `uv run pytest --exercise nn.dropout`.
2. Write `dropout_variance(x, p)`: the variance of the output of inverted dropout on a constant
   input `x`. Check it: `uv run pytest --exercise nn.dropout`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _check_p(p: float) -> None:
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"dropout probability p must be in [0, 1], got {p}")


# Inverted dropout rescales during training, so evaluation needs no change at all.
def dropout(
    x: Tensor, p: float, training: bool = True, generator: torch.Generator | None = None
) -> Tensor:
    """Inverted dropout of `x` (any shape) with drop probability `p`.

    In training, each element is zeroed with probability `p` and the survivors are scaled by
    $1/(1-p)$; with `training=False` (or `p=0`) `x` is returned unchanged. `generator` makes the
    mask reproducible.

    >>> x = torch.ones(4)
    >>> torch.equal(dropout(x, 0.5, training=False), x)
    True
    """
    _check_p(p)
    if not training or p == 0.0:
        return x
    # With $p = 1$ every unit is dropped; $1/(1-p)$ would be infinite, so return zeros directly.
    if p == 1.0:
        return x * 0.0
    # `keep` is 1 with probability $1 - p$. Uniforms are drawn in at least float32 so that $p$ is
    # honoured exactly even for bf16 inputs, whose 8-bit mantissa would round the threshold.
    u_dtype = x.dtype if x.dtype == torch.float64 else torch.float32
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=u_dtype)
    keep = (u >= p).to(x.dtype)  # same shape as x
    return x * keep / (1.0 - p)


class Dropout(nn.Module):
    """Inverted dropout as a module: active in `train()` mode, the identity in `eval()` mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        _check_p(p)
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """Apply `dropout(x, p, training=self.training)`."""
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        """The arguments shown by `repr(module)`."""
        return f"p={self.p}"
