r"""# Int8 dequantize-matmul: weight-only quantization in the kernel

A weight-only int8 linear layer stores $W \in \mathbb Z_8^{N \times K}$ with one float scale per
output row, $\hat W = \operatorname{diag}(s)\,Q$ (Module 10's
[quantization](../deploy/quantization.md)). Computing $y = x \hat W^\top$ in PyTorch first
materialises the float $\hat W$: it reads one byte per weight and then writes and reads four
more. This kernel loads the int8 tiles, converts them to float *in registers* inside the matmul
loop, and applies the scales once at the end, since they are constant along $K$:

$$ y_{mn} = s_n \sum_k x_{mk}\, Q_{nk} . $$

At batch 1 (decoding) the product is memory-bound and the weight's bytes are the traffic, so
reading a quarter of them is up to a $4\times$ speedup over fp32 weights, $2\times$ over fp16
ones. That bound needs the whole chip reading: measured on an H200 with `(16, 64)` blocks
(`kernels/bench/results/h200.txt`), the kernel was 1.85-2.44x faster than dequantizing then
multiplying but only 0.44-0.78x of the fp16 matmul, at 262-375 GB/s of weights. The suspect,
not yet profiled: $N / 64 = 64$ programs for 132 multiprocessors leave half the chip without
work. `kernels/bench/int8_matmul.py` now sweeps the block shape (not yet run on a GPU), and a
decode kernel that splits $K$ across programs (split-K) is the next rung.

A weight and its int8 form, and the product the kernel must reproduce, on the reference (the
kernel itself needs a GPU or the interpreter, see `kernels/tests`):

>>> w = torch.tensor([[0.3, -1.0, 0.2], [2.0, 0.1, -0.5]])  # (N, K) float weight
>>> scale = w.abs().amax(dim=1) / 127  # (N,): the largest weight of a row maps to 127
>>> q = torch.round(w / scale[:, None]).to(torch.int8)
>>> q
tensor([[  38, -127,   25],
        [ 127,    6,  -32]], dtype=torch.int8)
>>> x = torch.tensor([[1.0, 2.0, 3.0]])  # (M, K)
>>> x @ w.T
tensor([[-1.1000,  0.7000]])
>>> int8_matmul_reference(x, q, scale)  # off by at most (scale / 2) * sum |x| per output
tensor([[-1.1102,  0.6772]])
>>> q.element_size(), w.element_size()  # bytes per weight: the traffic at batch 1
(1, 4)

Same tiling as [the matmul kernel](matmul.md). Reference: Frantar et al., 2022,
[GPTQ](https://arxiv.org/abs/2210.17323) (whose kernels fuse dequantization the same way);
PyTorch's `torch._weight_int8pack_mm`.

Left out: int4 packing (two values per byte), per-group scales, and int8 activations.

## Exercises

1. Write `dequant_matmul_reference(x, q, scale)`: the PyTorch ground truth above.
   Check it: `uv run pytest --exercise kernels.int8_matmul`
2. Write `quantize_per_row(w)`: the symmetric per-row int8 quantization of a float `(N, K)`
   weight (no row all zeros) as in the example, $s_n = \max_k |W_{nk}| / 127$ and
   $Q = \operatorname{round}(W / s)$; return `(q, scale)`. Every weight is then within $s_n / 2$
   of $s_n Q_{nk}$. Check it: `uv run pytest --exercise kernels.int8_matmul`
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["int8_matmul", "int8_matmul_reference"]


# The reference dequantises the whole weight before multiplying: the float copy the kernel never
# makes.
def int8_matmul_reference(x: Tensor, q: Tensor, scale: Tensor) -> Tensor:
    """`x @ (scale[:, None] * q).T` in float32: `x` `(M, K)`, `q` `(N, K)` int8, `scale` `(N,)`."""
    return (x.float() @ (q.float() * scale.float()[:, None]).T).to(x.dtype)


# Each program computes one `(BLOCK_M, BLOCK_N)` tile of `y`, walking `K` in `BLOCK_K` steps
# with a float32 accumulator.
@triton.jit
def _int8_matmul_kernel(
    X, Q, S, Y, M, N, K,
    stride_xm, stride_xk, stride_qn, stride_qk, stride_ym, stride_yn,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + offs_k
        x = tl.load(X + offs_m[:, None] * stride_xm + ks[None, :] * stride_xk,
                    mask=(offs_m[:, None] < M) & (ks[None, :] < K), other=0.0)  # fmt: skip
        # The (BLOCK_K, BLOCK_N) tile of Q^T: int8 in memory, `x`'s dtype in registers. The
        # conversion is exact (|Q| <= 127 needs 7 significant bits; fp16 has 11, bf16 8), so a
        # half-precision `x` multiplies on the half-precision tensor cores, float32 accumulating.
        q = tl.load(Q + offs_n[None, :] * stride_qn + ks[:, None] * stride_qk,
                    mask=(offs_n[None, :] < N) & (ks[:, None] < K), other=0)  # fmt: skip
        acc += tl.dot(x, q.to(x.dtype), input_precision=PRECISION)
    # $y_{mn} = s_n \sum_k x_{mk} Q_{nk}$: the scale of row $n$ factors out of the sum, so it is
    # applied once, to the finished tile.
    s = tl.load(S + offs_n, mask=offs_n < N, other=0.0).to(tl.float32)
    y = acc * s[None, :]
    tl.store(Y + offs_m[:, None] * stride_ym + offs_n[None, :] * stride_yn,
             y.to(Y.dtype.element_ty), mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))  # fmt: skip


# The launcher checks shapes and dtypes first: an int8 `q` is what makes the kernel worth it.
def int8_matmul(
    x: Tensor, q: Tensor, scale: Tensor, *, block_m: int = 32, block_n: int = 64, block_k: int = 64
) -> Tensor:
    """`x @ (scale[:, None] * q).T` without materialising the float weight.

    `x` `(M, K)` float, `q` `(N, K)` int8, `scale` `(N,)`; returns `(M, N)` in `x`'s dtype.
    """
    if q.dtype != torch.int8 or q.dim() != 2 or x.dim() != 2 or x.shape[1] != q.shape[1]:
        raise ValueError(
            f"need x (M, K) and an int8 q (N, K), got x {tuple(x.shape)} and q {q.dtype} "
            f"{tuple(q.shape)}"
        )
    if x.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"x must be float32, float16 or bfloat16, got {x.dtype}")
    if scale.shape != (q.shape[0],):
        raise ValueError(f"scale must have shape ({q.shape[0]},), got {tuple(scale.shape)}")
    # One program per `(BLOCK_M, BLOCK_N)` tile of the output.
    M, K = x.shape
    N = q.shape[0]
    y = torch.empty(M, N, device=x.device, dtype=x.dtype)
    grid = (triton.cdiv(M, block_m), triton.cdiv(N, block_n))
    _int8_matmul_kernel[grid](
        x, q, scale, y, M, N, K, *x.stride(), *q.stride(), *y.stride(),
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k,
        # float32 `x`: true float32 products, as `torch.matmul`; see the matmul chapter on TF32.
        PRECISION="ieee" if x.dtype == torch.float32 else "tf32",
    )  # fmt: skip
    return y
