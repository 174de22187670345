r"""# Custom layers and losses with hand-written backward passes

When autograd's automatic backward is wasteful (it saves every intermediate) or numerically poor,
write the backward yourself: subclass `torch.autograd.Function`, save what the backward needs in
`forward`, and return the vector–Jacobian product in `backward`. Then prove it with
`torch.autograd.gradcheck`, which compares it with finite differences in float64.

## A layer: RMSNorm

RMSNorm (Zhang & Sennrich, 2019, arXiv:1910.07467) rescales each row $x \in \mathbb{R}^D$ by its
root mean square and a learned gain $w$:

$$r = \Big(\tfrac{1}{D}\textstyle\sum_j x_j^2 + \epsilon\Big)^{-1/2}, \qquad y_i = w_i\, x_i\, r.$$

With upstream gradient $g$ and $u = g \odot w$, using $\partial r / \partial x_j = -r^3 x_j / D$:

$$\bar x_j = r\,u_j - \frac{r^3}{D}\, x_j \sum_i u_i x_i, \qquad
  \bar w_i = \sum_{\text{rows}} g_i\, x_i\, r.$$

Autograd would save $x^2$, its mean, the root and the quotient; the hand-written version saves only
$x$, $w$ and $r$ (one number per row).

## A loss: cross-entropy with label smoothing

Label smoothing (Szegedy et al., 2016, arXiv:1512.00567) trains against the target distribution
$q = (1 - \varepsilon)\,\mathrm{onehot}(y) + \varepsilon / V$ instead of the one-hot vector:

$$\mathcal{L} = -\frac{1}{B}\sum_b \sum_v q_{bv} \log p_{bv}, \qquad p = \mathrm{softmax}(z).$$

Its gradient with respect to the logits is the famous one-liner
$\partial\mathcal{L}/\partial z = (p - q)/B$: no log, no division, so the backward is both faster
and more accurate than differentiating through `log_softmax`. This matches
`torch.nn.functional.cross_entropy(..., label_smoothing=ε)` exactly.

Left out: double backward for these two (their `backward` uses no autograd-visible ops on saved
tensors' gradients; `gradgradcheck` is shown on `Softplus` in
[`autograd_mechanics.py`](autograd_mechanics.md)).

## Exercises

1. Write `rmsnorm_backward(x, weight, g, eps)`: return `(grad_x, grad_w)`, the two gradients
   derived above, with plain tensor ops (no autograd). Check it (against autograd through
   `torch.nn.functional.rms_norm`): `uv run pytest --exercise autograd.custom_functions`.
2. Write `smoothed_ce_grad(logits, targets, smoothing)`: the gradient $(p - q)/B$ of the
   label-smoothed loss with respect to the logits. Check it (against autograd through
   `F.cross_entropy(..., label_smoothing=ε)`):
   `uv run pytest --exercise autograd.custom_functions`.
3. Derive the backward of SiLU, $y = x\,\sigma(x)$ (the product rule, and
   $\sigma' = \sigma(1 - \sigma)$), and write `silu(x)` with a subclass of
   `torch.autograd.Function` whose `forward` saves only `x`, applied through `.apply`. Check it
   (`gradcheck`, and value and gradient against `F.silu`):
   `uv run pytest --exercise autograd.custom_functions`.
"""

from __future__ import annotations

import torch
from torch import nn


class RMSNormFunction(torch.autograd.Function):
    """RMSNorm over the last dimension with a hand-written backward.

    Shapes: x `(..., D)`, weight `(D,)`, output `(..., D)`.
    """

    @staticmethod
    def forward(ctx: object, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        r"""$y = w \odot x\, r$ with $r = (\mathrm{mean}(x^2) + \epsilon)^{-1/2}$ per row."""
        r = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)  # (..., 1)
        ctx.save_for_backward(x, weight, r)
        return x * r * weight  # (..., D)

    # The VJP: with $u = g \odot w$, $\bar x = r\,u - (r^3/D)\,x\,(u \cdot x)$; the gain's
    # gradient sums $g \odot x\,r$ over every row.
    @staticmethod
    def backward(ctx: object, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        """The VJP derived in the module docstring; `eps` gets no gradient."""
        x, weight, r = ctx.saved_tensors
        d = x.shape[-1]
        u = g * weight  # (..., D)
        dot = (u * x).sum(dim=-1, keepdim=True)  # (..., 1)
        grad_x = r * u - (r**3 / d) * x * dot  # (..., D)
        grad_w = (g * x * r).reshape(-1, d).sum(dim=0)  # (D,)
        return grad_x, grad_w, None


# The module holds the gain and checks the last dimension; the function does the work.
class RMSNorm(nn.Module):
    """`nn.Module` wrapper: a learned gain of shape `(D,)`, initialised to ones."""

    def __init__(self, dim: int, eps: float = 1e-6, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"RMSNorm: dim must be >= 1, got {dim}")
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise the last dimension of `x` `(..., D)`."""
        if x.shape[-1] != self.weight.shape[0]:
            raise ValueError(
                f"RMSNorm: input shape {tuple(x.shape)} does not end in dim={self.weight.shape[0]}"
            )
        return RMSNormFunction.apply(x, self.weight, self.eps)


# Label-smoothed cross-entropy: forward builds the smoothed targets $q$ and saves them with
# $\log p$, so backward is one subtraction.
class SmoothedCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy against label-smoothed targets, backward $(p - q)/B$.

    Shapes: logits `(B, V)`, targets `(B,)` int64; returns a scalar.
    """

    @staticmethod
    def forward(
        ctx: object, logits: torch.Tensor, targets: torch.Tensor, smoothing: float
    ) -> torch.Tensor:
        r"""$-\frac1B \sum_b \sum_v q_{bv} \log p_{bv}$."""
        logp = torch.log_softmax(logits, dim=-1)  # (B, V)
        q = torch.full_like(logp, smoothing / logits.shape[-1])  # (B, V)
        q.scatter_add_(1, targets[:, None], torch.full_like(logp[:, :1], 1.0 - smoothing))
        ctx.save_for_backward(logp, q)
        return -(q * logp).sum() / logits.shape[0]

    # With $p = e^{\log p}$ recovered from the saved tensor, the gradient is $(p - q)/B$ times
    # the upstream scalar.
    @staticmethod
    def backward(ctx: object, g: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        r"""$\bar z = g\,(p - q)/B$; targets and smoothing get no gradient."""
        logp, q = ctx.saved_tensors
        return g * (logp.exp() - q) / logp.shape[0], None, None


# The checked entry point; a custom `Function` is called through `.apply`, never directly.
def smoothed_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, smoothing: float = 0.1
) -> torch.Tensor:
    """Label-smoothed cross-entropy (see `SmoothedCrossEntropy`) with its arguments checked.

    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> a = smoothed_cross_entropy(logits, torch.tensor([0]), smoothing=0.1)
    >>> b = torch.nn.functional.cross_entropy(logits, torch.tensor([0]), label_smoothing=0.1)
    >>> bool(torch.allclose(a, b))
    True
    """
    # Check the shapes, an int64 target (what `scatter_add_` indexes with), and a smoothing in
    # $[0, 1]$.
    if logits.ndim != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(
            f"smoothed_cross_entropy: expected logits (B, V) and targets (B,), got "
            f"{tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if targets.dtype != torch.int64:
        raise TypeError(f"smoothed_cross_entropy: targets must be int64, got {targets.dtype}")
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothed_cross_entropy: smoothing must be in [0, 1], got {smoothing}")
    return SmoothedCrossEntropy.apply(logits, targets, smoothing)
