r"""# Flash attention in Triton

The same algorithm as [the PyTorch version](../llm/flash_attention.md) in
`masterclass.llm.flash_attention` (read that page first for the math: the online softmax and the
backward's $\Delta$ are derived there), now as GPU kernels, built from the tiles of
[the matmul kernel](matmul.md) and the row reductions of [the fused softmax](softmax.md). The
file climbs the ladder that every kernel here climbs:

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
On an H200 (`kernels/bench/results/h200.txt`) the forward ran at 0.52-0.65x of SDPA's kernel
(191-363 TFLOP/s) and forward+backward at 0.44-0.75x, with one fixed tiling and no
autotuning.

**What the kernels exchange.** The forward stores, besides $O$, one float per query row:
$L_i = m_i + \log \ell_i = \log \sum_j e^{s_{ij}}$, the log-sum-exp of the row's scores. It is
all the backward needs to rebuild any tile of the probabilities, $P_{ij} = e^{s_{ij} - L_i}$,
without a second online pass. The backward's first kernel computes
$\Delta_i = \sum_j P_{ij}\,\mathrm{d}P_{ij}$, a sum over the whole row that no tile sees, from two
`(T, D)` tensors it already has: since $\mathrm{d}P = \mathrm{d}O\,V^\top$ and $O = PV$,
$\Delta_i = \sum_d \mathrm{d}O_{id}\,O_{id}$. The same facts, on one head in float64, through the
reference (the kernels themselves need a GPU or the interpreter, see `kernels/tests`):

>>> g = torch.Generator().manual_seed(0)
>>> q, k, v = torch.randn(3, 1, 1, 4, 8, generator=g, dtype=torch.float64)  # (B, H, T, D) each
>>> s = q[0, 0] @ k[0, 0].T / math.sqrt(8)  # (T_q, T_k) scores of the one head
>>> m = s.max(dim=-1).values
>>> lse = m + torch.log(torch.exp(s - m[:, None]).sum(-1))  # what the forward stores per row
>>> torch.allclose(lse, torch.logsumexp(s, dim=-1))
True
>>> p = torch.exp(s - lse[:, None])  # a tile of P, rebuilt by the backward
>>> o = attention_reference(q, k, v)[0, 0]  # (T_q, D)
>>> torch.allclose(p @ v[0, 0], o)
True
>>> do = torch.randn(4, 8, generator=g, dtype=torch.float64)  # upstream gradient dO
>>> dp = do @ v[0, 0].T  # (T_q, T_k)
>>> torch.allclose((p * dp).sum(-1), (do * o).sum(-1))  # Delta over a row, and from (dO, O)
True

References: [Dao et al. (2022), FlashAttention](https://arxiv.org/abs/2205.14135);
[Dao (2023), FlashAttention-2](https://arxiv.org/abs/2307.08691) (the split of the backward into
a $\mathrm{d}K, \mathrm{d}V$ pass and a $\mathrm{d}Q$ pass); Triton's
[fused attention tutorial](https://triton-lang.org/main/getting-started/tutorials/06-fused-attention.html).

Left out: dropout, arbitrary masks, head dims above 256, autotuning of block sizes, and the
FlashAttention-3 Hopper-specific pipelining.

## Exercises

1. Write `forward_with_lse(q, k, v, block_n, causal=False)`: what one forward program computes,
   for a whole head `q` `(T_q, D)`, `k`, `v` `(T_k, D)`, in PyTorch: walk over blocks of `block_n`
   keys keeping $m$, $\ell$ and the accumulator, and return $O$ and $L = m + \log \ell$.
   Check it: `uv run pytest --exercise kernels.flash_attention`
2. Write `delta(o, do)`: the backward's $\Delta$ `(T,)` from $O$ and $\mathrm{d}O$ `(T, D)`; the
   checker compares it with $\sum_j P_{ij}\,\mathrm{d}P_{ij}$, $\mathrm{d}P$ taken from autograd.
   Check it: `uv run pytest --exercise kernels.flash_attention`
3. Write `backward_from_lse(q, k, v, o, lse, do, causal=False)`: $(\mathrm{d}Q, \mathrm{d}K,
   \mathrm{d}V)$ of one head from the saved $O$ and $L$ only, rebuilding $P = e^{S - L}$ as the
   backward kernels do (checked against autograd through `attention_reference`).
   Check it: `uv run pytest --exercise kernels.flash_attention`
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


# Shape checks shared by every kernel here: q is `(B, H, T_q, D)`, k and v agree on
# `(B, H, T_k, D)`, and the head dim fits one tile.
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
    # Program (`pid_m`, `pid_bh`) owns query rows `offs_m` of one (batch, head); `q_base` and
    # `k_base` are that head's offsets into the strided tensors.
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // N_HEADS
    h = pid_bh % N_HEADS
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    q_base = b * stride_b + h * stride_h
    k_base = b * stride_kb + h * stride_kh
    # Load the query tile and every key and value row at once; masked loads pad with zeros.
    q = tl.load(Q + q_base + offs_m[:, None] * stride_t + offs_d[None, :],
                mask=(offs_m[:, None] < T_Q) & (offs_d[None, :] < D), other=0.0)  # fmt: skip
    kv_mask = (offs_n[:, None] < T_K) & (offs_d[None, :] < D)
    k = tl.load(K + k_base + offs_n[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0)
    v = tl.load(V + k_base + offs_n[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0)
    # Scores, $-\infty$ past `T_K` (and above the diagonal when causal), then a plain row
    # softmax: the whole row is in the tile, so one max and one sum suffice.
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


# The launcher refuses key lengths that would not fit one tile.
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
    # Tiles: 16 query rows, every key in one power-of-two tile, the head dim padded likewise;
    # one program per query tile per (batch, head).
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
    # Program (`pid_m`, `pid_bh`) owns query rows `offs_m` of one (batch, head); its query tile
    # is loaded once and stays in registers.
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
    # Running statistics per query row: the largest score so far `m_i`, the softmax denominator
    # `l_i`, and the unnormalised output `acc`.
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    hi = T_K
    if CAUSAL:
        hi = tl.minimum(T_K, (pid_m + 1) * BLOCK_M)
    for start_n in range(0, hi, BLOCK_N):
        # Load the next key and value block; rows past `T_K` read as zeros.
        cols = start_n + offs_n
        kv_mask = (cols[:, None] < T_K) & (offs_d[None, :] < D)
        k = tl.load(
            K + k_base + cols[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0
        )
        v = tl.load(
            V + k_base + cols[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0
        )
        # This block's scores, $-\infty$ where the key is padding or, when causal, in the future.
        s = tl.dot(q, tl.trans(k)) * scale  # (BLOCK_M, BLOCK_N)
        valid = cols[None, :] < T_K
        if CAUSAL:
            valid = valid & (cols[None, :] <= offs_m[:, None])
        s = tl.where(valid, s, float("-inf"))
        # Online softmax: rescale the running sum and output by $e^{m_{old} - m_{new}}$ before
        # adding this block's terms, so nothing overflows and earlier blocks stay consistent.
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        p = tl.exp(s - m_new[:, None])
        alpha = tl.exp(m_i - m_new)  # rescales the previous blocks' contributions
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    # Normalise once at the end; store the output and the log-sum-exp $L = m + \log l$, from
    # which the backward pass rebuilds $P$.
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
    # $\Delta_i$ is the row term of the softmax gradient; computing it once here saves every key
    # block of the dK/dV kernel from recomputing it.
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


# dK and dV: a program owns one block of keys (`pid_n`) of one (batch, head) and sweeps over the
# query blocks that can attend to it.
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
    # This program's keys and values are loaded once; dK and dV accumulate in float32 over the
    # query sweep, which starts at the diagonal block when causal.
    kv_mask = (offs_n[:, None] < T_K) & (offs_d[None, :] < D)
    k = tl.load(K + k_base + offs_n[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0)
    v = tl.load(V + k_base + offs_n[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0)
    dk = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    lo = 0
    if CAUSAL:
        lo = (pid_n * BLOCK_N // BLOCK_M) * BLOCK_M  # earlier query blocks see none of these keys
    for start_m in range(lo, T_Q, BLOCK_M):
        # Load a query block with its dO rows and their saved $L$ and $\Delta$.
        rows = start_m + offs_m
        q_mask = (rows[:, None] < T_Q) & (offs_d[None, :] < D)
        q = tl.load(Q + q_base + rows[:, None] * stride_t + offs_d[None, :], mask=q_mask, other=0.0)
        do = tl.load(
            DO + q_base + rows[:, None] * stride_t + offs_d[None, :], mask=q_mask, other=0.0
        )
        lse = tl.load(LSE + pid_bh * T_Q + rows, mask=rows < T_Q, other=0.0)
        delta = tl.load(DELTA + pid_bh * T_Q + rows, mask=rows < T_Q, other=0.0)
        # Rebuild $P = e^{S - L}$ for this tile from the saved log-sum-exp; invalid entries get
        # probability zero.
        s = tl.dot(q, tl.trans(k)) * scale  # (BLOCK_M, BLOCK_N)
        valid = (rows[:, None] < T_Q) & (offs_n[None, :] < T_K)
        if CAUSAL:
            valid = valid & (offs_n[None, :] <= rows[:, None])
        p = tl.where(valid, tl.exp(s - lse[:, None]), 0.0)
        # $dV \mathrel{+}= P^\top dO$; $dP = dO\,V^\top$; $dS = P \odot (dP - \Delta)$ is the
        # softmax backward; $dK \mathrel{+}= dS^\top Q\,s$.
        dv += tl.dot(tl.trans(p).to(do.dtype), do)
        dp = tl.dot(do, tl.trans(v))  # (BLOCK_M, BLOCK_N)
        ds = p * (dp - delta[:, None])
        dk += tl.dot(tl.trans(ds).to(q.dtype), q) * scale
    # After the sweep this key block's dK and dV are complete, and only this program writes them.
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


# dQ: a program holds one query block and sweeps over the key blocks, the mirror image of the
# dK/dV loop.
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
    # The query tile, its dO and the saved per-row $L$ and $\Delta$ stay in registers for the
    # whole sweep; with a causal mask the sweep stops at the diagonal, as in the forward kernel.
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
        # Load the next key and value block; rows past `T_K` read as zeros.
        cols = start_n + offs_n
        kv_mask = (cols[:, None] < T_K) & (offs_d[None, :] < D)
        k = tl.load(
            K + k_base + cols[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0
        )
        v = tl.load(
            V + k_base + cols[:, None] * stride_kt + offs_d[None, :], mask=kv_mask, other=0.0
        )
        # The same $P$ and $dS = P \odot (dP - \Delta)$ as in the dK/dV kernel, then
        # $dQ \mathrel{+}= dS\,K\,s$.
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


# The autograd wrapper. Forward runs the flash kernel and saves only the per-row log-sum-exp, so
# the `T_q x T_k` probabilities are never stored: backward rebuilds them tile by tile.
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

    # Backward: $\Delta$ first, then dK/dV and dQ in two kernels, so no element is written twice
    # and no atomics are needed.
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
        # dK and dV get one program per key block, dQ one per query block; both read the same
        # saved $L$ and $\Delta$.
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


# The public entry: check shapes and block sizes, default the scale to $1/\sqrt{D}$, and hand
# the rest to autograd.
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
    # `tl.dot` needs tiles of at least 16 along each dimension, and `tl.arange` a power of two.
    _check(q, k, v)
    for name, blk in (("block_m", block_m), ("block_n", block_n)):
        if blk < 16 or blk & (blk - 1):
            raise ValueError(f"{name} must be a power of two >= 16, got {blk}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return _FlashAttention.apply(q, k, v, causal, scale, block_m, block_n)
