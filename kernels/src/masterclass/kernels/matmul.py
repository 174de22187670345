r"""# Tiled matrix multiplication

$C = AB$ with $A \in \mathbb R^{M \times K}$, $B \in \mathbb R^{K \times N}$ costs $2MNK$ FLOPs
on $MK + KN + MN$ numbers: unlike the kernels before it, it is **compute-bound** when the
operands are reused well, and measured in TFLOP/s (`kernels/bench/matmul.py`).

**Tiling.** Each program computes one `(BLOCK_M, BLOCK_N)` tile of $C$. It walks along $K$ in
steps of `BLOCK_K`, loading a `(BLOCK_M, BLOCK_K)` tile of $A$ and a `(BLOCK_K, BLOCK_N)` tile
of $B$ into on-chip memory (CUDA's *shared memory*) and accumulating their product with
`tl.dot`, which Triton maps to tensor-core instructions:

$$ C_{IJ} = \sum_{k} A_{I,k} B_{k,J} \quad \text{over tiles } k = 0, B_K, 2B_K, \dots $$

Every element of $A$ loaded is used `BLOCK_N` times and every element of $B$ `BLOCK_M` times,
so the traffic falls from $2MNK$ loads (one pair per multiply-add) to $MNK(1/B_N + 1/B_M)$. The
accumulator is float32 whatever the inputs, as in cuBLAS.

The arithmetic for a square product of size 4,096 with `(128, 128)` tiles, and the reference
that every tile of the kernel is checked against (the kernel itself needs a GPU or the
interpreter, see `kernels/tests`):

>>> M = N = K = 4096
>>> untiled = 2 * M * N * K  # one element of A and one of B per multiply-add
>>> tiled = M * N * K * (1 / 128 + 1 / 128)  # each loaded element reused 128 times
>>> untiled / tiled
128.0
>>> triton.cdiv(M, 128) * triton.cdiv(N, 128)  # programs in the grid, one per tile of C
1024
>>> a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float16)
>>> matmul_reference(a, a)  # accumulated in float32, stored in the inputs' dtype
tensor([[ 7., 10.],
        [15., 22.]], dtype=torch.float16)

**TF32.** Given float32 tiles, a GPU's tensor cores multiply them as *TF32*: each input rounded
to 10 mantissa bits (relative error $2^{-11} \approx 5 \times 10^{-4}$ per input), the products
accumulated in float32. That is Triton's default for `tl.dot`, and by NVIDIA's datasheet it has
several times the peak of plain float32 arithmetic (`kernels/bench/matmul.py --dtype fp32
--precision tf32` measures it against cuBLAS; not yet run on a GPU here), but it is not what
`torch.matmul` does for float32 unless asked
(`torch.backends.cuda.matmul.allow_tf32`, off by default). So `matmul` takes
`precision="ieee"` by default, true float32 products, and `precision="tf32"` on request; the
`gpu` test measures the difference. Half-precision inputs are exact on the tensor cores either
way. Under the interpreter `tl.dot` is a float32 numpy product whatever it is asked.

**Grouped ordering.** Programs run roughly in the order of their ids. Launched row by row, the
tiles running at once all need *different* columns of $B$; grouping `GROUP_M` rows of tiles
together makes concurrent programs share tiles of $B$ in the L2 cache. `_tile` maps a program id
to its tile in that order.

References: Triton's [matrix multiplication
tutorial](https://triton-lang.org/main/getting-started/tutorials/03-matrix-multiplication.html);
NVIDIA, [CUTLASS: Efficient GEMM](https://github.com/NVIDIA/cutlass/blob/main/media/docs/cpp/efficient_gemm.md).

Measured on an H200 with one fixed `(128, 128, 32)` tiling (`kernels/bench/results/h200.txt`):
0.58x of cuBLAS at size 1,024, rising to 0.85x in fp16 and 0.94x in bf16 at 8,192 (535 and 606
TFLOP/s). The small sizes lose most; a likely reason, not profiled: at 1,024 the grid has 64
tiles for the chip's 132 multiprocessors.

Left out: autotuning the block sizes, split-K, software pipelining (`num_stages`) and epilogue
fusion.

## Exercises

1. Write `tile_of(pid, m_tiles, n_tiles, group_m)`: the `(row, col)` tile that program `pid` owns
   in grouped ordering.
   Check it: `uv run pytest --exercise kernels.matmul`
2. Write `tiled_matmul(a, b, block_m, block_n, block_k)`: the kernel's loop nest in PyTorch, one
   `(block_m, block_n)` tile of $C$ at a time, accumulating products of `(block_m, block_k)` and
   `(block_k, block_n)` tiles along $K$; tiles at the edges are smaller (what the masks do).
   Check it: `uv run pytest --exercise kernels.matmul`
3. Write `global_loads(m, n, k, block_m, block_n)`: how many elements of $A$ and $B$ all programs
   together load (masked-off lanes load nothing). It is exactly $MNK(1/B_N + 1/B_M)$ when the
   blocks divide the sizes; derive the general count (it does not depend on `BLOCK_K`).
   Check it: `uv run pytest --exercise kernels.matmul`
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["matmul", "matmul_reference"]


def matmul_reference(a: Tensor, b: Tensor) -> Tensor:
    """The ground truth: `a @ b` accumulated in float32 (float64 stays float64)."""
    acc = torch.float64 if a.dtype == torch.float64 else torch.float32
    return (a.to(acc) @ b.to(acc)).to(a.dtype)


# Program `pid` -> tile (pid_m, pid_n): groups of GROUP_M tile rows, column by column within a group.
@triton.jit
def _tile(pid, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    m_tiles = tl.cdiv(M, BLOCK_M)
    n_tiles = tl.cdiv(N, BLOCK_N)
    per_group = GROUP_M * n_tiles
    first_m = (pid // per_group) * GROUP_M
    group_size = tl.minimum(m_tiles - first_m, GROUP_M)
    pid_m = first_m + (pid % per_group) % group_size
    pid_n = (pid % per_group) // group_size
    return pid_m, pid_n


# Each program computes one `(BLOCK_M, BLOCK_N)` tile of `C`: it walks `K` in `BLOCK_K` steps,
# adding the product of an `A` strip and a `B` strip into a float32 accumulator.
@triton.jit
def _matmul_kernel(
    A, B, C, M, N, K,
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    pid_m, pid_n = _tile(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        # Masked loads zero the ragged edges, so a partial strip adds nothing to the sum.
        ks = k0 + offs_k
        a = tl.load(A + offs_m[:, None] * stride_am + ks[None, :] * stride_ak,
                    mask=(offs_m[:, None] < M) & (ks[None, :] < K), other=0.0)  # fmt: skip
        b = tl.load(B + ks[:, None] * stride_bk + offs_n[None, :] * stride_bn,
                    mask=(ks[:, None] < K) & (offs_n[None, :] < N), other=0.0)  # fmt: skip
        acc += tl.dot(a, b, input_precision=PRECISION)
    # Cast once to the output dtype; the mask drops rows and columns past `M` and `N`.
    tl.store(C + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn,
             acc.to(C.dtype.element_ty), mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))  # fmt: skip


# The launcher uses a one-dimensional grid, one program per output tile; `_tile` turns the index
# into a grouped tile position.
def matmul(
    a: Tensor,
    b: Tensor,
    *,
    block_m: int = 64,
    block_n: int = 64,
    block_k: int = 32,
    group_m: int = 8,
    precision: str = "ieee",
) -> Tensor:
    """`a @ b` for `a` `(M, K)` and `b` `(K, N)` of one float dtype; any strides.

    `precision` is how float32 inputs are multiplied on a GPU: `"ieee"` (float32, what
    `torch.matmul` does by default) or `"tf32"` (tensor cores, inputs rounded to 10 mantissa bits).
    """
    if precision not in ("ieee", "tf32"):
        raise ValueError(f"precision must be 'ieee' or 'tf32', got {precision!r}")
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0] or a.dtype != b.dtype:
        raise ValueError(
            f"need a (M, K) and b (K, N) of one dtype, got {tuple(a.shape)} {a.dtype} and "
            f"{tuple(b.shape)} {b.dtype}"
        )
    # Strides go in as they are, so transposed or sliced inputs need no copy.
    M, K = a.shape
    N = b.shape[1]
    c = torch.empty(M, N, device=a.device, dtype=a.dtype)
    grid = (triton.cdiv(M, block_m) * triton.cdiv(N, block_n),)
    _matmul_kernel[grid](
        a, b, c, M, N, K, *a.stride(), *b.stride(), *c.stride(),
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, GROUP_M=group_m,
        # Only float32 inputs have a choice; half-precision tiles take Triton's default.
        PRECISION=precision if a.dtype == torch.float32 else "tf32",
    )  # fmt: skip
    return c
