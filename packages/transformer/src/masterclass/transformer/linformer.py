r"""# Linformer: low-rank projection of keys and values

Wang et al. (2020, *Linformer: Self-Attention with Linear Complexity*) observed that the
$T \times S$ attention matrix $P = \operatorname{softmax}(QK^\top/\sqrt{D})$ of trained models has a
rapidly decaying spectrum: it is close to a matrix of low rank $r \ll S$. They exploit it by
projecting the **sequence axis** of the keys and values down to $r$ rows before attending:

$$
\operatorname{Attention}(Q, EK, FV) = \operatorname{softmax}\!\left(\frac{Q (EK)^\top}{\sqrt D}\right) FV,
\qquad E, F \in \mathbb{R}^{r \times S}.
$$

Now the score matrix is $T \times r$: cost $O(T r D)$ plus $O(r S D)$ for the projections, linear in
length for a fixed $r$. In the paper $E$ and $F$ are learned (and may be shared across heads and
layers). Two consequences to keep in mind: the projection mixes positions, so **causal masking is
impossible** (a projected key summarises future tokens too), and $E, F$ have a fixed input length
$S$, so sequences must be padded to it.

`segment_mean_projection` gives an untrained, length-generic choice: row $r$ averages the $r$-th
of $r$ equal segments of the sequence (pooling, one of the paper's ablations). With $r = S$ it is
the identity and attention is exact; the figure (page `linear_attention`) plots the error against
the cost as $r$ shrinks. `LinformerSelfAttention` is the trainable version with learned $E, F$.

![Error against exact softmax attention vs cost, for each efficient attention](figures/efficient_attention.png)

Left out: sharing $E, F$ across heads and layers, non-uniform projections.

## Exercises

1. Write `linformer(q, k, v, E, Fp)`: attention over the projected keys $E k$ and values $F v$.
   Check it: `uv run pytest --exercise transformer.linformer`.
2. Write `segment_mean(r, S)`: the `(r, S)` projection that averages $r$ equal segments. For which
   inputs is Linformer with it exact? Check it: `uv run pytest --exercise transformer.linformer`.
"""

import torch
from torch import Tensor, nn

from masterclass.transformer.attention import scaled_dot_product_attention

__all__ = [
    "LinformerSelfAttention",
    "linformer_attention",
    "linformer_flops",
    "segment_mean_projection",
]


# The core: project the `S` keys and values down to `r` rows, then attend as usual, at a cost
# linear in `S`.
def linformer_attention(q: Tensor, k: Tensor, v: Tensor, E: Tensor, F: Tensor) -> Tensor:
    """Attention of `q` over the projected keys `E k` and values `F v`.

    Shapes: `q (B, H, T, D)`, `k (B, H, S, D)`, `v (B, H, S, D_v)`, `E, F (r, S)` →
    `(B, H, T, D_v)`.
    """
    S = k.shape[-2]
    if E.shape[-1] != S or F.shape[-1] != S:
        raise ValueError(
            f"projections must be (r, S) with S = {S} key positions, got E {tuple(E.shape)} and "
            f"F {tuple(F.shape)}; pad the sequence to the projection's length"
        )
    k_low = E.to(k.dtype) @ k  # (B, H, r, D)
    v_low = F.to(v.dtype) @ v  # (B, H, r, D_v)
    return scaled_dot_product_attention(q, k_low, v_low)


# A fixed projection for experiments: row `i` averages the `i`-th segment of `S / r` positions.
# The cost model counts both projections and the attention over `r` keys.
def segment_mean_projection(r: int, S: int) -> Tensor:
    """`(r, S)` matrix whose row `i` averages the `i`-th of `r` equal segments of `S` positions."""
    if not 0 < r <= S or S % r:
        raise ValueError(f"r must divide S and be in (0, S], got r={r}, S={S}")
    return torch.eye(r, dtype=torch.float64).repeat_interleave(S // r, dim=1) * (r / S)


def linformer_flops(T: int, S: int, D: int, r: int) -> int:
    """Multiply-adds: two projections $r S D$, then attention over $r$ keys, $2 T r D$.

    >>> linformer_flops(T=4096, S=4096, D=64, r=256) / (2 * 4096 * 4096 * 64)  # vs exact attention's 2 T S D
    0.125
    """
    return 2 * r * S * D + 2 * T * r * D


# The module learns one pair `E`, `F` shared by all heads, for sequences up to `max_len`; a
# shorter input is zero-padded to that length and only its own queries are kept.
class LinformerSelfAttention(nn.Module):
    """Multi-head self-attention with learned length projections `E`, `F` of shape `(r, max_len)`.

    Shapes: `x (B, T, C)` with `T <= max_len` (zero-padded to `max_len`) → `(B, T, C)`.
    """

    def __init__(self, d_model: int, n_heads: int, max_len: int, r: int) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} does not divide d_model={d_model}")
        self.n_heads, self.max_len = n_heads, max_len
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.E = nn.Parameter(torch.randn(r, max_len) / r**0.5)  # (r, S)
        self.F = nn.Parameter(torch.randn(r, max_len) / r**0.5)  # (r, S)

    def forward(self, x: Tensor) -> Tensor:
        """Attend over the projected sequence; `x` is `(B, T, C)`."""
        B, T, C = x.shape
        if self.max_len < T:
            raise ValueError(f"sequence of {T} tokens exceeds the projection length {self.max_len}")
        x_pad = nn.functional.pad(x, (0, 0, 0, self.max_len - T))  # (B, S, C)
        # One projection to queries, keys and values, split into heads over the padded length.
        q, k, v = (
            self.qkv(x_pad).view(B, self.max_len, 3, self.n_heads, C // self.n_heads).unbind(2)
        )
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, S, D)
        # Padded key rows are zero; a learned E can still give them weight, as in the paper.
        y = linformer_attention(q[:, :, :T], k, v, self.E, self.F)  # (B, H, T, D)
        return self.out(y.transpose(1, 2).reshape(B, T, C))
