r"""# Vector add: the first Triton kernel

The smallest kernel that shows the whole GPU programming model. A kernel is launched over a
**grid** of **programs** (CUDA calls them thread *blocks*); each program gets its index from
`tl.program_id(0)` and handles one tile of `BLOCK` consecutive elements:

$$ \text{program } p \text{ owns elements } pB, pB+1, \dots, pB + B - 1, \qquad
   \text{grid} = \lceil n / B \rceil . $$

Inside a program Triton spreads the tile over the block's threads (groups of 32, *warps*, that
execute in lock step), so the code is written per tile: `tl.arange(0, BLOCK)` is a vector of
offsets, `tl.load` of a vector of pointers reads them all. The last tile may run past the end:
the **mask** `offs < n` turns those loads and stores off. Neighbouring threads read neighbouring
addresses, so each warp's loads merge into a few wide memory transactions (**coalescing**).

A vector add reads two numbers and writes one per element and does one addition: it is
*memory-bound*, and its speed is measured in GB/s against the GPU's bandwidth
(`kernels/bench/vector_add.py`), not in FLOP/s.

What a launch over $n = 1000$ elements with `BLOCK = 256` does, program by program, written with
the same index arithmetic in PyTorch (the kernel itself needs a GPU or the interpreter, see
`kernels/tests`):

>>> n, block = 1000, 256
>>> triton.cdiv(n, block)  # the grid: four programs
4
>>> offs = 3 * block + torch.arange(block)  # the last program's offsets, 768 ... 1023
>>> mask = offs < n
>>> int(mask.sum()), int(offs[mask].max())  # 232 lanes on, the last one on element 999
(232, 999)
>>> x, y = torch.arange(n, dtype=torch.float32), torch.ones(n)
>>> out = torch.empty(n)
>>> for pid in range(triton.cdiv(n, block)):  # every program, one after the other
...     offs = pid * block + torch.arange(block)
...     offs = offs[offs < n]  # masked lanes neither load nor store
...     out[offs] = x[offs] + y[offs]
>>> torch.equal(out, vector_add_reference(x, y))
True

Bytes, not FLOPs: in float32 each element costs 12 bytes of traffic (two reads, one write) for
one addition, an arithmetic intensity of $1/12$ FLOP per byte, far below what any GPU needs to be
compute-bound (hundreds of FLOP per byte).

References: Tillet, Kung and Cox, 2019, [Triton](https://doi.org/10.1145/3315508.3329973);
Triton's [vector addition tutorial](https://triton-lang.org/main/getting-started/tutorials/01-vector-add.html).

Builds on [the GPU execution model](execution_model.md) (grids, warps, coalescing).

Left out: grid-stride loops (one program handling many tiles) and autotuning `BLOCK`.

## Exercises

1. Write `tile_offsets(pid, block, n)`: the offsets and the mask that program `pid` of a launch
   over `n` elements with tiles of `block` computes (as torch tensors).
   Check it: `uv run pytest --exercise kernels.vector_add`
2. Write `num_programs(n, block)`: the grid size a launch over `n` elements with tiles of
   `block` needs.
   Check it: `uv run pytest --exercise kernels.vector_add`
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["vector_add", "vector_add_reference"]


def vector_add_reference(x: Tensor, y: Tensor) -> Tensor:
    """The ground truth: `x + y`."""
    return x + y


# ## The kernel
#
# `X`, `Y`, `OUT` are pointers to the first element; pointer arithmetic with a vector of
# offsets gives a vector of pointers. `BLOCK` is a compile-time constant (`tl.constexpr`): Triton
# compiles one kernel per value, and tile sizes must be powers of two.
@triton.jit
def _add_kernel(X, Y, OUT, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)  # (BLOCK,)
    mask = offs < n
    x = tl.load(X + offs, mask=mask)
    y = tl.load(Y + offs, mask=mask)
    tl.store(OUT + offs, x + y, mask=mask)


# The launcher starts one program per `BLOCK` elements, rounded up; the mask handles the tail.
def vector_add(x: Tensor, y: Tensor, *, block: int = 1024) -> Tensor:
    """`x + y` for contiguous tensors of the same shape, dtype and device."""
    if x.shape != y.shape or x.dtype != y.dtype or x.device != y.device:
        raise ValueError(
            f"x and y need the same shape, dtype and device, got {tuple(x.shape)} {x.dtype} "
            f"{x.device} and {tuple(y.shape)} {y.dtype} {y.device}"
        )
    if block & (block - 1):
        raise ValueError(f"block must be a power of two, got {block}")
    x, y = x.contiguous(), y.contiguous()
    out = torch.empty_like(x)
    n = x.numel()
    _add_kernel[(triton.cdiv(n, block),)](x, y, out, n, BLOCK=block)
    return out
