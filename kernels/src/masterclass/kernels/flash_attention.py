r"""# Flash attention in Triton

The same algorithm as the PyTorch version in `masterclass.llm.flash_attention` (read that page
first for the math), now as GPU kernels. The file climbs the ladder that every kernel here climbs:

1. `attention_reference`: plain PyTorch, the ground truth every kernel is checked against;
2. `naive_attention`: a first Triton kernel. Each program owns a block of query rows of one head
   and loads *all* keys at once, so the whole row of scores sits in registers and an ordinary
   softmax works. Simple and correct, but the tile grows with the sequence, so it only fits short
   sequences (here up to 1,024 keys), and each program reads every key.
3. `flash_attention`: the tiled kernel with the online softmax. Each program walks over key
   blocks of fixed size keeping the running max $m$, denominator $\ell$ and accumulator, and writes
   the output and the log-sum-exp $L = m + \log \ell$. Three more kernels compute the backward
   from $L$ (FlashAttention-2's split: one pass for $\mathrm{d}K, \mathrm{d}V$ with an outer loop
   over keys, one for $\mathrm{d}Q$ with an outer loop over queries, so no atomics are needed).

A Triton program is one instance of the kernel; `tl.program_id` says which tile it owns. Triton
handles the layout of a tile across the threads of a GPU block; we write tile-level code:
`tl.load` a `(BLOCK_M, BLOCK_D)` block of pointers, `tl.dot` two tiles, `tl.store`.

On a CPU, the tests run these kernels through Triton's interpreter (`TRITON_INTERPRET=1`, which
executes each program with numpy); on a GPU the same tests compile them, and
`kernels/bench/flash_attention.py` reports TFLOP/s against `F.scaled_dot_product_attention`.
Left out: dropout, arbitrary masks, head dims above 256, autotuning of block sizes, and the
FlashAttention-3 Hopper-specific pipelining.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from torch import Tensor

# ## Rung 1: the reference


def attention_reference(
    q: Tensor, k: Tensor, v: Tensor, causal: bool = False, scale: float | None = None
) -> Tensor:
    r"""$\operatorname{softmax}(QK^\top s)V$ with the `(B, H, T_q, T_k)` score matrix in memory."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    acc = torch.float64 if q.dtype == torch.float64 else torch.float32  # float32 or better inside
    s = (q.to(acc) @ k.to(acc).transpose(-1, -2)) * scale  # (B, H, T_q, T_k)
    if causal:
        t_q, t_k = s.shape[-2:]
        s = s.masked_fill(
            torch.ones(t_q, t_k, dtype=torch.bool, device=q.device).triu(1), float("-inf")
        )
    return (s.softmax(dim=-1) @ v.to(acc)).to(q.dtype)  # (B, H, T_q, D)


def _check(q: Tensor, k: Tensor, v: Tensor) -> None:
    if (
        q.dim() != 4
        or k.shape != v.shape
        or q.shape[:2] != k.shape[:2]
        or q.shape[-1] != k.shape[-1]
    ):
        raise ValueError(
            f"expected q (B, H, T_q, D) and k, v (B, H, T_k, D); got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] > 256:
        raise ValueError(f"head dim {q.shape[-1]} > 256 is not supported by these kernels")


# ## Rung 2: the naive kernel
#
# `BLOCK_N` is the whole (padded) key length. Padded keys get a score of $-\infty$, so they take
# no probability mass; padded query rows are computed and never stored.


@triton.jit
def _naive_attention_kernel(
    Q, K, V, O,
    stride_b, stride_h, stride_t,
    stride_kb, stride_kh, stride_kt,
    T_Q, T_K, N_HEADS, D, scale,
    CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // N_HEADS
    h = pid_bh % N_HEADS
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    q_base = b * stride_b + h * stride_h
    k_base = b * stride_kb + h * stride_kh
    q = tl.load(Q + q_base + offs_m[:, None] * stride_t + offs_d[None, :],
                mask=(offs_m[:, None] < T_Q) & (offs_d[None, :] < D), other=0.0)  # fmt: skip
    kv_mask = (offs_n[:, None] < T_K) & (offs_d[None, :] < D)
    k = tl.load(K + k_base + offs_n[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0)
    v = tl.load(V + k_base + offs_n[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0)
    s = tl.dot(q, tl.trans(k)) * scale  # (BLOCK_M, BLOCK_N)
    valid = offs_n[None, :] < T_K
    if CAUSAL:
        valid = valid & (offs_n[None, :] <= offs_m[:, None])
    s = tl.where(valid, s, float("-inf"))
    p = tl.exp(s - tl.max(s, axis=1)[:, None])
    p = p / tl.sum(p, axis=1)[:, None]
    out = tl.dot(p.to(v.dtype), v)  # (BLOCK_M, BLOCK_D)
    tl.store(O + q_base + offs_m[:, None] * stride_t + offs_d[None, :], out.to(O.dtype.element_ty),
             mask=(offs_m[:, None] < T_Q) & (offs_d[None, :] < D))  # fmt: skip


def naive_attention(
    q: Tensor, k: Tensor, v: Tensor, causal: bool = False, scale: float | None = None
) -> Tensor:
    """Forward-only attention by the naive kernel; `T_k` at most 1,024."""
    _check(q, k, v)
    B, H, T_q, D = q.shape
    T_k = k.shape[2]
    if T_k > 1024:
        raise ValueError(
            f"naive_attention holds all keys in one tile; T_k={T_k} > 1024, use flash_attention"
        )
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    out = torch.empty_like(q)
    block_m = 16
    block_n = max(16, triton.next_power_of_2(T_k))
    block_d = max(16, triton.next_power_of_2(D))
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    grid = (triton.cdiv(T_q, block_m), B * H)
    _naive_attention_kernel[grid](
        q, k, v, out, q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
        T_q, T_k, H, D, scale, CAUSAL=causal, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
    )  # fmt: skip
    return out


# ## Rung 3: the flash forward kernel
#
# A program owns `BLOCK_M` query rows of one (batch, head) and loops over key blocks. With a causal
# mask the loop stops at the block holding the program's last query (`hi`), which skips the upper
# triangle. Accumulation is in float32 whatever the input dtype.


@triton.jit
def _flash_fwd_kernel(
    Q, K, V, O, LSE,
    stride_b, stride_h, stride_t,
    stride_kb, stride_kh, stride_kt,
    T_Q, T_K, N_HEADS, D, scale,
    CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // N_HEADS
    h = pid_bh % N_HEADS
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    q_base = b * stride_b + h * stride_h
    k_base = b * stride_kb + h * stride_kh
    q = tl.load(Q + q_base + offs_m[:, None] * stride_t + offs_d[None, :],
                mask=(offs_m[:, None] < T_Q) & (offs_d[None, :] < D), other=0.0)  # fmt: skip
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    hi = T_K
    if CAUSAL:
        hi = tl.minimum(T_K, (pid_m + 1) * BLOCK_M)
    for start_n in range(0, hi, BLOCK_N):
        cols = start_n + offs_n
        kv_mask = (cols[:, None] < T_K) & (offs_d[None, :] < D)
        k = tl.load(
            K + k_base + cols[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0
        )
        v = tl.load(
            V + k_base + cols[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0
        )
        s = tl.dot(q, tl.trans(k)) * scale  # (BLOCK_M, BLOCK_N)
        valid = cols[None, :] < T_K
        if CAUSAL:
            valid = valid & (cols[None, :] <= offs_m[:, None])
        s = tl.where(valid, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        p = tl.exp(s - m_new[:, None])
        alpha = tl.exp(m_i - m_new)  # rescales the previous blocks' contributions
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    out = acc / l_i[:, None]
    row_ok = offs_m < T_Q
    tl.store(O + q_base + offs_m[:, None] * stride_t + offs_d[None, :], out.to(O.dtype.element_ty),
             mask=row_ok[:, None] & (offs_d[None, :] < D))  # fmt: skip
    tl.store(LSE + pid_bh * T_Q + offs_m, m_i + tl.log(l_i), mask=row_ok)


# ## The backward kernels
#
# `_flash_bwd_preprocess` computes $\Delta_i = \sum_d \mathrm{d}O_{id} O_{id}$. Then
# `_flash_bwd_dkdv` owns a block of keys and loops over query blocks (from the diagonal on, when
# causal), rebuilding $P = e^{S - L}$ tile by tile; `_flash_bwd_dq` owns a block of queries and
# loops over key blocks. Each output element is written by exactly one program.


@triton.jit
def _flash_bwd_preprocess(O, DO, DELTA, stride_b, stride_h, stride_t, T_Q, N_HEADS, D,
                          BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // N_HEADS
    h = pid_bh % N_HEADS
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    ptrs = b * stride_b + h * stride_h + offs_m[:, None] * stride_t + offs_d[None, :]
    mask = (offs_m[:, None] < T_Q) & (offs_d[None, :] < D)
    o = tl.load(O + ptrs, mask=mask, other=0.0).to(tl.float32)
    do = tl.load(DO + ptrs, mask=mask, other=0.0).to(tl.float32)
    tl.store(DELTA + pid_bh * T_Q + offs_m, tl.sum(o * do, axis=1), mask=offs_m < T_Q)


@triton.jit
def _flash_bwd_dkdv(
    Q, K, V, DO, LSE, DELTA, DK, DV,
    stride_b, stride_h, stride_t,
    stride_kb, stride_kh, stride_kt,
    T_Q, T_K, N_HEADS, D, scale,
    CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    pid_n = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // N_HEADS
    h = pid_bh % N_HEADS
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    q_base = b * stride_b + h * stride_h
    k_base = b * stride_kb + h * stride_kh
    kv_mask = (offs_n[:, None] < T_K) & (offs_d[None, :] < D)
    k = tl.load(K + k_base + offs_n[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0)
    v = tl.load(V + k_base + offs_n[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0)
    dk = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    lo = 0
    if CAUSAL:
        lo = (pid_n * BLOCK_N // BLOCK_M) * BLOCK_M  # earlier query blocks see none of these keys
    for start_m in range(lo, T_Q, BLOCK_M):
        rows = start_m + offs_m
        q_mask = (rows[:, None] < T_Q) & (offs_d[None, :] < D)
        q = tl.load(Q + q_base + rows[:, None] * stride_t + offs_d[None, :], mask=q_mask, other=0.0)
        do = tl.load(
            DO + q_base + rows[:, None] * stride_t + offs_d[None, :], mask=q_mask, other=0.0
        )
        lse = tl.load(LSE + pid_bh * T_Q + rows, mask=rows < T_Q, other=0.0)
        delta = tl.load(DELTA + pid_bh * T_Q + rows, mask=rows < T_Q, other=0.0)
        s = tl.dot(q, tl.trans(k)) * scale  # (BLOCK_M, BLOCK_N)
        valid = (rows[:, None] < T_Q) & (offs_n[None, :] < T_K)
        if CAUSAL:
            valid = valid & (offs_n[None, :] <= rows[:, None])
        p = tl.where(valid, tl.exp(s - lse[:, None]), 0.0)
        dv += tl.dot(tl.trans(p).to(do.dtype), do)
        dp = tl.dot(do, tl.trans(v))  # (BLOCK_M, BLOCK_N)
        ds = p * (dp - delta[:, None])
        dk += tl.dot(tl.trans(ds).to(q.dtype), q) * scale
    tl.store(
        DK + k_base + offs_n[:, None] * stride_kt + offs_d[None, :],
        dk.to(DK.dtype.element_ty),
        mask=kv_mask,
    )
    tl.store(
        DV + k_base + offs_n[:, None] * stride_kt + offs_d[None, :],
        dv.to(DV.dtype.element_ty),
        mask=kv_mask,
    )


@triton.jit
def _flash_bwd_dq(
    Q, K, V, DO, LSE, DELTA, DQ,
    stride_b, stride_h, stride_t,
    stride_kb, stride_kh, stride_kt,
    T_Q, T_K, N_HEADS, D, scale,
    CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // N_HEADS
    h = pid_bh % N_HEADS
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    q_base = b * stride_b + h * stride_h
    k_base = b * stride_kb + h * stride_kh
    q_mask = (offs_m[:, None] < T_Q) & (offs_d[None, :] < D)
    q = tl.load(Q + q_base + offs_m[:, None] * stride_t + offs_d[None, :], mask=q_mask, other=0.0)
    do = tl.load(DO + q_base + offs_m[:, None] * stride_t + offs_d[None, :], mask=q_mask, other=0.0)
    lse = tl.load(LSE + pid_bh * T_Q + offs_m, mask=offs_m < T_Q, other=0.0)
    delta = tl.load(DELTA + pid_bh * T_Q + offs_m, mask=offs_m < T_Q, other=0.0)
    dq = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    hi = T_K
    if CAUSAL:
        hi = tl.minimum(T_K, (pid_m + 1) * BLOCK_M)
    for start_n in range(0, hi, BLOCK_N):
        cols = start_n + offs_n
        kv_mask = (cols[:, None] < T_K) & (offs_d[None, :] < D)
        k = tl.load(
            K + k_base + cols[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0
        )
        v = tl.load(
            V + k_base + cols[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0
        )
        s = tl.dot(q, tl.trans(k)) * scale
        valid = (offs_m[:, None] < T_Q) & (cols[None, :] < T_K)
        if CAUSAL:
            valid = valid & (cols[None, :] <= offs_m[:, None])
        p = tl.where(valid, tl.exp(s - lse[:, None]), 0.0)
        dp = tl.dot(do, tl.trans(v))
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k) * scale
    tl.store(
        DQ + q_base + offs_m[:, None] * stride_t + offs_d[None, :],
        dq.to(DQ.dtype.element_ty),
        mask=q_mask,
    )


class _FlashAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal, scale, block_m, block_n):  # type: ignore[override]
        B, H, T_q, D = q.shape
        T_k = k.shape[2]
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        out = torch.empty_like(q)
        lse = torch.empty(B * H, T_q, dtype=torch.float32, device=q.device)
        block_d = max(16, triton.next_power_of_2(D))
        _flash_fwd_kernel[(triton.cdiv(T_q, block_m), B * H)](
            q, k, v, out, lse, q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
            T_q, T_k, H, D, scale, CAUSAL=causal, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
        )  # fmt: skip
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.config = (causal, scale, block_m, block_n, block_d)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        q, k, v, out, lse = ctx.saved_tensors
        causal, scale, block_m, block_n, block_d = ctx.config
        B, H, T_q, D = q.shape
        T_k = k.shape[2]
        grad_out = grad_out.contiguous()
        delta = torch.empty_like(lse)
        _flash_bwd_preprocess[(triton.cdiv(T_q, block_m), B * H)](
            out, grad_out, delta, q.stride(0), q.stride(1), q.stride(2), T_q, H, D,
            BLOCK_M=block_m, BLOCK_D=block_d,
        )  # fmt: skip
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        strides = (q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2))
        meta = dict(CAUSAL=causal, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d)
        _flash_bwd_dkdv[(triton.cdiv(T_k, block_n), B * H)](
            q, k, v, grad_out, lse, delta, dk, dv, *strides, T_q, T_k, H, D, scale, **meta
        )
        _flash_bwd_dq[(triton.cdiv(T_q, block_m), B * H)](
            q, k, v, grad_out, lse, delta, dq, *strides, T_q, T_k, H, D, scale, **meta
        )
        return dq, dk, dv, None, None, None, None


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = False,
    scale: float | None = None,
    *,
    block_m: int = 64,
    block_n: int = 64,
) -> Tensor:
    """Attention `(B, H, T_q, D)` by the tiled Triton kernels, forward and backward.

    Causal masking is top-left aligned, like `F.scaled_dot_product_attention(is_causal=True)`.
    Block sizes are powers of two >= 16 (what `tl.dot` accepts on a GPU).
    """
    _check(q, k, v)
    for name, blk in (("block_m", block_m), ("block_n", block_n)):
        if blk < 16 or blk & (blk - 1):
            raise ValueError(f"{name} must be a power of two >= 16, got {blk}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return _FlashAttention.apply(q, k, v, causal, scale, block_m, block_n)
