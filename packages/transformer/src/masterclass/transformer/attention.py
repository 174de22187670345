r"""# Scaled dot-product attention

Attention lets every position of a sequence read from every other position, with weights that the
sequence computes from itself. Each query vector $q_i$ is compared with every key vector $k_j$; the
scores become a probability distribution over positions with a softmax, and the output is the
weighted average of the value vectors $v_j$:

$$
\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{D}} + M\right) V,
$$

with $Q \in \mathbb{R}^{T \times D}$ (one row per query position), $K, V \in \mathbb{R}^{S \times D}$
(one row per key position) and a mask $M$ that is $0$ where a query may look and $-\infty$ where it
may not. In *self*-attention $Q$, $K$ and $V$ are three linear projections of the same sequence
($S = T$); in *cross*-attention the keys and values come from another sequence.

Why divide by $\sqrt{D}$? If the entries of $q$ and $k$ are independent with mean 0 and variance
1, then $q \cdot k = \sum_{d=1}^{D} q_d k_d$ has variance $D$. Without the scale, the scores of a
wide head are large, the softmax saturates to a one-hot vector and its gradient vanishes
(Vaswani et al., 2017, §3.2.1).

This file is the from-scratch reference that the rest of the course builds on. Its contract is the
one of `torch.nn.functional.scaled_dot_product_attention`, in value and gradient:

- shapes: `q` is `(B, H, T, D)`, `k` and `v` are `(B, H_kv, S, D)` (any number of leading batch
  dimensions works; the head axis is the third from the end);
- a boolean `attn_mask` is `True` where a query may attend; a floating `attn_mask` is added to the
  scores; either broadcasts to `(B, H, T, S)`;
- `is_causal=True` lets query $i$ see keys $j \le i$, aligned at the top-left corner as torch does
  (when $T \ne S$ the first query sees the first key only);
- `enable_gqa=True` shares each key/value head among $H / H_{kv}$ query heads (grouped-query
  attention, Ainslie et al., 2023).

One deliberate difference: a query row whose every key is masked (it happens with left padding, or
with a causal mask on a padded batch) has no distribution to average over. A naive softmax returns
`0/0 = NaN` there and the NaN poisons the whole batch's gradient. **Here such a row outputs zeros
and passes zero gradient.** `test_fully_masked_rows_are_zero` checks it.

References: Vaswani et al., *Attention Is All You Need* (2017); Bahdanau et al. (2015) for the
first attention; the PyTorch documentation of `scaled_dot_product_attention`.

Left out: memory-efficient tiled kernels (flash attention, Module 7), which compute the same function
without storing the $T \times S$ score matrix.

```python
>>> import torch
>>> q = k = v = torch.eye(2).reshape(1, 1, 2, 2)
>>> scaled_dot_product_attention(q, k, v, is_causal=True)[0, 0, 0]
tensor([1., 0.])

```

## Exercises

1. Write `attention(q, k, v)`: $\operatorname{softmax}(QK^\top/\sqrt{D})V$ for `(T, D)` tensors,
   with no mask. Check it: `uv run pytest --exercise transformer.attention`.
2. Write `causal_attention(q, k, v)`: the same with position $i$ attending only to $j \le i$
   (a mask of $-\infty$ above the diagonal, before the softmax). Check it:
   `uv run pytest --exercise transformer.attention`.
3. Why $\sqrt{D}$? Write `score_std(D, n)`: the standard deviation of $q^\top k$ measured over
   `n` pairs of vectors with independent standard normal entries (seed 0); the checker compares it
   with $\sqrt{D}$. Check it: `uv run pytest --exercise transformer.attention`.
"""

import math

import torch
from torch import Tensor

from masterclass.nn.dropout import dropout

__all__ = [
    "causal_mask",
    "padding_mask",
    "safe_softmax",
    "scaled_dot_product_attention",
]


# ## Masks
#
# A mask says which (query, key) pairs may interact. Two masks cover almost every use:
#
# - the **causal** mask of a language model, lower triangular: position $i$ may read positions
#   $j \le i$, so the model cannot peek at the token it must predict;
# - the **padding** mask of a batch of sequences of different lengths: no query may read a
#   padding position.
#
# Both are boolean with `True` meaning *may attend*, and they combine with `&`.
def causal_mask(T: int, S: int | None = None, device: torch.device | str | None = None) -> Tensor:
    """The lower-triangular mask of causal attention, `True` where query `i` may see key `j`.

    Aligned at the top-left corner, like torch's `is_causal=True`: entry `(i, j)` is `j <= i`.

    Args:
        T: number of query positions.
        S: number of key positions (default `T`).
        device: where to build the mask.

    Returns:
        `(T, S)` boolean tensor.
    """
    S = T if S is None else S
    return torch.ones(T, S, dtype=torch.bool, device=device).tril()  # (T, S)


# Padding belongs to the keys: one row per sequence, broadcast over heads and query positions.
def padding_mask(keep: Tensor) -> Tensor:
    """Turn a `(B, S)` "is a real token" mask into an attention mask `(B, 1, 1, S)`.

    Args:
        keep: `(B, S)` tensor, nonzero/`True` on real tokens and zero/`False` on padding (the
            convention of Hugging Face's `attention_mask`).

    Returns:
        `(B, 1, 1, S)` boolean mask that broadcasts over heads and query positions.
    """
    if keep.dim() != 2:
        raise ValueError(
            f"padding_mask expects a (B, S) mask of real tokens, got shape {tuple(keep.shape)}"
        )
    return keep.bool()[:, None, None, :]  # (B, 1, 1, S)


# ## A softmax that survives empty rows
#
# The softmax is computed as usual by subtracting the row maximum, which leaves the result unchanged
# ($\operatorname{softmax}(s) = \operatorname{softmax}(s - m)$) and keeps $e^{s - m} \le 1$. A row
# of only $-\infty$ has maximum $-\infty$ and $s - m$ would be `-inf - (-inf) = NaN`; we replace such a
# maximum by $0$, so the row's exponentials are all $e^{-\infty} = 0$, and divide by $1$ instead of
# by the zero sum. The row becomes all zeros, and so does its gradient. The maximum is detached: the
# softmax does not depend on it, so its gradient would be exactly zero anyway.
def safe_softmax(scores: Tensor, dim: int = -1) -> Tensor:
    """Softmax along `dim` that returns zeros (not NaN) for rows that are entirely `-inf`.

    Equal to `torch.softmax` on every row that has at least one finite entry.
    """
    m = scores.amax(dim=dim, keepdim=True).detach()
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    e = torch.exp(scores - m)
    z = e.sum(dim=dim, keepdim=True)
    return e / torch.where(z == 0, torch.ones_like(z), z)


def _check_shapes(q: Tensor, k: Tensor, v: Tensor, enable_gqa: bool) -> None:
    # Every check names the argument, its shape and what was expected, so that a wrong transpose
    # fails here with a sentence rather than deep inside a matmul.
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(
            f"q, k, v need at least 2 dims (..., T, D); got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must share the head dim D (last axis): q {tuple(q.shape)} vs k {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of key positions S (axis -2): k {tuple(k.shape)} vs v {tuple(v.shape)}"
        )
    # The heads: with grouped-query attention the query heads must be a multiple of the shared
    # key/value heads; otherwise all the leading axes must match.
    if enable_gqa:
        if q.dim() < 3:
            raise ValueError("enable_gqa=True needs a head axis: q, k, v of shape (..., H, T, D)")
        H, H_kv = q.shape[-3], k.shape[-3]
        if v.shape[-3] != H_kv or H % H_kv != 0:
            raise ValueError(
                f"with enable_gqa the number of query heads ({H}) must be a multiple of the key/value "
                f"heads (k: {k.shape[-3]}, v: {v.shape[-3]}, which must be equal)"
            )
    elif k.shape[:-2] != q.shape[:-2] or v.shape[:-2] != q.shape[:-2]:
        raise ValueError(
            f"q, k, v must have the same batch and head axes: q {tuple(q.shape)}, k {tuple(k.shape)}, "
            f"v {tuple(v.shape)} (pass enable_gqa=True to share key/value heads)"
        )


# ## The computation
#
# The whole function is five steps, each a line or two below:
#
# 1. with grouped-query attention, repeat each key/value head $H / H_{kv}$ times so that query head
#    $h$ reads key/value head $\lfloor h / (H/H_{kv}) \rfloor$ (torch's `repeat_interleave` order);
# 2. scores $S = QK^\top \cdot \text{scale}$, a $(T, S)$ matrix per head;
# 3. the mask: boolean masks set forbidden scores to $-\infty$, float masks are added;
# 4. the safe softmax along the key axis, then dropout on the weights (as torch does, whenever
#    `dropout_p > 0`; a module turns it off at evaluation by passing `0.0`);
# 5. the weighted sum of values.
def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    # The optional arguments and their defaults are torch's; pass them by name, since here
    # `is_causal` comes before `dropout_p`.
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    r"""Attention $\operatorname{softmax}(QK^\top \cdot \text{scale} + M)\,V$, from scratch.

    Same signature and semantics as `torch.nn.functional.scaled_dot_product_attention`, except that
    fully-masked query rows output zeros instead of NaN.

    Args:
        q: queries `(B, H, T, D)`.
        k: keys `(B, H_kv, S, D)`; `H_kv == H` unless `enable_gqa`.
        v: values `(B, H_kv, S, D_v)`.
        attn_mask: boolean (`True` = may attend) or float (added to the scores), broadcastable to
            `(B, H, T, S)`.
        is_causal: apply the top-left-aligned causal mask; cannot be combined with `attn_mask`.
        dropout_p: dropout probability on the attention weights.
        scale: score scale, default $1/\sqrt{D}$.
        enable_gqa: let `H` be a multiple of `H_kv` (grouped-query attention).

    Returns:
        `(B, H, T, D_v)` attended values.
    """
    # Check everything before computing: the shapes, the dropout probability, and at most one way
    # of masking.
    _check_shapes(q, k, v, enable_gqa)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(
            "pass either attn_mask or is_causal=True, not both (combine them into one boolean mask "
            "with `causal_mask(T, S) & your_mask`)"
        )
    T, S, D = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(D) if scale is None else scale

    # Step 1: share each key/value head among its group of query heads.
    if enable_gqa and k.shape[-3] != q.shape[-3]:
        group = q.shape[-3] // k.shape[-3]
        k = k.repeat_interleave(group, dim=-3)  # (B, H, S, D)
        v = v.repeat_interleave(group, dim=-3)  # (B, H, S, D_v)

    # Step 2: every query against every key.
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, T, S)

    # Step 3: the mask. A float mask is added as it is (it may hold $-\infty$ or a large negative
    # number, or a learned bias such as ALiBi's); a boolean mask forbids with $-\infty$.
    if is_causal:
        attn_mask = causal_mask(T, S, device=q.device)
    if attn_mask is not None:
        try:
            full = torch.broadcast_shapes(attn_mask.shape, scores.shape)
        except RuntimeError:
            full = None
        if full != scores.shape:
            raise ValueError(
                f"attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to the scores' shape "
                f"(B, H, T, S) = {tuple(scores.shape)}; a padding mask should be (B, 1, 1, S), a "
                f"causal one (T, S)"
            )
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask

    # Step 4: normalise over the keys.
    weights = safe_softmax(scores, dim=-1)  # (B, H, T, S)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)

    # Step 5: average the values.
    return weights @ v  # (B, H, T, D_v)
