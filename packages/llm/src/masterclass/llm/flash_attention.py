r"""# Flash attention: exact attention in linear memory

Standard attention materializes the score matrix $S = QK^\top / \sqrt{D}$ and its softmax
$P$, both $T_q \times T_k$ per head: at $T = 4096$ with 8 heads that is 512 MiB in float32 for $S$
alone, and autograd keeps $P$ for the backward pass. FlashAttention (Dao et al., 2022; Dao, 2023,
*FlashAttention-2*) computes the same result without ever holding $S$: it walks over blocks of
keys and keeps, for each query row, a running maximum $m$, a running denominator $\ell$ and a
running unnormalized output $\tilde o$ (the **online softmax**, Milakov & Gimelshein, 2018):

$$
m' = \max(m, \max_j s_j), \quad
\ell' = e^{m - m'}\,\ell + \sum_j e^{s_j - m'}, \quad
\tilde o' = e^{m - m'}\,\tilde o + \sum_j e^{s_j - m'}\, v_j .
$$

After the last block $o = \tilde o / \ell$. Memory is $O(T D)$ for inputs and outputs plus one
$B_q \times B_k$ tile, and the result is exact, not an approximation: rescaling by $e^{m - m'}$ is
how the softmax of a concatenation is assembled from the softmaxes of its parts.

**Backward without $P$.** The forward saves only the log-sum-exp $L_i = m_i + \log \ell_i$ per
row, enough to rebuild any tile of $P$ as $P_{ij} = e^{s_{ij} - L_i}$. With
$\Delta_i = \sum_d \mathrm{d}O_{id} O_{id}$ (equal to $\sum_j P_{ij}\,\mathrm{d}P_{ij}$), the
gradients of a tile are

$$
\mathrm{d}V \mathrel{+}= P^\top \mathrm{d}O, \quad
\mathrm{d}P = \mathrm{d}O\, V^\top, \quad
\mathrm{d}S = P \odot (\mathrm{d}P - \Delta), \quad
\mathrm{d}Q \mathrel{+}= \mathrm{d}S\, K / \sqrt{D}, \quad
\mathrm{d}K \mathrel{+}= \mathrm{d}S^\top Q / \sqrt{D}.
$$

The backward recomputes $S$ tile by tile (more FLOPs, far less memory traffic: the trade that
makes FlashAttention fast on GPUs, whose arithmetic is cheap and memory slow).

This file is the algorithm in PyTorch, a `torch.autograd.Function` whose tiles are ordinary tensor
operations: slow in Python loops, but exactly the structure of the GPU kernel, which is the same
algorithm written in Triton in `masterclass.kernels.flash_attention`. Tests compare values and
gradients with `F.scaled_dot_product_attention`; `bench/flash_memory.py` measures the peak memory
against naive attention at $T = 4096$. Left out: dropout inside the kernel, and arbitrary masks
(only causal, top-left aligned like SDPA's `is_causal`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from masterclass.transformer.attention import scaled_dot_product_attention


def naive_attention(
    q: Tensor, k: Tensor, v: Tensor, causal: bool = False, scale: float | None = None
) -> Tensor:
    """The baseline: Module 6's textbook attention, which materializes the `(B, H, T_q, T_k)` scores."""
    return scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)  # (B, H, T_q, D)


def _acc_dtype(x: Tensor) -> torch.dtype:
    """Tiles accumulate in float32 (float64 inputs stay float64), as GPU kernels do for bf16/fp16."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _tile_scores(q: Tensor, k: Tensor, scale: float, causal: bool, q0: int, k0: int) -> Tensor:
    """Scores of a query tile starting at row `q0` against a key tile starting at column `k0`."""
    s = (q @ k.transpose(-1, -2)) * scale  # (B, H, B_q, B_k)
    if causal and k0 + k.shape[-2] - 1 > q0:  # the tile reaches above the diagonal
        rows = torch.arange(q0, q0 + q.shape[-2], device=q.device)[:, None]
        cols = torch.arange(k0, k0 + k.shape[-2], device=q.device)[None, :]
        s = s.masked_fill(cols > rows, float("-inf"))
    return s


# ## Forward
#
# Outer loop over query tiles, inner loop over key tiles. With a causal mask, key tiles that start
# after the last query of the tile are skipped entirely, which halves the work.


def flash_attention_forward(
    q: Tensor, k: Tensor, v: Tensor, causal: bool, scale: float, block_q: int, block_k: int
) -> tuple[Tensor, Tensor]:
    """Tiled forward: returns the output `(B, H, T_q, D)` and the log-sum-exp `(B, H, T_q)`."""
    B, H, T_q, D = q.shape
    T_k = k.shape[-2]
    dt = _acc_dtype(q)
    out = torch.empty_like(q)
    lse = torch.empty(B, H, T_q, dtype=dt, device=q.device)
    for q0 in range(0, T_q, block_q):
        q_tile = q[:, :, q0 : q0 + block_q].to(dt)  # (B, H, B_q, D)
        rows = q_tile.shape[-2]
        m = torch.full((B, H, rows, 1), float("-inf"), dtype=dt, device=q.device)  # running max
        ell = torch.zeros(B, H, rows, 1, dtype=dt, device=q.device)  # running denominator
        acc = torch.zeros(B, H, rows, D, dtype=dt, device=q.device)  # running unnormalized output
        k_end = min(T_k, q0 + rows) if causal else T_k
        for k0 in range(0, k_end, block_k):
            k_tile = k[:, :, k0 : k0 + block_k].to(dt)  # (B, H, B_k, D)
            v_tile = v[:, :, k0 : k0 + block_k].to(dt)  # (B, H, B_k, D)
            s = _tile_scores(q_tile, k_tile, scale, causal, q0, k0)  # (B, H, B_q, B_k)
            m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))  # (B, H, B_q, 1)
            p = torch.exp(s - m_new)  # (B, H, B_q, B_k)
            correction = torch.exp(m - m_new)  # (B, H, B_q, 1) rescales what came before
            ell = ell * correction + p.sum(dim=-1, keepdim=True)
            acc = acc * correction + p @ v_tile
            m = m_new
        out[:, :, q0 : q0 + rows] = (acc / ell).to(q.dtype)
        lse[:, :, q0 : q0 + rows] = (m + torch.log(ell)).squeeze(-1)
    return out, lse


# ## Backward
#
# Outer loop over key tiles, so that each $\mathrm{d}K_j, \mathrm{d}V_j$ is accumulated in one
# place and written once; $\mathrm{d}Q$ is accumulated across key tiles (on a GPU, FlashAttention-2
# runs a second pass for it instead of atomics; here an in-place add is enough).


def flash_attention_backward(
    grad_out: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    out: Tensor,
    lse: Tensor,
    causal: bool,
    scale: float,
    block_q: int,
    block_k: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """Tiled backward from the saved `out` and `lse`; returns `dq, dk, dv`."""
    T_q, T_k = q.shape[-2], k.shape[-2]
    dt = _acc_dtype(q)
    delta = (grad_out.to(dt) * out.to(dt)).sum(dim=-1, keepdim=True)  # (B, H, T_q, 1)
    dq = torch.zeros(q.shape, dtype=dt, device=q.device)
    dk = torch.zeros(k.shape, dtype=dt, device=q.device)
    dv = torch.zeros(v.shape, dtype=dt, device=q.device)
    for k0 in range(0, T_k, block_k):
        k_tile = k[:, :, k0 : k0 + block_k].to(dt)  # (B, H, B_k, D)
        v_tile = v[:, :, k0 : k0 + block_k].to(dt)  # (B, H, B_k, D)
        q_start = (
            (k0 // block_q) * block_q if causal else 0
        )  # earlier query tiles see none of these keys
        for q0 in range(q_start, T_q, block_q):
            q_tile = q[:, :, q0 : q0 + block_q].to(dt)  # (B, H, B_q, D)
            do_tile = grad_out[:, :, q0 : q0 + block_q].to(dt)  # (B, H, B_q, D)
            s = _tile_scores(q_tile, k_tile, scale, causal, q0, k0)  # (B, H, B_q, B_k)
            p = torch.exp(s - lse[:, :, q0 : q0 + block_q, None])  # (B, H, B_q, B_k) rebuilt
            dv[:, :, k0 : k0 + block_k] += p.transpose(-1, -2) @ do_tile
            dp = do_tile @ v_tile.transpose(-1, -2)  # (B, H, B_q, B_k)
            ds = p * (dp - delta[:, :, q0 : q0 + block_q])  # (B, H, B_q, B_k)
            dq[:, :, q0 : q0 + block_q] += (ds @ k_tile) * scale
            dk[:, :, k0 : k0 + block_k] += (ds.transpose(-1, -2) @ q_tile) * scale
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)


class FlashAttention(torch.autograd.Function):
    """Autograd wrapper: the forward saves `q, k, v, out, lse` and never the score matrix."""

    @staticmethod
    def forward(ctx, q, k, v, causal, scale, block_q, block_k):  # type: ignore[override]
        """Run the tiled forward and save what the backward needs."""
        out, lse = flash_attention_forward(q, k, v, causal, scale, block_q, block_k)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.config = (causal, scale, block_q, block_k)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        """Run the tiled backward; no gradient for the non-tensor arguments."""
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = flash_attention_backward(grad_out, q, k, v, out, lse, *ctx.config)
        return dq, dk, dv, None, None, None, None


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = False,
    scale: float | None = None,
    *,
    block_q: int = 128,
    block_k: int = 128,
) -> Tensor:
    """Exact attention `(B, H, T_q, D)` in $O(T)$ memory; same values and gradients as
    `F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)`.

    >>> q = k = v = torch.randn(1, 2, 5, 4)
    >>> torch.allclose(flash_attention(q, k, v, block_q=2, block_k=2), naive_attention(q, k, v), atol=1e-6)
    True
    """
    if (
        q.dim() != 4
        or k.shape != v.shape
        or q.shape[:2] != k.shape[:2]
        or q.shape[-1] != k.shape[-1]
    ):
        raise ValueError(
            f"flash_attention expects q (B, H, T_q, D) and k, v (B, H, T_k, D); got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if block_q <= 0 or block_k <= 0:
        raise ValueError(f"block sizes must be positive, got block_q={block_q}, block_k={block_k}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return FlashAttention.apply(q, k, v, causal, scale, block_q, block_k)
