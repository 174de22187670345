r"""# The GPU execution model, through Triton programs

A GPU runs one function, the **kernel**, many times in parallel. CUDA organises the copies in a
hierarchy, and every performance rule follows from it:

- a **grid** of **blocks** (Triton: *programs*, indexed by `tl.program_id(axis)` on up to three
  axes); blocks are independent and may run in any order, on any of the GPU's streaming
  multiprocessors (**SMs**: 132 on an H100);
- a block is a group of **threads** (up to 1,024) that run on one SM, can synchronise, and share
  a fast on-chip scratchpad, **shared memory** (up to 228 KB per SM on an H100);
- threads execute in **warps** of 32 that issue one instruction together (SIMT); threads of a warp
  that take different branches run them one after the other (*divergence*).

Triton writes the code of a *block*, not of a thread: `tl.arange` vectors and 2-D tiles are
spread over the block's `num_warps` warps by the compiler, which also decides what goes to shared
memory. The concepts are the same, one level up.

**Coalescing.** Global memory is read in 32-byte sectors. When the 32 threads of a warp read 32
consecutive floats, that is 4 sectors; when they read a column of a row-major matrix, 32 sectors
for the same data. So the innermost (fastest-varying) index of a tile should walk along memory.
`transpose` has to read rows and write columns: the tiled version loads a tile along rows
(coalesced), transposes it on chip (`tl.trans`: through registers or shared memory) and writes it
along the output's rows (coalesced again); `transpose_naive` reads rows and writes with a stride.
Both are correct (the tests check them under the interpreter). On a GPU, measured
(`kernels/bench/results/h200.txt`), the naive one runs as fast as the tiled one (3,389 against
3,379 GB/s at $8192^2$ on an H200). The likely reason, not yet read in the generated code:
Triton's compiler chooses the layout of every tile, and for the store it can route the tile
through shared memory so that consecutive lanes write consecutive addresses. A compiler can only
repair what it can rearrange. `gather_strided` copies `x[::stride]`: lane $i$ reads element
$i \cdot$ stride, and no layout makes those addresses consecutive. The sector count predicts the
cost: a warp's 32 loads touch $\min(32, \lceil 32 s / 8 \rceil)$ sectors of 8 float32 for a
stride $s$, 4 at $s = 1$ and 32 from $s = 8$ on, so from a stride of 8 each useful element costs
a whole sector and the read's useful bandwidth should fall to an eighth
(`kernels/bench/execution_model.py` measures it, not yet run on a GPU; the exercise below counts
the sectors).

**Occupancy.** An SM hides the latency of a memory read (hundreds of cycles) by switching to
another resident warp. How many blocks fit on an SM at once is limited by whichever runs out
first: threads, registers or shared memory (`occupancy` computes it). More resident warps means
more latency hidden, up to the point where bandwidth or compute is saturated.

**Streams and events.** Kernel launches are asynchronous: the CPU queues them on a *stream* and
returns. Work on one stream runs in order; work on different streams may overlap (a copy beside a
kernel). An *event* recorded on a stream marks a point in it: `event.synchronize()` waits for it,
`stream.wait_event(e)` orders one stream after another, and `start.elapsed_time(end)` times the
GPU work between two events. The `gpu`-marked tests exercise them; on a CPU nothing is
asynchronous, so there is nothing to show.

References: NVIDIA, [CUDA C++ Programming Guide](https://docs.nvidia.com/cuda/cuda-c-programming-guide/)
(Sections 2 and 5); Kirk and Hwu, *Programming Massively Parallel Processors*, 4th ed., Chapters
4-6; Triton, [Programming guide](https://triton-lang.org/main/programming-guide/chapter-1/introduction.html).

Left out: warp-level primitives (shuffles, which Triton does not expose), thread-block clusters
and tensor memory accelerators, and CUDA graphs.

>>> occupancy(threads_per_block=256, registers_per_thread=64, shared_bytes_per_block=0)
4

## Exercises

1. Write `blocks_limited_by_shared_memory(shared_bytes_per_block, sm_shared_bytes)`: how many
   blocks fit on one SM by shared memory alone.
   Check it: `uv run pytest --exercise kernels.execution_model`
2. Write `sectors_read(stride_elements, element_bytes)`: the 32-byte sectors a warp of 32
   threads touches when thread $i$ reads element $i \cdot$ stride.
   Check it: `uv run pytest --exercise kernels.execution_model`
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["gather_strided", "occupancy", "program_map", "transpose", "transpose_naive"]


# ## Which program does what
#
# A 2-D grid: program $(i, j)$ writes its own linear id $i \cdot n_j + j$ into its tile. The
# result shows that tiles are owned by programs, and programs by nobody in particular.
@triton.jit
def _program_map_kernel(OUT, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    pid = pid_m * tl.num_programs(1) + pid_n
    tile = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32) + pid
    mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tl.store(OUT + offs_m[:, None] * N + offs_n[None, :], tile, mask=mask)


def program_map(m: int, n: int, block_m: int, block_n: int, device: str = "cpu") -> Tensor:
    """`(m, n)` int32: the id of the program that owns each element under a 2-D tiling."""
    out = torch.empty(m, n, dtype=torch.int32, device=device)
    grid = (triton.cdiv(m, block_m), triton.cdiv(n, block_n))
    _program_map_kernel[grid](out, m, n, BLOCK_M=block_m, BLOCK_N=block_n)
    return out


# ## Transpose: coalesced and not
#
# The tiled kernel loads an `(BM, BN)` tile whose inner index runs along the input's rows, and
# stores the transposed `(BN, BM)` tile whose inner index runs along the output's rows.
@triton.jit
def _transpose_kernel(X, Y, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tile = tl.load(X + offs_m[:, None] * N + offs_n[None, :], mask=mask)  # (BM, BN), rows of X
    out_mask = (offs_n[:, None] < N) & (offs_m[None, :] < M)
    tl.store(Y + offs_n[:, None] * M + offs_m[None, :], tl.trans(tile), mask=out_mask)


# The naive kernel keeps the input's orientation for the store: consecutive lanes write addresses
# `M` elements apart, one sector each.
@triton.jit
def _transpose_naive_kernel(X, Y, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    tile = tl.load(X + offs_m[:, None] * N + offs_n[None, :], mask=mask)
    tl.store(Y + offs_n[None, :] * M + offs_m[:, None], tile, mask=mask)


# Both transposes share the launcher: a 2-D grid of square tiles over the input.
def _launch_transpose(kernel, x: Tensor, block: int) -> Tensor:
    if x.dim() != 2:
        raise ValueError(f"x must be a matrix, got shape {tuple(x.shape)}")
    x = x.contiguous()
    m, n = x.shape
    y = torch.empty(n, m, dtype=x.dtype, device=x.device)
    kernel[(triton.cdiv(m, block), triton.cdiv(n, block))](x, y, m, n, BLOCK_M=block, BLOCK_N=block)
    return y


def transpose(x: Tensor, *, block: int = 32) -> Tensor:
    """`x.T` materialised, by tiles transposed on chip (coalesced reads and writes)."""
    return _launch_transpose(_transpose_kernel, x, block)


def transpose_naive(x: Tensor, *, block: int = 32) -> Tensor:
    """`x.T` materialised with coalesced reads and strided writes."""
    return _launch_transpose(_transpose_naive_kernel, x, block)


# ## Strided reads: the coalescing no compiler can repair
#
# Program $p$ copies elements $i = p B, \dots, p B + B - 1$ of `y` from `x[i * stride]`. Lane $i$
# of a warp reads an address `stride` elements past lane $i - 1$'s, and no change of layout can
# make those addresses consecutive: once `stride` reaches a sector's worth of elements (8 float32
# in 32 bytes), each useful element costs a whole sector of traffic.
@triton.jit
def _gather_strided_kernel(X, Y, n, stride, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(Y + offs, tl.load(X + offs * stride, mask=mask), mask=mask)


def gather_strided(x: Tensor, stride: int, *, block: int = 1024) -> Tensor:
    """`x[::stride]` of a 1-D tensor, copied by a kernel whose loads are `stride` apart."""
    if x.dim() != 1 or stride < 1:
        raise ValueError(
            f"need a 1-D x and a stride >= 1, got shape {tuple(x.shape)} and stride {stride}"
        )
    if x.numel() >= 2**31:
        raise ValueError(f"x has {x.numel():,} elements; the kernel's offsets are int32 (< 2**31)")
    x = x.contiguous()
    n = triton.cdiv(x.numel(), stride)
    y = torch.empty(n, dtype=x.dtype, device=x.device)
    _gather_strided_kernel[(triton.cdiv(n, block),)](x, y, n, stride, BLOCK=block)
    return y


# ## Occupancy
#
# The default limits are an H100 SM's (compute capability 9.0): 2,048 resident threads, 32
# blocks, 65,536 32-bit registers and 228 KB of shared memory. The answer is the smallest of the
# four limits; registers are allocated per warp, rounded up to 256.
def occupancy(
    *,
    threads_per_block: int,
    registers_per_thread: int,
    shared_bytes_per_block: int,
    sm_threads: int = 2048,
    sm_blocks: int = 32,
    sm_registers: int = 65536,
    sm_shared_bytes: int = 228 * 1024,
) -> int:
    """Resident blocks per SM for a kernel with these resources."""
    if threads_per_block < 1 or threads_per_block > 1024:
        raise ValueError(f"threads_per_block must be in [1, 1024], got {threads_per_block}")
    # Round threads up to whole warps and each warp's registers up to the unit of 256; each limit
    # is how many blocks fit by that one resource.
    warps = -(-threads_per_block // 32)
    regs_per_warp = -(-registers_per_thread * 32 // 256) * 256
    limits = [sm_blocks, sm_threads // (warps * 32), sm_registers // max(1, warps * regs_per_warp)]
    if shared_bytes_per_block > 0:
        limits.append(sm_shared_bytes // shared_bytes_per_block)
    return min(limits)
