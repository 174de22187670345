"""# Sliding-window and global attention (Longformer)

Most of what a token needs is nearby. The Longformer (Beltagy et al., 2020, *Longformer: The
Long-Document Transformer*) lets each token attend to a **sliding window** of $w$ neighbours on
each side, $|i - j| \\le w$, which costs $O(T w)$ instead of $O(T^2)$, and adds a few **global**
tokens (the `[CLS]` token, the question in question answering) that attend to everything and that
everything attends to. Stacking $L$ windowed layers grows the receptive field to $L w$ tokens, as
stacked convolutions do; the global tokens carry information across the whole sequence in one
step.

The mask is easy (`sliding_window_mask`); the saving needs a computation that never forms the
$T \\times T$ matrix. `sliding_window_attention` gathers, for every query, the $2w + 1$ keys of its
window (an `unfold` of the zero-padded keys: a $(T, 2w+1)$ band of scores instead of $(T, T)$),
adds the scores against the $G$ global keys, normalises over both, and computes the $G$ global
queries' rows densely. Its cost is $O(T (2w + 1 + G) + G T)$ scores, and it equals dense attention
with the same mask (`test_longformer.py`). The same windowed attention with $w$ keys to the left
only is the sliding-window attention of Mistral and Gemma (Module 7).

As an approximation of full attention, the window's error is the attention mass that falls
outside it: small when attention is local, large when it is not. The figure (page
`linear_attention`) plots it against the cost for a range of $w$.

![Error against exact softmax attention vs cost, for each efficient attention](figures/efficient_attention.png)

Left out: dilated windows, different window sizes per layer, the custom CUDA kernel.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from masterclass.transformer.attention import safe_softmax, scaled_dot_product_attention

__all__ = ["sliding_window_attention", "sliding_window_flops", "sliding_window_mask"]


def sliding_window_mask(
    T: int, window: int, global_tokens: list[int] | Tensor | None = None, device=None
) -> Tensor:
    """`(T, T)` mask: `|i - j| <= window`, plus full rows and columns for the global tokens."""
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
    W = 2 * window + 1
    # The band: pad `window` positions on each side, then every query's window is a slice.
    k_band = F.pad(k, (0, 0, window, window)).unfold(-2, W, 1)  # (B, H, T, D, W)
    v_band = F.pad(v, (0, 0, window, window)).unfold(-2, W, 1)  # (B, H, T, D_v, W)
    scores = torch.einsum("bhtd,bhtdw->bhtw", q, k_band) * scale  # (B, H, T, W)
    # Offsets that fall off either end of the sequence are padding, not keys.
    pos = torch.arange(T, device=q.device)[:, None] + torch.arange(
        -window, window + 1, device=q.device
    )
    valid = (pos >= 0) & (pos < T)  # (T, W)
    g = torch.as_tensor(
        [] if global_tokens is None else global_tokens, dtype=torch.long, device=q.device
    )
    if g.numel():
        # A global key inside the window is already counted there: drop it from the band.
        valid &= ~torch.isin(pos, g)
    scores = scores.masked_fill(~valid, float("-inf"))
    if g.numel():
        g_scores = (q @ k[:, :, g].transpose(-2, -1)) * scale  # (B, H, T, G)
        weights = safe_softmax(torch.cat([scores, g_scores], dim=-1))  # (B, H, T, W + G)
        out = torch.einsum("bhtw,bhtdw->bhtd", weights[..., :W], v_band)
        out = out + weights[..., W:] @ v[:, :, g]  # (B, H, T, D_v)
        # Global queries see everything: their rows are computed densely, G rows of T scores.
        out = out.index_copy(-2, g, scaled_dot_product_attention(q[:, :, g], k, v))
        return out
    return torch.einsum("bhtw,bhtdw->bhtd", safe_softmax(scores), v_band)


def sliding_window_flops(T: int, D: int, window: int, n_global: int = 0) -> int:
    """Multiply-adds: $2 D$ per score, $T(2w + 1 + G)$ band and global-key scores, $G T$ global rows."""
    return 2 * D * (T * (2 * window + 1 + n_global) + n_global * T)
