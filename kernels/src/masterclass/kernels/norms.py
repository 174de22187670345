r"""# RMSNorm and LayerNorm, forward and backward

Both normalise each row $x \in \mathbb R^N$ of the activations and scale it by a learned $w$:

$$ \text{RMSNorm: } y = w \odot \hat x,\ \ \hat x = x\, r,\ \ r = \Big(\tfrac1N \textstyle\sum_i x_i^2 + \epsilon\Big)^{-1/2};
\qquad \text{LayerNorm: } y = w \odot \hat x + b,\ \ \hat x = (x - \mu)\, r,\ \ r = (\sigma^2 + \epsilon)^{-1/2}. $$

**Backward.** With $g = w \odot \mathrm{d}y$, differentiate $\hat x$ through $r$: for RMSNorm
$\partial r / \partial x_j = -r^3 x_j / N$, so

$$ \mathrm{d}x = r \Big( g - \hat x \cdot \tfrac1N \textstyle\sum_i g_i \hat x_i \Big), $$

and for LayerNorm the mean adds one more term (the gradient of $x - \mu$ removes the mean):

$$ \mathrm{d}x = r \Big( g - \tfrac1N \textstyle\sum_i g_i - \hat x \cdot \tfrac1N \textstyle\sum_i g_i \hat x_i \Big). $$

The weight gradients are sums over rows, $\mathrm{d}w = \sum_{\text{rows}} \mathrm{d}y \odot \hat x$
and $\mathrm{d}b = \sum_{\text{rows}} \mathrm{d}y$. The forward kernel saves only $r$ (and $\mu$) per
row; the backward recomputes $\hat x$ from $x$, which costs less than storing it.

A check of the derivation on one row, in float64 with $\epsilon = 0$: $\hat x$ has unit RMS, and
$\mathrm{d}x$ is orthogonal to $x$, as it must be, since RMSNorm is invariant to scaling its
input ($x \mapsto \alpha x$ leaves $y$ unchanged, so no gradient points along $x$):

>>> x = torch.tensor([3.0, 4.0], dtype=torch.float64)
>>> r = x.pow(2).mean().rsqrt()  # 1 / RMS(x) = 1 / 3.5355...
>>> xhat = x * r
>>> xhat
tensor([0.8485, 1.1314], dtype=torch.float64)
>>> round(float(xhat.pow(2).mean()), 12)
1.0
>>> w = torch.tensor([0.5, 2.0], dtype=torch.float64)
>>> dy = torch.tensor([1.0, -3.0], dtype=torch.float64)
>>> g = w * dy
>>> dx = r * (g - xhat * (g * xhat).mean())  # the RMSNorm backward above
>>> abs(float(dx @ x)) < 1e-12
True

One program per row in both directions, as in [the fused softmax](softmax.md); the row fits in
one tile. Each program writes its row's contribution $\mathrm{d}y \odot \hat x$ to a `(rows, N)`
buffer that PyTorch sums: simple and deterministic, at the cost of a buffer as large as $x$
(Triton's tutorial instead accumulates into a few partial sums under a lock). The layers
themselves, and their place in a network, are Module 3's [normalization](../nn/normalization.md).

References: Zhang and Sennrich, 2019, [Root Mean Square Layer
Normalization](https://arxiv.org/abs/1910.07467); Ba, Kiros and Hinton, 2016, [Layer
Normalization](https://arxiv.org/abs/1607.06450); Triton's [layer norm
tutorial](https://triton-lang.org/main/getting-started/tutorials/05-layer-norm.html).

Left out: rows longer than one tile, and fusing the residual addition.

## Exercises

1. Write `rms_norm_backward_reference(x, w, dy, eps)`: the closed-form $(\mathrm{d}x, \mathrm{d}w)$
   of RMSNorm above, in PyTorch.
   Check it: `uv run pytest --exercise kernels.norms`
2. Write `layer_norm_backward_reference(x, w, b, dy, eps)`: the closed-form
   $(\mathrm{d}x, \mathrm{d}w, \mathrm{d}b)$ of LayerNorm above, in PyTorch, for `x` `(..., N)`.
   Check it: `uv run pytest --exercise kernels.norms`
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["layer_norm", "rms_norm"]


# The forward of one row, both norms: LayerNorm centres the row first (`HAS_MEAN`), RMSNorm does
# not; both then divide by the root mean square of what is left. Statistics are in float32.
@triton.jit
def _norm_fwd(X, W, B, Y, MEAN, RSTD, stride, N, eps, HAS_MEAN: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < N
    x = tl.load(X + row * stride + offs, mask=mask, other=0.0).to(tl.float32)
    if HAS_MEAN:
        mean = tl.sum(x, axis=0) / N
        x = tl.where(mask, x - mean, 0.0)
        tl.store(MEAN + row, mean)
    # $\mathrm{rstd} = 1/\sqrt{\overline{x^2} + \epsilon}$; the mean and rstd of each row are
    # saved for the backward.
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / N + eps)
    w = tl.load(W + offs, mask=mask).to(tl.float32)
    y = x * rstd * w
    if HAS_MEAN:
        y += tl.load(B + offs, mask=mask).to(tl.float32)
    tl.store(RSTD + row, rstd)
    tl.store(Y + row * stride + offs, y.to(Y.dtype.element_ty), mask=mask)


# The backward of one row, both norms: `HAS_MEAN` switches on LayerNorm's extra term.
@triton.jit
def _norm_bwd(X, W, DY, DX, DW, MEAN, RSTD, stride, N, HAS_MEAN: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < N
    x = tl.load(X + row * stride + offs, mask=mask, other=0.0).to(tl.float32)
    dy = tl.load(DY + row * stride + offs, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(W + offs, mask=mask).to(tl.float32)
    rstd = tl.load(RSTD + row)
    if HAS_MEAN:
        x = tl.where(mask, x - tl.load(MEAN + row), 0.0)
    # With $\hat x = x \cdot \mathrm{rstd}$ and $g = \mathrm{d}y \odot w$:
    # $\mathrm{d}x = \mathrm{rstd}\,(g - \bar g - \hat x\,\overline{g \hat x})$, and RMSNorm,
    # which never subtracted a mean, drops the $\bar g$ term.
    xhat = x * rstd
    g = dy * w
    c = tl.sum(g * xhat, axis=0) / N
    if HAS_MEAN:  # noqa: SIM108 (a compile-time branch of the kernel)
        dx = rstd * (g - tl.sum(g, axis=0) / N - xhat * c)
    else:
        dx = rstd * (g - xhat * c)
    # dw is written per row (`dy * xhat`) and summed over the rows afterwards, so no two programs
    # write the same place.
    tl.store(DX + row * stride + offs, dx.to(DX.dtype.element_ty), mask=mask)
    tl.store(DW + row * stride + offs, dy * xhat, mask=mask)


# The autograd wrapper flattens `x` to `(rows, N)` and starts one program per row; a power-of-two
# `BLOCK` covers the whole row. RMSNorm passes `weight` in the bias slot, which it never reads.
class _Norm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, eps: float) -> Tensor:
        n = x.shape[-1]
        x2 = x.reshape(-1, n).contiguous()  # (rows, N)
        rows, block = x2.shape[0], triton.next_power_of_2(n)
        y = torch.empty_like(x2)
        mean = torch.empty(rows, device=x.device, dtype=torch.float32)
        rstd = torch.empty(rows, device=x.device, dtype=torch.float32)
        has_mean = bias is not None
        _norm_fwd[(rows,)](
            x2, weight, bias if has_mean else weight, y, mean, rstd, x2.stride(0), n, eps,
            HAS_MEAN=has_mean, BLOCK=block,
        )  # fmt: skip
        ctx.save_for_backward(x2, weight, mean, rstd)
        ctx.has_mean, ctx.shape = has_mean, x.shape
        return y.reshape(x.shape)

    # Backward: one program per row again, then the per-row dw are summed here, and for LayerNorm
    # db is the column sum of dy.
    @staticmethod
    def backward(ctx, dy: Tensor):
        x2, weight, mean, rstd = ctx.saved_tensors
        rows, n = x2.shape
        dy2 = dy.reshape(rows, n).contiguous()
        dx = torch.empty_like(x2)
        dw_rows = torch.empty(rows, n, device=x2.device, dtype=torch.float32)  # (rows, N)
        _norm_bwd[(rows,)](
            x2, weight, dy2, dx, dw_rows, mean, rstd, x2.stride(0), n,
            HAS_MEAN=ctx.has_mean, BLOCK=triton.next_power_of_2(n),
        )  # fmt: skip
        dw = dw_rows.sum(0).to(weight.dtype)
        db = dy2.float().sum(0).to(weight.dtype) if ctx.has_mean else None
        return dx.reshape(ctx.shape), dw, db, None


# The public functions share the shape check and differ only in whether a bias goes in.
def _check(x: Tensor, weight: Tensor) -> None:
    if x.dim() == 0 or weight.shape != (x.shape[-1],):
        raise ValueError(
            f"weight must have shape (N,) = ({x.shape[-1] if x.dim() else '?'},) for x of shape "
            f"{tuple(x.shape)}, got {tuple(weight.shape)}"
        )


def rms_norm(x: Tensor, weight: Tensor, eps: float = 1e-5) -> Tensor:
    """RMSNorm over the last axis of `x` `(..., N)` with `weight` `(N,)`; differentiable."""
    _check(x, weight)
    return _Norm.apply(x, weight, None, eps)


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """LayerNorm over the last axis of `x` `(..., N)` with `weight`, `bias` `(N,)`; differentiable."""
    _check(x, weight)
    if bias.shape != weight.shape:
        raise ValueError(f"bias must have shape {tuple(weight.shape)}, got {tuple(bias.shape)}")
    return _Norm.apply(x, weight, bias, eps)
