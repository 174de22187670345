r"""# Rotary position embeddings

RoPE (Su et al., 2021, *RoFormer*) encodes position by rotating each query and key. The head
dimension $D$ is split into $D/2$ pairs; pair $i$ of the vector at position $m$ is rotated by the
angle $m\,\theta_i$ with $\theta_i = b^{-2i/D}$ ($b$ = `rope_base`, 10,000 by default):

$$
\begin{pmatrix} x'_{a} \\ x'_{b} \end{pmatrix} =
\begin{pmatrix} \cos m\theta_i & -\sin m\theta_i \\ \sin m\theta_i & \cos m\theta_i \end{pmatrix}
\begin{pmatrix} x_{a} \\ x_{b} \end{pmatrix}.
$$

Because rotations compose, $\langle R_m q, R_n k \rangle = \langle q, R_{n-m} k\rangle$: the attention
score depends on positions only through their difference $n - m$, and nothing is added to the
residual stream.

Which dimensions form a pair is a convention, and the two in use are incompatible:

- **interleaved** (the paper and Meta's original LLaMA code): pair $i$ is $(x_{2i}, x_{2i+1})$;
- **half-split** (GPT-NeoX and Hugging Face `LlamaForCausalLM`): pair $i$ is $(x_i, x_{i+D/2})$.

Both give the same model up to a fixed permutation of each head's query and key rows, which
`interleaved_to_half_split` applies to weights, the step every converter of Meta checkpoints to HF
performs. Scaling the frequencies to reach longer contexts is the subject of `context_window.py`.

## Exercises

1. Write `inv_freq(head_dim, base)`: the $D/2$ angles per position $\theta_i = b^{-2i/D}$. Which
   pair turns fastest, and how many positions does the slowest take for one turn at $b = 10^4$,
   $D = 64$? Check it: `uv run pytest --exercise llm.rope`.
2. Write `rotate(x, positions, base)`: RoPE with the half-split pairing on `x` `(B, H, T, D)`, each
   pair $(x_i, x_{i+D/2})$ rotated by `positions * theta_i`, without the chapter's tables. Check it:
   `uv run pytest --exercise llm.rope`.
3. Write `score(q, k, m, n, base)`: $\langle R_m q, R_n k\rangle$ for two vectors `(D,)`. The
   checker compares it with a complex-number computation and shifts both positions: derive why
   the score depends on $n - m$ alone. Check it: `uv run pytest --exercise llm.rope`.
"""

from __future__ import annotations

import torch
from torch import Tensor

# ## Frequencies
#
# The angles fall geometrically from $\theta_0 = 1$ radian per position (the fastest pair, which
# tells neighbours apart) to $\theta_{D/2-1} \approx 1/b$ (a wavelength of $2\pi b$ positions, which
# varies slowly across the whole context). A geometric ladder gives every scale of distance some
# pair that resolves it.


def rope_inv_freq(head_dim: int, base: float = 10000.0) -> Tensor:
    r"""Inverse frequencies $\theta_i = b^{-2i/D}$, shape `(D/2,)`, float32 (as HF computes them).

    >>> rope_inv_freq(4, base=100.0)
    tensor([1.0000, 0.1000])
    """
    if head_dim % 2 != 0:
        raise ValueError(f"RoPE needs an even head dim, got {head_dim}")
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim  # (D/2,)
    return 1.0 / (base**exponents)


# ## Cosines and sines for a range of positions
#
# The table is built from the positions actually requested rather than cached to a maximum length:
# it costs one outer product per forward pass, works for any length, and keeps the model a pure
# function of its inputs (which ONNX export needs). `scale` multiplies both tables; YaRN uses it to
# temper attention at long range (it is 1 otherwise).


def rope_cos_sin(
    positions: Tensor, inv_freq: Tensor, *, interleaved: bool = False, scale: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Cosine and sine tables for `positions` `(T,)` (or `(B, T)`), each `(T, D)` (or `(B, T, D)`), float32.

    The half-split layout repeats the $D/2$ angles as `[θ_0..θ_{D/2-1}, θ_0..θ_{D/2-1}]`; the
    interleaved layout as `[θ_0, θ_0, θ_1, θ_1, ...]`, so that each pair sees its own angle.
    """
    angles = positions.float()[..., None] * inv_freq.float()  # (T, D/2)
    if interleaved:
        angles = torch.repeat_interleave(angles, 2, dim=-1)  # (T, D)
    else:
        angles = torch.cat((angles, angles), dim=-1)  # (T, D)
    return angles.cos() * scale, angles.sin() * scale


# ## Applying the rotation
#
# With $c = \cos m\theta_i$ and $s = \sin m\theta_i$ the rotation of a pair is
# $(x_a c - x_b s,\; x_b c + x_a s)$. Written for the whole vector at once it is
# $x \odot \cos + \operatorname{rot}(x) \odot \sin$, where $\operatorname{rot}$ maps each pair
# $(x_a, x_b)$ to $(-x_b, x_a)$: for the half-split layout that is `cat(-x2, x1)` of the two halves,
# for the interleaved layout the same swap inside each adjacent pair.


def rotate_pairs(x: Tensor, *, interleaved: bool = False) -> Tensor:
    """Map every pair $(x_a, x_b)$ to $(-x_b, x_a)$; `x` has shape `(..., D)`."""
    if interleaved:
        x_even, x_odd = x[..., 0::2], x[..., 1::2]  # (..., D/2) each
        return torch.stack((-x_odd, x_even), dim=-1).flatten(-2)  # (..., D)
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)  # (..., D)


# Applying the rotation is that two-term formula, computed in float32 and cast back.
def apply_rope(x: Tensor, cos: Tensor, sin: Tensor, *, interleaved: bool = False) -> Tensor:
    """Rotate `x` of shape `(B, H, T, D)` by the tables `cos`, `sin` of shape `(T, D)` (or any shape
    that broadcasts, e.g. `(B, 1, T, D)` for per-sequence positions).

    The product runs in float32 and the result is cast back to `x`'s dtype, as in HF Llama.
    """
    if x.shape[-2] != cos.shape[-2] or x.shape[-1] != cos.shape[-1]:
        raise ValueError(
            f"apply_rope: x has (T, D) = {tuple(x.shape[-2:])} but the tables have {tuple(cos.shape)}"
        )
    dtype = x.dtype
    xf = x.float()
    out = xf * cos + rotate_pairs(xf, interleaved=interleaved) * sin  # (B, H, T, D)
    return out.to(dtype)


# ## Converting weights between the two conventions
#
# A query head's output row $r$ in the interleaved model must become row $\pi(r)$ of the half-split
# one, where $\pi$ sends $2i \mapsto i$ and $2i+1 \mapsto i + D/2$. Applying $\pi$ to the rows of
# $W_q$ and $W_k$ (head by head) turns one model into the other exactly: scores are inner products,
# invariant under a common permutation of the query and key coordinates.


def interleaved_to_half_split(weight: Tensor, n_heads: int) -> Tensor:
    """Permute the rows of a `(n_heads * D, d_in)` query/key weight from interleaved to half-split.

    >>> w = torch.arange(4.0)[:, None]  # one head, D = 4: rows 0,1 | 2,3 are the pairs
    >>> interleaved_to_half_split(w, n_heads=1).flatten().tolist()
    [0.0, 2.0, 1.0, 3.0]
    """
    rows, d_in = weight.shape[0], weight.shape[1:]
    if rows % n_heads != 0 or (rows // n_heads) % 2 != 0:
        raise ValueError(f"weight rows ({rows}) must be n_heads ({n_heads}) times an even head dim")
    d = rows // n_heads
    w = weight.reshape(n_heads, d // 2, 2, *d_in)  # (H, D/2, 2, d_in): pairs are adjacent rows
    return w.transpose(1, 2).reshape(rows, *d_in)  # (H*D, d_in): evens first, then odds


# The inverse: cut each head's rows into their two halves and interleave them again.
def half_split_to_interleaved(weight: Tensor, n_heads: int) -> Tensor:
    """Inverse of `interleaved_to_half_split`."""
    rows, d_in = weight.shape[0], weight.shape[1:]
    if rows % n_heads != 0 or (rows // n_heads) % 2 != 0:
        raise ValueError(f"weight rows ({rows}) must be n_heads ({n_heads}) times an even head dim")
    d = rows // n_heads
    w = weight.reshape(n_heads, 2, d // 2, *d_in)  # (H, 2, D/2, d_in): two halves
    return w.transpose(1, 2).reshape(rows, *d_in)  # (H*D, d_in): pairs adjacent again
