r"""# Performer: softmax attention from random features (FAVOR+)

Linear attention (`linear_attention.py`) is linear in length but changes the similarity. The
Performer (Choromanski et al., 2021, *Rethinking Attention with Performers*) keeps the softmax's
$\exp(q \cdot k)$ and *approximates* it by a feature map, so that the linear-time computation
estimates the very attention a model was trained with. The identity behind it: for
$\omega \sim \mathcal{N}(0, I_D)$,

$$
\exp(q \cdot k) = \mathbb{E}_\omega\!\left[ e^{\omega \cdot q - \|q\|^2/2}\; e^{\omega \cdot k - \|k\|^2/2} \right],
$$

(complete the square: $\mathbb{E}[e^{\omega \cdot (q + k)}] = e^{\|q+k\|^2/2}$). With $m$ samples
$\omega_1..\omega_m$, the **positive random features**
$\phi(x) = m^{-1/2}\bigl(e^{\omega_r \cdot x - \|x\|^2/2}\bigr)_{r=1..m}$ give an unbiased
estimate $\phi(q) \cdot \phi(k) \approx \exp(q \cdot k)$ that is always positive, so the
normaliser never goes negative or near zero (the failure of the older $\sin/\cos$ features). That
is the "+" of FAVOR+: Fast Attention Via positive Orthogonal Random features. The "orthogonal":
drawing the $\omega_r$ as orthogonal directions (blocks of $D$ from a QR decomposition, rescaled to
Gaussian lengths) keeps the estimate unbiased and lowers its variance.

The softmax's $1/\sqrt{D}$ is absorbed by scaling both $q$ and $k$ by $D^{-1/4}$. For numerical
safety, each query's features are divided by their largest entry (a constant per query, which
cancels between numerator and normaliser), and the keys' by the largest over all keys.

The error falls like $1/\sqrt{m}$; `test_efficient_attention.py` checks the estimator is unbiased and that
the output error shrinks as $m$ grows, and the figure (page `linear_attention`) plots the error
against the cost. Cost: $O((T + S)\,m D)$, against $O(T S D)$ for exact attention, so the
Performer wins when $m \ll S$.

The variance of each estimate grows like $e^{\|q\|^2 + \|k\|^2}$ (scaled norms), so the
approximation is good for small-norm queries and keys and poor for peaked attention. On the
figure's inputs (queries and keys of scaled squared norm about 4, attention
sharply peaked) the error falls slowly with $m$, while on the small-norm inputs of the test it falls
like $1/\sqrt{m}$ (0.33 at $m = 16$, 0.07 at $m = 1024$).

![Error against exact softmax attention vs cost, for each efficient attention](figures/efficient_attention.png)

Left out: redrawing the features during training, the generalised kernels (ReLU features).

## Exercises

1. Write `positive_features(x, w)`: $\phi(x) = \exp(Wx - \|x\|^2/2)/\sqrt m$. Derive
   $\mathbb E[\phi(q)^\top\phi(k)] = e^{q^\top k}$ from the Gaussian moment generating function.
   Why are these features better than $\sin/\cos$ ones where the kernel is small? Check it:
   `uv run pytest --exercise transformer.performer`.
2. Write `favor_attention(q, k, v, w)`: FAVOR+ attention for given projections `w` `(m, D)`.
   Check it: `uv run pytest --exercise transformer.performer`.
"""

import math

import torch
from torch import Tensor

from masterclass.transformer.linear_attention import linear_attention

__all__ = ["favor_features", "orthogonal_gaussian", "performer_attention", "performer_flops"]


def orthogonal_gaussian(
    m: int, D: int, generator: torch.Generator | None = None, orthogonal: bool = True
) -> Tensor:
    r"""`(m, D)` random projection rows $\omega_r$: i.i.d. Gaussian, or orthogonal in blocks of `D`
    with Gaussian-distributed lengths (which keeps each row marginally $\mathcal{N}(0, I)$)."""
    if not orthogonal:
        return torch.randn(m, D, generator=generator, dtype=torch.float64)
    n_blocks = math.ceil(m / D)
    g = torch.randn(n_blocks, D, D, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(g)  # (n_blocks, D, D), orthonormal columns
    # Fixing the signs by R's diagonal makes Q uniformly (Haar) distributed; without it the
    # directions are biased and so is the estimate.
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    # Stack the blocks' orthonormal rows, keep the first `m`, and give each the length of a
    # Gaussian vector in $D$ dimensions, a $\chi(D)$ draw.
    w = q.transpose(-2, -1).reshape(n_blocks * D, D)[:m]  # (m, D) unit rows
    lengths = torch.randn(m, D, generator=generator, dtype=torch.float64).norm(dim=-1)  # chi(D)
    return w * lengths[:, None]


# The positive features $\exp(w \cdot x - \|x\|^2 / 2) / \sqrt m$, whose inner products estimate
# $\exp(q \cdot k)$ without bias.
def favor_features(x: Tensor, w: Tensor, is_query: bool) -> Tensor:
    r"""Positive random features $\phi(x)$ `(..., m)` of `x` `(..., D)` for projections `w` `(m, D)`.

    Stabilised by the largest exponent: per row for queries, over all rows for keys.
    """
    proj = x @ w.T.to(x.dtype)  # (..., m)
    exponent = proj - (x * x).sum(-1, keepdim=True) / 2  # (..., m)
    if is_query:
        stab = exponent.amax(dim=-1, keepdim=True)
    else:
        stab = exponent.amax(dim=(-2, -1), keepdim=True)
    return torch.exp(exponent - stab.detach()) / math.sqrt(w.shape[0])


# The estimate: queries and keys are each scaled by $D^{-1/4}$ (together the $1/\sqrt D$ of the
# scores), mapped to features with one shared draw of projections, and fed to linear attention.
def performer_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    n_features: int,
    causal: bool = False,
    generator: torch.Generator | None = None,
    orthogonal: bool = True,
) -> Tensor:
    """FAVOR+ estimate of softmax attention `softmax(q k^T / sqrt(D)) v`.

    Shapes: `q (B, H, T, D)`, `k (B, H, S, D)`, `v (B, H, S, D_v)` → `(B, H, T, D_v)`.
    """
    if n_features <= 0:
        raise ValueError(f"n_features must be positive, got {n_features}")
    D = q.shape[-1]
    w = orthogonal_gaussian(n_features, D, generator, orthogonal)  # (m, D)
    s = D**-0.25
    phi_q = favor_features(q * s, w, is_query=True)  # (B, H, T, m)
    phi_k = favor_features(k * s, w, is_query=False)  # (B, H, S, m)
    return linear_attention(phi_q, phi_k, v, feature_map=None, causal=causal, eps=0.0)


# The cost: the feature maps of queries and keys, then linear attention with $M = m$ features.
def performer_flops(T: int, S: int, D: int, m: int) -> int:
    """Multiply-adds: the two feature projections, then linear attention with $M = m$.

    >>> performer_flops(T=4096, S=4096, D=64, m=256) < 2 * 4096 * 4096 * 64  # vs exact attention
    True
    """
    return (T + S) * m * D + S * m * D + T * m * D + T * m
