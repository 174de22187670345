r"""# Multi-head attention

One attention computes one weighted average per query: one "question" per position. Multi-head
attention (Vaswani et al., 2017, §3.2.2) asks $H$ questions at once. The width $C$ is split into $H$
heads of $D = C / H$ channels; each head has its own projections and attends on its own, and the
heads' outputs are concatenated and mixed by an output projection:

$$
\operatorname{MHA}(X_q, X_{kv}) = \operatorname{Concat}(\text{head}_1, \dots, \text{head}_H)\, W^O,
\qquad
\text{head}_h = \operatorname{Attention}(X_q W^Q_h,\ X_{kv} W^K_h,\ X_{kv} W^V_h).
$$

The $H$ projections $W^Q_h \in \mathbb{R}^{C \times D}$ side by side are one $C \times C$ matrix,
so all heads are computed by one matrix product and a reshape: the cost is that of a single
full-width attention, but each head can specialise (one follows syntax, another the previous token,
another a coreferent).

- **Self-attention**: queries, keys and values all come from the same sequence $X$.
- **Cross-attention**: queries from the decoder, keys and values from the encoder's output (the
  encoder-decoder of T5); keys and values may then have another width (`kdim`, `vdim`).
- **Grouped-query attention** (`n_kv_heads < n_heads`): several query heads share one key/value head,
  which shrinks the key/value cache of a decoder (Module 7).

The module is equal to `torch.nn.MultiheadAttention` (with `batch_first=True`) once its weights are
copied with `MultiHeadAttention.from_torch`. Conventions differ from torch's on purpose, to be the
same everywhere in this course: **every mask is `True` where attention is allowed** (torch's
`nn.MultiheadAttention` uses `True` for *forbidden*), and the padding mask is Hugging Face's
`attention_mask` (`1` on real tokens).

Left out: the key/value cache for incremental decoding (Module 7).

## Exercises

1. Write `split_heads(x, n_heads)`: `(B, T, H D)` to `(B, H, T, D)`. Why is it a view, not a
   copy, until the transpose is made contiguous? Check it:
   `uv run pytest --exercise transformer.multi_head_attention`.
2. Write `mha(x, w_q, w_k, w_v, w_o, n_heads, causal)`: the whole self-attention forward pass.
   The checker feeds it `nn.MultiheadAttention`'s weights. Check it:
   `uv run pytest --exercise transformer.multi_head_attention`.
3. Write `combine(bool_mask, bias)`: one additive mask from a boolean mask and a float bias.
   Check it: `uv run pytest --exercise transformer.multi_head_attention`.
"""

import torch
from torch import Tensor, nn

from masterclass.transformer.attention import (
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)

__all__ = ["MultiHeadAttention", "combine_masks"]


# ## Combining masks
#
# A block may receive up to three constraints at once: causality, padding, and an arbitrary mask or
# additive bias (T5's relative position bias, ALiBi). Boolean masks combine with a logical *and*.
# As soon as one of them is an additive float mask, the boolean ones become additive too
# ($0$ where allowed, $-\infty$ where not) and everything is summed.
def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Combine boolean (`True` = allowed) and additive float masks into one mask, or `None`.

    All masks must broadcast to the scores' shape `(B, H, T, S)`.
    """
    present = [m for m in masks if m is not None]
    if not present:
        return None
    # All boolean: one logical *and* keeps the cheap boolean form.
    if all(m.dtype == torch.bool for m in present):
        out = present[0]
        for m in present[1:]:
            out = out & m
        return out
    # Otherwise each boolean mask becomes $0 / -\infty$ in the float masks' dtype, and all are
    # summed.
    dtype = next(m.dtype for m in present if m.dtype != torch.bool)
    out = None
    for m in present:
        if m.dtype == torch.bool:
            m = torch.zeros(m.shape, dtype=dtype, device=m.device).masked_fill(~m, float("-inf"))
        out = m if out is None else out + m
    return out


# The module: four projections around the fused attention kernel, with grouped-query heads and
# cross-attention as options.
class MultiHeadAttention(nn.Module):
    r"""Multi-head self- or cross-attention on batch-first tensors.

    Args:
        d_model: width `C` of the queries and of the output.
        n_heads: number of query heads `H`; must divide `d_model` (unless `d_head` is given).
        n_kv_heads: number of key/value heads `H_kv` (default `n_heads`); must divide `n_heads`.
        bias: biases on the four projections.
        dropout: dropout probability on the attention weights (training only).
        kdim, vdim: widths of the key and value inputs in cross-attention (default `d_model`).
        d_head: per-head width `D` (default `d_model // n_heads`); T5 sets it independently.
        scale: score scale (default $1/\sqrt{D}$; T5 uses `1.0`).

    Shapes: `query (B, T, C)`, `key (B, S, kdim)`, `value (B, S, vdim)` → `(B, T, C)`.

    >>> mha = MultiHeadAttention(16, 4)
    >>> mha(torch.zeros(2, 5, 16), is_causal=True).shape
    torch.Size([2, 5, 16])
    """

    # The defaults give the classic layer; `n_kv_heads`, `d_head` and `scale` cover GQA and T5.
    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_kv_heads: int | None = None,
        bias: bool = True,
        dropout: float = 0.0,
        kdim: int | None = None,
        vdim: int | None = None,
        d_head: int | None = None,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        # The head arithmetic must work out: the query heads tile `d_model` (unless `d_head` is
        # given), and each key/value head serves a whole group of query heads.
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if n_heads <= 0 or n_kv_heads <= 0:
            raise ValueError(
                f"n_heads and n_kv_heads must be positive, got {n_heads}, {n_kv_heads}"
            )
        if d_head is None and d_model % n_heads != 0:
            raise ValueError(
                f"n_heads={n_heads} does not divide d_model={d_model}: each head gets d_model/n_heads "
                f"channels; choose n_heads among the divisors of {d_model} or pass d_head"
            )
        if n_heads % n_kv_heads != 0:
            raise ValueError(
                f"n_kv_heads={n_kv_heads} must divide n_heads={n_heads} (each key/value head serves a "
                f"whole group of query heads)"
            )
        # Keys and values may come from inputs of other widths (cross-attention); each projection
        # maps to heads times head width.
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.d_head = d_model // n_heads if d_head is None else d_head
        self.scale = scale
        kdim = d_model if kdim is None else kdim
        vdim = d_model if vdim is None else vdim
        inner, inner_kv = n_heads * self.d_head, n_kv_heads * self.d_head
        # The per-head matrices $W^Q_h$ side by side: one `Linear` per role.
        self.q_proj = nn.Linear(d_model, inner, bias=bias)
        self.k_proj = nn.Linear(kdim, inner_kv, bias=bias)
        self.v_proj = nn.Linear(vdim, inner_kv, bias=bias)
        self.out_proj = nn.Linear(inner, d_model, bias=bias)
        self.dropout_p = dropout

    # Splitting heads is a reshape of the channel axis, `C = H * D`, then moving the head axis
    # before time so that each head is an independent `(T, D)` problem for the batched matmul.
    def _split(self, x: Tensor, n: int) -> Tensor:
        B, T, _ = x.shape
        return x.view(B, T, n, self.d_head).transpose(1, 2)  # (B, n, T, D)

    # The forward pass: check, project, split into heads, attend, merge the heads, project out.
    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        attn_mask: Tensor | None = None,
        attention_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        """Attend from `query` to `key`/`value` (self-attention when they are omitted).

        Args:
            query: `(B, T, C)`.
            key: `(B, S, kdim)`, default `query`.
            value: `(B, S, vdim)`, default `key`.
            attn_mask: boolean (`True` = allowed) or additive float mask broadcastable to
                `(B, H, T, S)`, e.g. a `(T, S)` pattern or a `(1, H, T, S)` position bias.
            attention_mask: `(B, S)` padding mask, nonzero on real key tokens.
            is_causal: add the causal mask (query `i` sees keys `j <= i`).

        Returns:
            `(B, T, C)`.
        """
        # Check the shapes; omitted keys and values mean self-attention.
        if query.dim() != 3 or query.shape[-1] != self.d_model:
            raise ValueError(
                f"query must be (B, T, d_model={self.d_model}), got shape {tuple(query.shape)}"
            )
        key = query if key is None else key
        value = key if value is None else value
        B, T, _ = query.shape
        S = key.shape[1]
        if attention_mask is not None and tuple(attention_mask.shape) != (B, S):
            raise ValueError(
                f"attention_mask must be (B, S) = ({B}, {S}) with 1 on real tokens, got shape "
                f"{tuple(attention_mask.shape)}"
            )
        # Project and split into heads (keys and values may have fewer: grouped-query attention),
        # fold the three masks into one, and let torch's fused kernel attend.
        q = self._split(self.q_proj(query), self.n_heads)  # (B, H, T, D)
        k = self._split(self.k_proj(key), self.n_kv_heads)  # (B, H_kv, S, D)
        v = self._split(self.v_proj(value), self.n_kv_heads)  # (B, H_kv, S, D)
        mask = combine_masks(
            causal_mask(T, S, device=query.device) if is_causal else None,
            padding_mask(attention_mask) if attention_mask is not None else None,
            attn_mask,
        )
        y = scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout_p if self.training else 0.0,
            scale=self.scale,
            enable_gqa=self.n_kv_heads != self.n_heads,
        )  # (B, H, T, D)
        # Merging heads is the inverse reshape: heads back next to channels, then flattened.
        y = y.transpose(1, 2).reshape(B, T, self.n_heads * self.d_head)  # (B, T, H*D)
        return self.out_proj(y)  # (B, T, C)

    # ## Loading torch's weights
    #
    # `nn.MultiheadAttention` stores $W^Q, W^K, W^V$ stacked in one `in_proj_weight` of shape
    # $(3C, C)$ when keys and values have the query's width, or as three separate matrices otherwise.
    # Both store weights as `(out, in)`, like `nn.Linear`, so copying is slicing.
    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> "MultiHeadAttention":
        """Build a `MultiHeadAttention` with the weights of a `torch.nn.MultiheadAttention`."""
        C = mha.embed_dim
        ours = cls(
            C,
            mha.num_heads,
            bias=mha.in_proj_bias is not None,
            dropout=mha.dropout,
            kdim=mha.kdim,
            vdim=mha.vdim,
        ).to(mha.out_proj.weight.dtype)
        # Copy the three input projections (split from the stacked matrix when there is one), their
        # biases, and the output projection.
        with torch.no_grad():
            if mha._qkv_same_embed_dim:
                wq, wk, wv = mha.in_proj_weight.split(C)
            else:
                wq, wk, wv = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
            for proj, w in ((ours.q_proj, wq), (ours.k_proj, wk), (ours.v_proj, wv)):
                proj.weight.copy_(w)
            if mha.in_proj_bias is not None:
                for proj, b in zip(
                    (ours.q_proj, ours.k_proj, ours.v_proj), mha.in_proj_bias.split(C)
                ):
                    proj.bias.copy_(b)
            ours.out_proj.weight.copy_(mha.out_proj.weight)
            if mha.out_proj.bias is not None:
                ours.out_proj.bias.copy_(mha.out_proj.bias)
        return ours
