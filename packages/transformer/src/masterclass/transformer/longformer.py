r"""# Sliding-window and global attention (Longformer)

Most of what a token needs is nearby. The Longformer (Beltagy et al., 2020, *Longformer: The
Long-Document Transformer*) lets each token attend to a **sliding window** of $w$ neighbours on
each side, $|i - j| \le w$, which costs $O(T w)$ instead of $O(T^2)$, and adds a few **global**
tokens (the `[CLS]` token, the question in question answering) that attend to everything and that
everything attends to. Stacking $L$ windowed layers grows the receptive field to $L w$ tokens, as
stacked convolutions do; the global tokens carry information across the whole sequence in one
step.

The mask is easy (`sliding_window_mask`); the saving needs a computation that never forms the
$T \times T$ matrix. `sliding_window_attention` uses the Longformer's "sliding chunks": cut the
sequence into chunks of $w$ queries; every key within distance $w$ of a chunk lies in the chunk or
one of its two neighbours, so each chunk multiplies its queries by those $3w$ keys (a dense
matmul), then masks the scores outside the band. That computes $3w$ scores per query for the
$2w + 1$ it needs, which buys dense matrix products instead of gathers. The $G$ global keys'
scores join the band's before the softmax, and the $G$ global queries' rows are computed densely.
Cost: $O(T (3w + G) + G T)$ scores instead of $T^2$, and it equals dense attention with the same
mask (`test_sliding_window_equals_masked_sdpa` in `test_efficient_attention.py`). The same windowed attention with
$w$ keys to the left only is the sliding-window attention of Mistral and Gemma (Module 7).

As an approximation of full attention, the window's error is the attention mass that falls
outside it: small when attention is local, large when it is not. The figure (page
`linear_attention`) plots it against the cost for a range of $w$.

![Error against exact softmax attention vs cost, for each efficient attention](figures/efficient_attention.png)

Left out: dilated windows, different window sizes per layer, the custom CUDA kernel.

## Exercises

1. Write `window_mask(T, window, global_tokens)`: the `(T, T)` Longformer mask. Check it:
   `uv run pytest --exercise transformer.longformer`.
2. Write `allowed_scores(T, window, n_global)`: how many scores the mask allows, in closed form,
   with the first `n_global` tokens global. How does it grow with $T$ at fixed $w$ and $n_g$?
   Check it: `uv run pytest --exercise transformer.longformer`.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from masterclass.transformer.attention import safe_softmax, scaled_dot_product_attention

__all__ = ["sliding_window_attention", "sliding_window_flops", "sliding_window_mask"]


# The mask form, the reference for small `T`: a band of width `2w + 1` around the diagonal, plus
# full rows and columns for the global tokens.
def sliding_window_mask(
    T: int, window: int, global_tokens: list[int] | Tensor | None = None, device=None
) -> Tensor:
    """`(T, T)` mask: `|i - j| <= window`, plus full rows and columns for the global tokens.

    >>> sliding_window_mask(5, window=1).int().tolist()
    [[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 0, 1, 1]]
    """
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    i = torch.arange(T, device=device)[:, None]
    j = torch.arange(T, device=device)[None, :]
    mask = (i - j).abs() <= window  # (T, T)
    if global_tokens is not None and len(global_tokens) > 0:
        g = torch.as_tensor(global_tokens, device=device)
        if g.min() < 0 or g.max() >= T:
            raise ValueError(f"global token positions must be in [0, {T}), got {g.tolist()}")
        mask[g, :] = True
        mask[:, g] = True
    return mask


# The banded form computes only the band, chunk by chunk, in $O(T w)$ time and memory.
def sliding_window_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    window: int,
    global_tokens: list[int] | Tensor | None = None,
) -> Tensor:
    """Banded attention over `|i - j| <= window`, plus global tokens, without a `(T, T)` matrix.

    Shapes: `q, k (B, H, T, D)`, `v (B, H, T, D_v)` → `(B, H, T, D_v)`.
    """
    T, D = q.shape[-2:]
    if k.shape[-2] != T:
        raise ValueError(
            f"sliding-window attention is self-attention: T == S, got {T} and {k.shape[-2]}"
        )
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    scale = 1.0 / math.sqrt(D)
    # Chunks of c = w queries; chunk n needs keys from chunk n - 1 to chunk n + 1. The sequence is
    # zero-padded to n_chunks * c, and by one empty chunk at each end.
    c = max(window, 1)
    n = -(-T // c)
    pad = n * c - T
    qc = F.pad(q, (0, 0, 0, pad)).unflatten(-2, (n, c))  # (B, H, n, c, D)

    def three_chunks(x: Tensor) -> Tensor:
        xc = F.pad(x, (0, 0, c, pad + c)).unflatten(-2, (n + 2, c))  # (B, H, n+2, c, D)
        return torch.cat([xc[:, :, :-2], xc[:, :, 1:-1], xc[:, :, 2:]], dim=-2)  # (B, H, n, 3c, D)

    keys, vals = three_chunks(k), three_chunks(v)
    scores = (qc @ keys.transpose(-2, -1)) * scale  # (B, H, n, c, 3c)
    # Which of the 3c keys are inside the window, and real (not padding)?
    chunk_start = torch.arange(n, device=q.device)[:, None] * c  # (n, 1)
    q_pos = chunk_start + torch.arange(c, device=q.device)  # (n, c)
    k_pos = chunk_start - c + torch.arange(3 * c, device=q.device)  # (n, 3c)
    valid = (q_pos[:, :, None] - k_pos[:, None, :]).abs() <= window  # (n, c, 3c)
    valid &= ((k_pos >= 0) & (k_pos < T))[:, None, :]
    g = torch.as_tensor(
        [] if global_tokens is None else global_tokens, dtype=torch.long, device=q.device
    )
    if g.numel():
        # A global key inside the window is counted with the global keys: drop it from the band.
        valid &= ~torch.isin(k_pos, g)[:, None, :]
    scores = scores.masked_fill(~valid, float("-inf"))
    if g.numel():
        g_scores = (qc @ k[:, :, g].transpose(-2, -1)[:, :, None]) * scale  # (B, H, n, c, G)
        weights = safe_softmax(torch.cat([scores, g_scores], dim=-1))  # (B, H, n, c, 3c + G)
        out = weights[..., : 3 * c] @ vals + weights[..., 3 * c :] @ v[:, :, g][:, :, None]
    else:
        out = safe_softmax(scores) @ vals  # (B, H, n, c, D_v)
    out = out.flatten(-3, -2)[:, :, :T]  # (B, H, T, D_v)
    if g.numel():
        # Global queries see everything: their rows are computed densely, G rows of T scores.
        out = out.index_copy(-2, g, scaled_dot_product_attention(q[:, :, g], k, v))
    return out


def sliding_window_flops(T: int, D: int, window: int, n_global: int = 0) -> int:
    """Multiply-adds: $2 D$ per score; $3w + G$ scores per query (three chunks and the global
    keys), and $T$ per global query.

    >>> sliding_window_flops(T=4096, D=64, window=256) / (2 * 4096 * 4096 * 64)
    0.1875
    """
    return 2 * D * (T * (3 * max(window, 1) + n_global) + n_global * T)
