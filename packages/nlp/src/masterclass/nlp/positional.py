r"""# Positional encodings

Self-attention is permutation-equivariant: shuffle the tokens of a sequence and the outputs are
shuffled the same way. Word order has to be injected. This chapter writes the three classic ways:

1. **Sinusoidal** absolute encodings (Vaswani et al., 2017, *Attention Is All You Need*, §3.5): a
   fixed table added to the token embeddings,
   $$PE_{t, 2i} = \sin\!\big(t / b^{2i/C}\big), \qquad PE_{t, 2i+1} = \cos\!\big(t / b^{2i/C}\big),$$
   with base $b = 10000$. Each pair of channels is a clock with angular frequency
   $\omega_i = b^{-2i/C}$; the frequencies fall geometrically from $1$ to $1/b$, so nearby positions
   differ in the fast channels and far positions in the slow ones. Because
   $\big(\sin\omega(t+k), \cos\omega(t+k)\big)$ is a *rotation* of $(\sin\omega t, \cos\omega t)$ by
   the angle $\omega k$, the encoding of position $t+k$ is a fixed linear function of the encoding of
   $t$, whatever $t$ is; the test checks this property. As a consequence the dot product of two
   encodings depends only on their offset, and falls off (not monotonically) with it:

   ![The sinusoidal table and the similarity of positions against their offset](figures/positional.png)

2. **Learned** absolute embeddings (GPT-2, BERT): a trainable table of $T_{\max}$ vectors; it cannot
   extrapolate past $T_{\max}$.
3. **Relative** position representations (Shaw, Uszkoreit & Vaswani, 2018, *Self-Attention with
   Relative Position Representations*): learned vectors $a^K_{ij}, a^V_{ij}$ that depend only on the
   clipped offset $\operatorname{clip}(j - i, -k, k)$ and enter the attention itself,
   $$e_{ij} = \frac{q_i \cdot (k_j + a^K_{ij})}{\sqrt{D}}, \qquad
     z_i = \sum_j \operatorname{softmax}_j(e_{ij})\,(v_j + a^V_{ij}).$$

Rotary embeddings (RoPE) take idea 1 and apply the rotation to queries and keys instead of adding it
to the input, so that $q_i \cdot k_j$ depends on $i - j$ only; ALiBi drops embeddings altogether and
adds a linear penalty $-m\,|i-j|$ to the scores. Both live in `masterclass.llm`, where long context is
taught. Left out here: T5's bucketed relative bias (taught with T5 in `masterclass.transformer`).

## Exercises

1. Write `sinusoidal(n_positions, d_model, base)`: the table $PE$ `(T, C)`, loops allowed.
   Check it: `uv run pytest --exercise nlp.positional`.
2. Write `shift_matrix(k, d_model, base)`: the matrix $M_k$ with $PE_{t+k} = M_k PE_t$ for every
   $t$, derived from the angle-sum identities. Why does it not depend on $t$, and what does that
   let attention learn? Check it: `uv run pytest --exercise nlp.positional`.
3. Write `relative_index(t_q, t_k, max_distance)`: the clipped relative offset $j - i$ as an
   index into $2k + 1$ embeddings. Check it: `uv run pytest --exercise nlp.positional`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "LearnedPositionalEmbedding",
    "ShawRelativePositions",
    "relative_position_index",
    "shaw_attention",
    "sinusoidal_positions",
]


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


# ## Sinusoidal encodings
#
# Channel pair $i$ gets the angular frequency $\omega_i = b^{-2i/C}$; we compute it as
# $\exp(-\tfrac{2i}{C}\ln b)$, in float64 so that the table is exact to float32 rounding even at
# large positions (the product $t\,\omega_i$ reaches $10^5$ and float32 would lose the fractional part
# that the sine depends on). Even channels carry the sine, odd channels the cosine (the paper's
# interleaved layout; some codebases concatenate all sines then all cosines, which is the same table
# with its columns permuted). An odd $C$ keeps the last sine and drops its cosine.
def sinusoidal_positions(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The fixed sinusoidal position table of Vaswani et al. (2017).

    Args:
        n_positions: number of positions `T` (rows), positions `0 .. T-1`.
        d_model: width `C` (columns).
        base: the wavelength scale `b`; the slowest channel has period `2π·b`.

    Returns:
        A float32 tensor of shape `(T, C)` with `PE[t, 2i] = sin(t / b^(2i/C))` and
        `PE[t, 2i+1] = cos(t / b^(2i/C))`.

    >>> pe = sinusoidal_positions(4, 6)
    >>> tuple(pe.shape), pe.dtype
    ((4, 6), torch.float32)
    >>> pe[0].tolist()
    [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    """
    _check_positive("n_positions", n_positions)
    _check_positive("d_model", d_model)
    if not base > 0:
        raise ValueError(f"base must be positive, got {base!r}")
    # The angle table $t\,\omega_i$ in float64; sines fill the even columns, cosines the odd ones
    # (one column fewer when $C$ is odd).
    t = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(C/2),)
    omega = torch.exp(-two_i / d_model * math.log(base))  # (ceil(C/2),)
    angles = t * omega  # (T, ceil(C/2))
    pe = torch.empty(n_positions, d_model, dtype=torch.float64)  # (T, C)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe.to(torch.float32)


# ## Learned absolute embeddings
#
# The simplest alternative: one trainable vector per position, initialised small (GPT-2 uses
# $\mathcal N(0, 0.02^2)$) and added to the token embeddings. It is as expressive as any absolute
# scheme up to $T_{\max}$, and meaningless beyond it, so asking for more positions is an error.
class LearnedPositionalEmbedding(nn.Module):
    """A trainable table of `n_positions` vectors of width `d_model`.

    `forward(T, offset=0)` returns the rows for positions `offset .. offset+T-1`, shape `(T, C)`,
    ready to be broadcast-added to token embeddings of shape `(B, T, C)`.
    """

    def __init__(self, n_positions: int, d_model: int, init_std: float = 0.02) -> None:
        super().__init__()
        _check_positive("n_positions", n_positions)
        _check_positive("d_model", d_model)
        self.n_positions = n_positions
        self.weight = nn.Parameter(torch.randn(n_positions, d_model) * init_std)  # (T_max, C)

    def forward(self, seq_len: int, offset: int = 0) -> torch.Tensor:
        """Embeddings of positions `offset .. offset + seq_len - 1`, shape `(T, C)`."""
        if offset < 0 or offset + seq_len > self.n_positions:
            raise ValueError(
                f"positions {offset}..{offset + seq_len - 1} are outside the learned table of "
                f"{self.n_positions} positions; use a larger n_positions or a relative scheme"
            )
        return self.weight[offset : offset + seq_len]  # (T, C)


# ## Relative positions (Shaw et al., 2018)
#
# The offset $j - i$ between a query at $i$ and a key at $j$ is clipped to $[-k, k]$, since the
# paper found that precise distances beyond a few tokens do not help, and shifted by $k$ to index a
# table of $2k + 1$ learned vectors.
def relative_position_index(t_q: int, t_k: int, max_distance: int) -> torch.Tensor:
    """Index `clip(j - i, -k, k) + k` of each (query `i`, key `j`) pair, shape `(T_q, T_k)`, int64.

    >>> relative_position_index(3, 3, 1).tolist()
    [[1, 2, 2], [0, 1, 2], [0, 0, 1]]
    """
    if max_distance < 0:
        raise ValueError(f"max_distance must be >= 0, got {max_distance}")
    i = torch.arange(t_q)[:, None]  # (T_q, 1)
    j = torch.arange(t_k)[None, :]  # (1, T_k)
    return (j - i).clamp(-max_distance, max_distance) + max_distance  # (T_q, T_k)


# The module holds the two tables and gathers them with that index into per-pair tensors.
class ShawRelativePositions(nn.Module):
    """The two tables $a^K$ and $a^V$ of Shaw et al., each `(2k + 1, D)`.

    `forward(T_q, T_k)` returns `(a_k, a_v)`, each of shape `(T_q, T_k, D)`: the vectors for every
    (query, key) pair, shared across heads as in the paper.
    """

    def __init__(self, max_distance: int, d_head: int, init_std: float = 0.02) -> None:
        super().__init__()
        _check_positive("max_distance", max_distance)
        _check_positive("d_head", d_head)
        self.max_distance = max_distance
        self.keys = nn.Parameter(torch.randn(2 * max_distance + 1, d_head) * init_std)  # (2k+1, D)
        self.values = nn.Parameter(
            torch.randn(2 * max_distance + 1, d_head) * init_std
        )  # (2k+1, D)

    def forward(self, t_q: int, t_k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pair relative vectors `(a_k, a_v)`, each `(T_q, T_k, D)`."""
        idx = relative_position_index(t_q, t_k, self.max_distance).to(
            self.keys.device
        )  # (T_q, T_k)
        return self.keys[idx], self.values[idx]


# The attention itself. The key term splits in two: $q_i\cdot k_j$ is the usual batched matrix
# product, and $q_i \cdot a^K_{ij}$ is an einsum over the per-pair table; likewise the output is the
# usual $PV$ plus $\sum_j p_{ij} a^V_{ij}$. Splitting keeps the cost at $O(T^2 D)$ without
# materialising a $(B, H, T, T, D)$ tensor of shifted keys.
def shaw_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    a_k: torch.Tensor,
    a_v: torch.Tensor,
    causal: bool = False,
) -> torch.Tensor:
    """Scaled dot-product attention with Shaw relative position representations.

    Args:
        q: queries `(B, H, T_q, D)`.
        k, v: keys and values `(B, H, T_k, D)`.
        a_k, a_v: relative vectors `(T_q, T_k, D)` from `ShawRelativePositions`.
        causal: mask keys after the query (requires `T_q == T_k`).

    Returns:
        The attention output `(B, H, T_q, D)`.
    """
    # The content term plus the relative-key term, scaled together by $1/\sqrt D$, then the
    # causal mask if asked for.
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1)  # (B, H, T_q, T_k)
    scores = scores + torch.einsum("bhid,ijd->bhij", q, a_k)  # (B, H, T_q, T_k)
    scores = scores / math.sqrt(d)
    if causal:
        t_q, t_k = scores.shape[-2:]
        if t_q != t_k:
            raise ValueError(f"causal attention needs T_q == T_k, got {t_q} and {t_k}")
        mask = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device).triu(1)  # (T, T)
        scores = scores.masked_fill(mask, float("-inf"))
    # One softmax, whose weights mix both the values and the relative value vectors.
    p = scores.softmax(dim=-1)  # (B, H, T_q, T_k)
    return p @ v + torch.einsum("bhij,ijd->bhid", p, a_v)  # (B, H, T_q, D)
