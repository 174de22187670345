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

Because the mask is sampled once in the forward pass, the backward pass multiplies the upstream
gradient by the same $m/(1-p)$; autograd does that for us here.

Left out: variants that drop structured blocks (DropBlock, spatial `Dropout2d`), DropConnect,
and stochastic depth (dropping whole residual branches).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _check_p(p: float) -> None:
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"dropout probability p must be in [0, 1], got {p}")


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
