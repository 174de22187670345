r"""# Fused SwiGLU, and a `torch.library` custom operator

The gated feed-forward of LLaMA-style models multiplies an activated projection by a linear one
(Shazeer, 2020):

$$ h = \mathrm{silu}(g) \odot u, \qquad \mathrm{silu}(g) = g\,\sigma(g) . $$

This is the gated variant of Module 6's [feed-forward](../transformer/feedforward.md). In
PyTorch it is three element-wise kernels (sigmoid, two products) and two intermediate
tensors saved for backward. The fused forward reads $g$ and $u$ once and writes $h$ once. The
backward, from $\sigma' = \sigma(1-\sigma)$,

$$ \frac{\partial h}{\partial g} = u\,\sigma(g)\big(1 + g\,(1 - \sigma(g))\big), \qquad
   \frac{\partial h}{\partial u} = \mathrm{silu}(g), $$

recomputes $\sigma(g)$ from the saved inputs instead of storing it: the same trade as
checkpointing, at the scale of one kernel.

The reference, and the derivative of $h$ in $g$ checked against central differences in float64
(the kernel itself needs a GPU or the interpreter, see `kernels/tests`):

>>> g = torch.tensor([-2.0, 0.0, 3.0])
>>> u = torch.tensor([1.0, 5.0, 2.0])
>>> swiglu_reference(g, u)  # silu(0) = 0 shuts the middle unit whatever u is
tensor([-0.2384,  0.0000,  5.7154])
>>> g64, u64, eps = g.double(), u.double(), 1e-6
>>> sig = torch.sigmoid(g64)
>>> dh_dg = u64 * sig * (1 + g64 * (1 - sig))  # the formula above
>>> fd = (swiglu_reference(g64 + eps, u64) - swiglu_reference(g64 - eps, u64)) / (2 * eps)
>>> torch.allclose(dh_dg, fd, atol=1e-8)
True

**A custom operator.** `torch.library.custom_op` registers `masterclass::swiglu` as a real
PyTorch operator: with a *fake* implementation (`register_fake`, shapes only) it works under
`torch.compile` and `torch.export` (which cannot trace into a Triton launch from Python), and
with `register_autograd` it is differentiable. `torch.library.opcheck` tests exactly these
registrations (schema, fake tensor, autograd, and `torch.compile`'s AOT dispatch) against the
real kernel; the tests run it.

References: Shazeer, 2020, [GLU Variants Improve Transformer](https://arxiv.org/abs/2002.05202);
PyTorch, [Custom Python operators](https://pytorch.org/tutorials/advanced/python_custom_ops.html).

Left out: fusing the two projections into the same kernel (a matmul epilogue).

## Exercises

1. Write `swiglu_backward_reference(g, u, dh)`: the closed-form gradients above in PyTorch.
   Check it: `uv run pytest --exercise kernels.swiglu`
2. The kernel sits inside the gated feed-forward $\big(\mathrm{silu}(xW_g^\top) \odot
   xW_u^\top\big)W_d^\top$, which has three $d \times F$ matrices where a GELU MLP of width $4d$
   has two. Write `swiglu_hidden_dim(d_model, multiple_of)`: LLaMA's $F$, the width that keeps the
   parameter count, $3dF = 2d \cdot 4d$, truncated to an integer and rounded *up* to a multiple
   of `multiple_of` (for the tensor cores' tile sizes).
   Check it (against the published LLaMA sizes): `uv run pytest --exercise kernels.swiglu`
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["swiglu", "swiglu_reference"]


def swiglu_reference(g: Tensor, u: Tensor) -> Tensor:
    """The ground truth: `F.silu(g) * u`."""
    return torch.nn.functional.silu(g) * u


# The forward is elementwise: each program handles `BLOCK` consecutive elements, in float32.
@triton.jit
def _swiglu_fwd(G, U, H, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    g = tl.load(G + offs, mask=mask).to(tl.float32)
    u = tl.load(U + offs, mask=mask).to(tl.float32)
    h = g * tl.sigmoid(g) * u
    tl.store(H + offs, h.to(H.dtype.element_ty), mask=mask)


# The backward, also elementwise: with $\sigma = \sigma(g)$, $\partial h / \partial g = u\,\sigma
# (1 + g(1 - \sigma))$ and $\partial h / \partial u = g\,\sigma$.
@triton.jit
def _swiglu_bwd(G, U, DH, DG, DU, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    g = tl.load(G + offs, mask=mask).to(tl.float32)
    u = tl.load(U + offs, mask=mask).to(tl.float32)
    dh = tl.load(DH + offs, mask=mask).to(tl.float32)
    sig = tl.sigmoid(g)
    dg = dh * u * sig * (1.0 + g * (1.0 - sig))
    du = dh * g * sig
    tl.store(DG + offs, dg.to(DG.dtype.element_ty), mask=mask)
    tl.store(DU + offs, du.to(DU.dtype.element_ty), mask=mask)


_BLOCK = 1024


# ## The operator and its registrations
#
# `mutates_args=()` declares the op functional (it returns new tensors), which is what lets
# `torch.compile` reorder and cache it. The fake implementation says only what the output looks
# like. The backward is itself a call to another custom op, so that it too is opaque to tracing.
@torch.library.custom_op("masterclass::swiglu", mutates_args=())
def _swiglu_op(g: Tensor, u: Tensor) -> Tensor:
    g, u = g.contiguous(), u.contiguous()
    h = torch.empty_like(g)
    n = g.numel()
    _swiglu_fwd[(triton.cdiv(n, _BLOCK),)](g, u, h, n, BLOCK=_BLOCK)
    return h


# The fake gives shape, dtype and device only, so tracing never launches the kernel.
@_swiglu_op.register_fake
def _(g: Tensor, u: Tensor) -> Tensor:
    return torch.empty_like(g)


# The backward op, registered the same way, with its own fake: two outputs shaped like the inputs.
@torch.library.custom_op("masterclass::swiglu_backward", mutates_args=())
def _swiglu_backward_op(g: Tensor, u: Tensor, dh: Tensor) -> tuple[Tensor, Tensor]:
    g, u, dh = g.contiguous(), u.contiguous(), dh.contiguous()
    dg, du = torch.empty_like(g), torch.empty_like(u)
    n = g.numel()
    _swiglu_bwd[(triton.cdiv(n, _BLOCK),)](g, u, dh, dg, du, n, BLOCK=_BLOCK)
    return dg, du


@_swiglu_backward_op.register_fake
def _(g: Tensor, u: Tensor, dh: Tensor) -> tuple[Tensor, Tensor]:
    return torch.empty_like(g), torch.empty_like(u)


# Autograd: forward saves the two inputs, backward hands them and `dh` to the backward op.
def _setup_context(ctx, inputs, output) -> None:
    ctx.save_for_backward(*inputs)


def _backward(ctx, dh: Tensor) -> tuple[Tensor, Tensor]:
    g, u = ctx.saved_tensors
    return _swiglu_backward_op(g, u, dh)


_swiglu_op.register_autograd(_backward, setup_context=_setup_context)


# The public function checks that the two halves agree, then calls the op.
def swiglu(g: Tensor, u: Tensor) -> Tensor:
    """`silu(g) * u` by the fused kernel (`torch.ops.masterclass.swiglu`); differentiable."""
    if g.shape != u.shape or g.dtype != u.dtype or g.device != u.device:
        raise ValueError(
            f"g and u need the same shape, dtype and device, got {tuple(g.shape)} {g.dtype} and "
            f"{tuple(u.shape)} {u.dtype}"
        )
    return _swiglu_op(g, u)
