r"""# Fused softmax

Row-wise softmax, stabilised by the row maximum:

$$ y_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \qquad m = \max_j x_j . $$

Written as separate PyTorch operations it is five passes over memory: read $x$ for the max,
read $x$ and write $x - m$, read that for `exp` and write it, read it for the sum, read and write
for the division. Each pass moves the whole matrix between DRAM and the chip, while the
arithmetic is trivial, so the cost is the traffic. The **fused** kernel loads a row once into
on-chip memory (registers / SRAM), does all three steps there, and writes the result once: one
read and one write, up to several times faster for a memory-bound operation
(`kernels/bench/softmax.py`). `torch.softmax` on a GPU is itself one fused kernel, so the
benchmark compares like with like: on an H200 ours was 1.58x faster at 4,096 columns and 1.16x at
16,384, and 0.38x at 256, where each of the 8,192 programs has one short row to do
(`kernels/bench/results/h200.txt`; why it loses there is not profiled).

One program per row, with the 1-D tiles and masks of [vector add](vector_add.md); the row must
fit in one tile (`BLOCK` = the next power of two above the row length; padded lanes load
$-\infty$, which contributes $e^{-\infty} = 0$). Arithmetic is in float32 whatever the storage
dtype.

Why the maximum is subtracted: $e^x$ overflows float32 above $x \approx 88.7$, and
$e^{x_i - m} / \sum_j e^{x_j - m} = e^{x_i} / \sum_j e^{x_j}$ for any $m$ (multiply top and
bottom by $e^{-m}$). With $m = \max_j x_j$ every exponent is $\le 0$ and the largest term is
exactly 1. On the reference (the kernel needs a GPU or the interpreter, see `kernels/tests`):

>>> x = torch.tensor([[1000.0, 1000.0, 0.0]])
>>> torch.exp(x)  # the unshifted numerators overflow
tensor([[inf, inf, 1.]])
>>> softmax_reference(x)  # e^0, e^0 and e^-1000 over their sum
tensor([[0.5000, 0.5000, 0.0000]])
>>> triton.next_power_of_2(1000)  # BLOCK for rows of 1,000: 24 padded lanes load -inf
1024

References: Triton's [fused softmax tutorial](https://triton-lang.org/main/getting-started/tutorials/02-fused-softmax.html);
Milakov and Gimelshein, 2018, [Online normalizer calculation for
softmax](https://arxiv.org/abs/1805.02867) (the one-pass version FlashAttention uses).

Left out: rows longer than one tile (the online softmax of [flash attention](flash_attention.md)
handles them, exercise 1 below), and the backward kernel
($\mathrm{d}x = y \odot (\mathrm{d}y - \langle \mathrm{d}y, y \rangle)$, exercise 2 below).

## Exercises

1. Write `online_softmax(x, block)`: the softmax of the rows of `x`, with the max and the
   denominator computed in one pass over chunks of `block` columns: when the running max moves
   from $m$ to $m'$, the running sum is rescaled by $e^{m - m'}$.
   Check it: `uv run pytest --exercise kernels.softmax`
2. Write `softmax_backward(y, dy)`: the gradient $\mathrm{d}x$ of the rows of a softmax from its
   output `y` and the upstream gradient `dy` alone (what a backward kernel would read). Derive it
   from the Jacobian $\partial y_i / \partial x_j = y_i(\delta_{ij} - y_j)$.
   Check it: `uv run pytest --exercise kernels.softmax`
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["softmax", "softmax_reference"]


def softmax_reference(x: Tensor) -> Tensor:
    """The ground truth: `torch.softmax` over the last axis, computed in float32."""
    return torch.softmax(x.float(), dim=-1).to(x.dtype)


# One program per row: the row fits one power-of-two block, so the max, the exponentials and the
# sum all stay in registers. Padding reads as $-\infty$, whose exponential adds nothing.
@triton.jit
def _softmax_kernel(X, Y, stride_x, stride_y, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)  # (BLOCK,)
    mask = offs < n_cols
    x = tl.load(X + row * stride_x + offs, mask=mask, other=-float("inf")).to(tl.float32)
    z = x - tl.max(x, axis=0)
    e = tl.exp(z)
    y = e / tl.sum(e, axis=0)
    tl.store(Y + row * stride_y + offs, y.to(Y.dtype.element_ty), mask=mask)


# The launcher flattens `x` to `(rows, N)` and starts one program per row.
def softmax(x: Tensor) -> Tensor:
    """Softmax over the last axis of `x` `(..., N)`; one program per row."""
    if x.dim() == 0 or x.shape[-1] == 0:
        raise ValueError(f"x must have a non-empty last axis, got shape {tuple(x.shape)}")
    n = x.shape[-1]
    x2 = x.reshape(-1, n).contiguous()  # (rows, N)
    y = torch.empty_like(x2)
    _softmax_kernel[(x2.shape[0],)](
        x2, y, x2.stride(0), y.stride(0), n, BLOCK=triton.next_power_of_2(n)
    )
    return y.reshape(x.shape)
