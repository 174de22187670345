r"""# Flash attention: exact attention in linear memory

Standard attention materializes the score matrix $S = QK^\top / \sqrt{D}$ and its softmax
$P$, both $T_q \times T_k$ per head: at $T = 4096$ with 8 heads that is 512 MiB in float32 for $S$
alone, and autograd keeps $P$ for the backward pass. FlashAttention (Dao et al., 2022; Dao, 2023,
*FlashAttention-2*) computes the same result without ever holding $S$: it walks over blocks of
keys and keeps, for each query row, a running maximum $m$, a running denominator $\ell$ and a
running unnormalized output $\tilde o$ (the **online softmax**, Milakov & Gimelshein, 2018).

**From the naive softmax to the blocked one**, for one query row with scores $s_1, \dots, s_T$
and values $v_j$; the output is $o = \sum_j p_j v_j$ with $p = \operatorname{softmax}(s)$.

1. *Naive:* $p_j = e^{s_j} / \sum_k e^{s_k}$. In float32, $e^{s}$ overflows once $s > 88.7$, and
   scores of that size are ordinary for unnormalized queries and keys.
2. *Stable:* for any constant $c$, $e^{s_j - c}/\sum_k e^{s_k - c} = e^{s_j}/\sum_k e^{s_k}$
   (multiply top and bottom by $e^{-c}$). With $c = m = \max_k s_k$ every exponent is $\le 0$:
   no overflow, and the largest term is exactly 1. But it takes *three* passes over the row
   (find $m$, sum $\ell = \sum_k e^{s_k - m}$, then normalize), so the row must be kept.
3. *Online:* suppose the first part of the row gave $m$, $\ell = \sum_{k \le t} e^{s_k - m}$ and
   $\tilde o = \sum_{k \le t} e^{s_k - m} v_k$, and a new block $J$ of scores arrives. Its maximum
   may be larger, so the new reference is $m' = \max(m, \max_{j \in J} s_j)$. Each old term needs
   $e^{s_k - m'} = e^{s_k - m}\,e^{m - m'}$: the old sums are simply multiplied by $e^{m - m'} \le 1$.
   This gives the update below; after the last block, $\tilde o / \ell = \sum_k e^{s_k - m}v_k /
   \sum_k e^{s_k - m} = o$ exactly (up to rounding), by step 2.
4. *Blocked:* step 3 applied to a tile of $B_q$ rows at once is matrix arithmetic: the scores of a
   tile are $Q_{\text{tile}} K_{\text{tile}}^\top$ and the update of $\tilde o$ is a
   $(B_q \times B_k)(B_k \times D)$ product, which is what a GPU's matrix units are for.

>>> s = torch.tensor([1.0, 300.0, 2.0, 299.0])  # e^300 overflows float32
>>> bool(torch.isinf(torch.exp(s)).any())
True
>>> m, l = torch.tensor(float("-inf")), torch.tensor(0.0)
>>> for block in s.split(2):  # two blocks of two scores
...     m_new = torch.maximum(m, block.max())
...     l = torch.exp(m - m_new) * l + torch.exp(block - m_new).sum()
...     m = m_new
>>> torch.allclose(torch.exp(s - m) / l, torch.softmax(s, 0))
True

The tiles of a causal forward pass, and the work the causal mask lets it skip:

![flash attention tiles](figures/flash_tiles.png)

The update, for a block $J$ of keys:

$$
m' = \max(m, \max_j s_j), \quad
\ell' = e^{m - m'}\,\ell + \sum_j e^{s_j - m'}, \quad
\tilde o' = e^{m - m'}\,\tilde o + \sum_j e^{s_j - m'}\, v_j .
$$

After the last block $o = \tilde o / \ell$. Memory is $O(T D)$ for inputs and outputs plus one
$B_q \times B_k$ tile, and the result is exact, not an approximation: rescaling by $e^{m - m'}$ is
how the softmax of a concatenation is assembled from the softmaxes of its parts.

**Backward without $P$.** The forward saves only the log-sum-exp $L_i = m_i + \log \ell_i$ per
row, enough to rebuild any tile of $P$ as $P_{ij} = e^{s_{ij} - L_i}$. The softmax's backward
needs one more number per row, $\Delta_i$, derived in three steps:

1. The Jacobian of a softmax row is $\partial P_{ij}/\partial S_{ik} = P_{ij}(\delta_{jk} - P_{ik})$,
   so $\mathrm{d}S_{ik} = \sum_j \mathrm{d}P_{ij}\,P_{ij}(\delta_{jk} - P_{ik})
   = P_{ik}\big(\mathrm{d}P_{ik} - \sum_j P_{ij}\,\mathrm{d}P_{ij}\big)$.
2. The sum $\Delta_i = \sum_j P_{ij}\,\mathrm{d}P_{ij}$ runs over the whole row, which a tile does
   not see. But $\mathrm{d}P = \mathrm{d}O\,V^\top$, so
   $\Delta_i = \sum_j P_{ij} \sum_d \mathrm{d}O_{id} V_{jd} = \sum_d \mathrm{d}O_{id} \sum_j P_{ij}V_{jd}
   = \sum_d \mathrm{d}O_{id}\,O_{id}$.
3. So $\Delta$ is a row-wise dot product of two $(T, D)$ tensors the backward already has, computed
   once before the tile loops.

With it, the gradients of a tile are

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

References: [Dao et al. (2022), FlashAttention](https://arxiv.org/abs/2205.14135);
[Dao (2023), FlashAttention-2](https://arxiv.org/abs/2307.08691);
[Milakov & Gimelshein (2018), Online normalizer calculation for softmax](https://arxiv.org/abs/1805.02867).
The textbook attention it replaces is Module 6's
[scaled dot-product attention](../transformer/attention.md).

## Exercises

1. Write `online_softmax(s, block)`: the softmax of a 1-D tensor `s` computed in one pass over
   blocks of `block` scores, keeping only a running maximum and denominator (steps 1-3 above);
   it must survive scores like 1000. Check it: `uv run pytest --exercise llm.flash_attention`.
2. Write `combine(m1, l1, o1, m2, l2, o2)`: the running state `(m, l, o)` (max, denominator,
   unnormalized output) of two halves of a key sequence, merged into the state of the whole.
   Check it: `uv run pytest --exercise llm.flash_attention`.
3. Write `softmax_backward(p, dp)`: $\mathrm{d}S = P \odot (\mathrm{d}P - \Delta)$ for softmax rows
   `p` `(T, T_k)` and upstream gradient `dp`, with $\Delta$ from step 1 of the backward. Check it:
   `uv run pytest --exercise llm.flash_attention`.
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


# Two helpers of the tiled loops: the accumulation dtype, and the scores of one tile with the
# causal mask applied inside it.
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
        # Online softmax over the key tiles the mask leaves: rescale the running sum and output by
        # $\exp(m_{old} - m_{new})$ before adding this tile's terms, so nothing overflows.
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
        # Normalize once at the end, and keep $m + \log \ell$, the log-sum-exp the backward needs.
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
    # $\delta_i = \mathrm{d}O_i \cdot O_i$, the row term of the softmax gradient, once for all
    # tiles; the gradients accumulate in the accumulation dtype.
    delta = (grad_out.to(dt) * out.to(dt)).sum(dim=-1, keepdim=True)  # (B, H, T_q, 1)
    dq = torch.zeros(q.shape, dtype=dt, device=q.device)
    dk = torch.zeros(k.shape, dtype=dt, device=q.device)
    dv = torch.zeros(v.shape, dtype=dt, device=q.device)
    # For each key tile, visit only the query tiles that can see it (all of them without a mask).
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
            # $P$ rebuilt from the log-sum-exp; then $\mathrm{d}V \mathrel{+}= P^\top \mathrm{d}O$,
            # $\mathrm{d}S = P \circ (\mathrm{d}P - \delta)$, and $\mathrm{d}Q$, $\mathrm{d}K$ from it.
            p = torch.exp(s - lse[:, :, q0 : q0 + block_q, None])  # (B, H, B_q, B_k) rebuilt
            dv[:, :, k0 : k0 + block_k] += p.transpose(-1, -2) @ do_tile
            dp = do_tile @ v_tile.transpose(-1, -2)  # (B, H, B_q, B_k)
            ds = p * (dp - delta[:, :, q0 : q0 + block_q])  # (B, H, B_q, B_k)
            dq[:, :, q0 : q0 + block_q] += (ds @ k_tile) * scale
            dk[:, :, k0 : k0 + block_k] += (ds.transpose(-1, -2) @ q_tile) * scale
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)


# The autograd glue: our backward replaces the one autograd would derive, which would need the
# score matrix.
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


# The public function checks the shapes and block sizes, and the scale defaults to $1/\sqrt D$.
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
    # q must be 4-D, and k and v of one shape that shares q's batch, heads and head width.
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
