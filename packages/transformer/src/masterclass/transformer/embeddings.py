r"""# Input embeddings and positional embeddings

A transformer reads vectors, not token ids: the first layer looks each id up in a table of
$V$ learned vectors of width $C$. Then comes the one thing attention cannot do by itself: know
*where* a token is. Attention without positions is **permutation-equivariant**: permute the input
tokens and the outputs of an encoder are permuted the same way, since every score $q_i \cdot k_j$
depends only on the two tokens, not on $i$ and $j$. "dog bites man" and "man bites dog" would get
the same representations. `test_positions_break_permutation_equivariance` checks both halves of
that statement.

The remedy is to add a position-dependent vector to each token's embedding,
$h_t = E[x_t] + P[t]$, with $P$ either

- **learned**, one trainable vector per position (BERT, GPT-2): as expressive as possible up to the
  table's length $T_{\max}$, and undefined beyond it;
- **sinusoidal** (Vaswani et al., 2017): $P[t, 2i] = \sin(t\,\omega_i)$,
  $P[t, 2i+1] = \cos(t\,\omega_i)$ with $\omega_i = 10000^{-2i/C}$, fixed, defined for every
  position, and such that $P[t+k]$ is a rotation of $P[t]$ that depends only on $k$.

Both tables are Module 5's (`masterclass.nlp.positional`). The *relative* schemes, which bias the
attention scores by the offset $j - i$ instead of changing the input, live with their models:
T5's buckets in `t5.py`, RoPE and ALiBi in Module 7.

BERT adds a third table, the **segment** (token-type) embedding, which tells sentence A from
sentence B in a pair, and normalizes the sum; GPT-2 only adds the two. The class below covers both
and is equal to Hugging Face's `BertEmbeddings` with copied weights.

A sequence longer than the position table is an error with a clear message, not an index error
from deep inside `torch.embedding`.

## Exercises

1. Write `bert_input(ids, types, tokens, positions, segments, gain, bias, eps)`: BERT's input
   layer from its three tables and its LayerNorm. Check it:
   `uv run pytest --exercise transformer.embeddings`.
2. Write `order_blind(attn, x, perm)`: whether an attention function commutes with a permutation
   of the tokens. Prove that plain self-attention does; why does a causal mask break it, and
   what does an encoder need instead? Check it: `uv run pytest --exercise transformer.embeddings`.
"""

import math

import torch
from torch import Tensor, nn

from masterclass.nlp.positional import LearnedPositionalEmbedding, sinusoidal_positions
from masterclass.nn.dropout import Dropout
from masterclass.nn.normalization import LayerNorm

__all__ = ["Embeddings"]


# One module for every model's input layer: BERT, GPT-2 and the original Transformer differ only
# in its options.
class Embeddings(nn.Module):
    r"""Token + position (+ segment) embeddings, optionally normalized.

    Args:
        vocab_size: number of token ids `V`.
        d_model: width `C`.
        max_positions: length of the position table `T_max`.
        positions: `"learned"`, `"sinusoidal"` or `"none"` (for models with relative positions).
        n_segments: number of segment (token-type) ids; 0 for none.
        norm_eps: if not `None`, apply a `LayerNorm` with this epsilon to the sum (BERT: 1e-12).
        dropout: dropout on the output.
        scale_tokens: multiply token embeddings by $\sqrt{C}$, as the original Transformer does.
        padding_idx: a token id (the padding token) whose embedding receives no gradient from the
            input lookup, as in `nn.Embedding(padding_idx=...)` (BERT: 0).

    Shapes: `input_ids (B, T)`, `token_type_ids (B, T)` → `(B, T, C)`.

    >>> emb = Embeddings(100, 16, max_positions=8, positions="sinusoidal")
    >>> emb(torch.tensor([[1, 2, 3]])).shape
    torch.Size([1, 3, 16])
    """

    # The defaults give GPT-2's input layer: tokens plus learned positions, no segments, no norm.
    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        max_positions: int,
        positions: str = "learned",
        n_segments: int = 0,
        norm_eps: float | None = None,
        dropout: float = 0.0,
        scale_tokens: bool = False,
        padding_idx: int | None = None,
    ) -> None:
        super().__init__()
        if positions not in ("learned", "sinusoidal", "none"):
            raise ValueError(
                f"positions must be 'learned', 'sinusoidal' or 'none', got {positions!r}"
            )
        # Each option adds one part: the token table always; positions, segments and the norm only
        # when asked for.
        self.d_model, self.max_positions, self.kind = d_model, max_positions, positions
        self.scale = math.sqrt(d_model) if scale_tokens else 1.0
        self.tokens = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)  # (V, C)
        self.positions = (
            LearnedPositionalEmbedding(max_positions, d_model) if positions == "learned" else None
        )
        # A fixed table is a buffer: it moves with `.to(device)` but is not a parameter, and is not
        # saved (it is recomputed from its formula).
        table = sinusoidal_positions(max_positions, d_model) if positions == "sinusoidal" else None
        self.register_buffer("sinusoidal", table, persistent=False)  # (T_max, C) or None
        self.segments = nn.Embedding(n_segments, d_model) if n_segments > 0 else None
        self.norm = LayerNorm(d_model, eps=norm_eps) if norm_eps is not None else None
        self.dropout = Dropout(dropout)

    def forward(
        self, input_ids: Tensor, token_type_ids: Tensor | None = None, offset: int = 0
    ) -> Tensor:
        """Embed `input_ids` `(B, T)` at positions `offset .. offset + T - 1`; returns `(B, T, C)`."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (B, T), got shape {tuple(input_ids.shape)}")
        T = input_ids.shape[1]
        if self.kind != "none" and offset + T > self.max_positions:
            raise ValueError(
                f"sequence of {T} tokens (from position {offset}) is longer than the position table "
                f"of {self.max_positions} positions; truncate the input or build the model with a "
                f"larger max_positions"
            )
        # Sum the parts: scaled tokens, the positions from `offset` on (learned or fixed), the
        # segments (all 0 when none are given), then the optional norm and dropout.
        h = self.tokens(input_ids) * self.scale  # (B, T, C)
        if self.positions is not None:
            h = h + self.positions(T, offset)  # (T, C) broadcast over B
        elif self.sinusoidal is not None:
            h = h + self.sinusoidal[offset : offset + T].to(h.dtype)  # (T, C)
        if self.segments is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            h = h + self.segments(token_type_ids)  # (B, T, C)
        if self.norm is not None:
            h = self.norm(h)
        return self.dropout(h)
