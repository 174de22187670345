r"""# Sparse transformers: factorised attention patterns

Full attention computes $T^2$ scores; at $T = 16\,384$ that is 268 million per head per layer.
Child et al. (2019, *Generating Long Sequences with Sparse Transformers*) observed that trained
attention maps are mostly sparse and regular, and replaced the full causal pattern by two sparse
ones, each of about $T\sqrt{T}$ entries, whose **composition** still connects every position to
every earlier one in two steps. With stride (or block) $l \approx \sqrt{T}$:

- **strided** (for data with a period, like images): head A attends to the previous $l$ positions
  ($i - l < j \le i$), head B to every $l$-th position before ($(i - j) \bmod l = 0$). Any $j \le i$
  is reached by a B-step to the right column, then an A-step.
- **fixed** (for text): head A attends within its own block of $l$ positions
  ($\lfloor j / l \rfloor = \lfloor i / l \rfloor$), head B to the last $c$ positions of every block
  ($j \bmod l \ge l - c$), "summary" positions that carry each block's content forward.

The patterns are plain boolean masks (`True` = attend) usable with any attention in this course.
A mask alone saves nothing, though: the dense computation still makes all $T^2$ scores and then
throws most away. The saving comes from **block-sparse computation**: cut the $T \times T$ score
matrix into $b \times b$ tiles, find which tiles contain any allowed entry (the *layout*), and
compute only those; the fine mask is then applied inside each tile. `block_sparse_attention` does
that and equals dense masked attention (`test_sparse_attention.py`); `score_entries` counts the
entries each computes. Tiles must be smaller than the stride: a strided column or a fixed summary
column touches one tile per tile-row, so with tiles of $b$ and stride $l$ the cost is about
$T^2 b / l$; with $l = \sqrt{T}$ and a fixed hardware tile ($b = 8$ here) that is $b\,T^{1.5}$.
The figure shows the patterns and the measured count against $T$: dense causal attention grows as
$T^2/2$, the block-sparse factorised patterns as $T^{1.5}$ (the fraction computed halves each time
$T$ quadruples: 59%, 30%, 15% of the dense count at $T$ = 256, 1024, 4096 for the strided pattern).

![Sparse attention patterns and the number of scores computed](figures/sparse_patterns.png)

Left out: the custom GPU kernels that make block-sparse attention fast in wall-clock time; here
the loop over query tiles shows the algorithm and counts the work.

## Exercises

1. Write `strided(T, stride)`: the local and strided causal masks of Child et al. The checker
   also verifies that two layers reach every earlier position: prove it. Check it:
   `uv run pytest --exercise transformer.sparse_attention`.
2. Write `block_scores(mask, block)`: the scores a block-sparse kernel computes for a mask. Why
   is it larger than the mask's allowed entries, and when are they equal? Check it:
   `uv run pytest --exercise transformer.sparse_attention`.
"""

import math

import torch
from torch import Tensor

from masterclass.transformer.attention import safe_softmax

__all__ = [
    "block_layout",
    "block_sparse_attention",
    "fixed_pattern",
    "score_entries",
    "strided_pattern",
]


def _positions(T: int, device=None) -> tuple[Tensor, Tensor]:
    i = torch.arange(T, device=device)[:, None]  # (T, 1) queries
    j = torch.arange(T, device=device)[None, :]  # (1, T) keys
    return i, j


# Strided attention (Child et al., 2019): one head sees the last `stride` positions, the other
# every `stride`-th position before.
def strided_pattern(T: int, stride: int, device=None) -> tuple[Tensor, Tensor]:
    """The two causal masks `(T, T)` of strided attention: (local window, every `stride`-th).

    >>> local, strided = strided_pattern(4, stride=2)
    >>> local.int().tolist(), strided.int().tolist()
    ([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], [[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1]])
    """
    if stride <= 0:
        raise ValueError(f"stride must be positive, got {stride}")
    i, j = _positions(T, device)
    causal = j <= i
    local = causal & (i - j < stride)
    strided = causal & ((i - j) % stride == 0)
    return local, strided


# Fixed attention: one head within its own block, the other at the last `c` positions of every
# block, which act as the blocks' summaries.
def fixed_pattern(T: int, block: int, c: int = 1, device=None) -> tuple[Tensor, Tensor]:
    """The two causal masks `(T, T)` of fixed attention: (own block, last `c` of every block)."""
    if block <= 0 or not 0 < c <= block:
        raise ValueError(f"need block > 0 and 0 < c <= block, got block={block}, c={c}")
    i, j = _positions(T, device)
    causal = j <= i
    same_block = causal & (i // block == j // block)
    summary = causal & (j % block >= block - c)
    return same_block, summary


# The tile view: a block-sparse kernel computes whole `block × block` tiles, those holding at least
# one allowed entry.
def block_layout(mask: Tensor, block: int) -> Tensor:
    """Which `block × block` tiles of a `(T, S)` mask contain an allowed entry: `(T/b, S/b)` bool."""
    T, S = mask.shape[-2:]
    if T % block or S % block:
        raise ValueError(f"block={block} must divide the mask's sides ({T}, {S}); pad the sequence")
    tiles = mask.reshape(*mask.shape[:-2], T // block, block, S // block, block)
    return tiles.any(dim=-1).any(dim=-2)  # (T/b, S/b)


def score_entries(mask: Tensor, block: int | None = None) -> int:
    """Scores a computation makes: allowed entries of `mask`, or, with `block`, all entries of the
    tiles that block-sparse computation visits."""
    if block is None:
        return int(mask.sum())
    return int(block_layout(mask, block).sum()) * block * block


# ## Block-sparse computation
#
# For each tile-row of queries, gather the key and value tiles its layout row selects, compute the
# $b \times (m b)$ scores of those tiles only, apply the fine mask inside them, and normalise. Every
# key that the mask allows lies in a selected tile, so the softmax sees exactly the scores of the
# dense computation, minus the ones it would have masked anyway: the result is the same.
def block_sparse_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor, block: int, scale: float | None = None
) -> Tensor:
    """Attention restricted to `mask` `(T, S)`, computing only the tiles of its block layout.

    Shapes: `q (B, H, T, D)`, `k, v (B, H, S, D)` → `(B, H, T, D)`. Equal to dense attention with
    `attn_mask=mask`; rows with no allowed key output zeros.
    """
    B, H, T, D = q.shape
    S = k.shape[-2]
    if mask.shape != (T, S):
        raise ValueError(f"mask must be (T, S) = ({T}, {S}), got {tuple(mask.shape)}")
    layout = block_layout(mask, block)  # (T/b, S/b)
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    kt = k.view(B, H, S // block, block, D)  # (B, H, S/b, b, D)
    vt = v.view(B, H, S // block, block, D)  # (B, H, S/b, b, D)
    out = torch.zeros_like(q)  # (B, H, T, D)
    # For each tile-row of queries: gather its selected key and value tiles, mask inside them, and
    # normalise. A tile-row with nothing selected stays zero.
    for qb in range(T // block):
        cols = layout[qb].nonzero().squeeze(-1)  # (m,) selected key tiles
        if cols.numel() == 0:
            continue
        rows = slice(qb * block, (qb + 1) * block)
        keys = kt[:, :, cols].reshape(B, H, -1, D)  # (B, H, m*b, D)
        vals = vt[:, :, cols].reshape(B, H, -1, D)  # (B, H, m*b, D)
        key_idx = (cols[:, None] * block + torch.arange(block, device=q.device)).reshape(-1)
        fine = mask[rows][:, key_idx]  # (b, m*b)
        scores = (q[:, :, rows] @ keys.transpose(-2, -1)) * scale  # (B, H, b, m*b)
        scores = scores.masked_fill(~fine, float("-inf"))
        out[:, :, rows] = safe_softmax(scores) @ vals  # (B, H, b, D)
    return out
