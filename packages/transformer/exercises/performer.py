r"""# Exercises: Performer (FAVOR+)

Positive random features whose inner products estimate $\exp(q^\top k)$ without bias, and the
FAVOR+ attention built from them."""

import math

import torch

from masterclass.transformer.performer import (
    favor_features,
    orthogonal_gaussian,
    performer_attention,
)


def solution_1_positive_features(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    r"""$\phi(x) = \exp(W x - \|x\|^2 / 2) / \sqrt m$ `(..., m)`: since
    $\mathbb E_\omega[e^{\omega^\top q} e^{\omega^\top k}] = e^{\|q + k\|^2 / 2}$ for
    $\omega \sim \mathcal N(0, I)$, $\mathbb E[\phi(q)^\top \phi(k)] = e^{q^\top k}$."""
    return torch.exp(x @ w.T - (x * x).sum(-1, keepdim=True) / 2) / math.sqrt(w.shape[0])


def check_1_positive_features(fn) -> None:
    r"""Up to the chapter's per-row stabilising constant the features must be the chapter's
    `favor_features`, and with 200,000 Gaussian rows their inner product must estimate
    $\exp(q^\top k)$ to 2% (seeded)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, generator=g, dtype=torch.float64) * 0.5
    w = torch.randn(64, 4, generator=g, dtype=torch.float64)
    ratio = fn(x, w) / favor_features(x, w, is_query=True)  # (3, 64): constant along each row
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-9), (
        "the features are not exp(w x - |x|^2 / 2) up to a per-row constant"
    )
    w = torch.randn(200_000, 4, generator=g, dtype=torch.float64)
    q, k = x[0], x[1]
    estimate = float(fn(q, w) @ fn(k, w))
    exact = math.exp(float(q @ k))
    assert abs(estimate / exact - 1) < 0.02, (
        f"phi(q) . phi(k) = {estimate:.4f}, exp(q . k) = {exact:.4f}: the estimate is biased"
    )


def solution_2_favor_attention(q, k, v, w) -> torch.Tensor:
    r"""Scale $q, k$ by $D^{-1/4}$, map both through $\phi$, then
    $\phi(Q)(\phi(K)^\top V) / \phi(Q)(\phi(K)^\top \mathbf 1)$ (stabilising constants cancel)."""
    s = q.shape[-1] ** -0.25
    pq = solution_1_positive_features(q * s, w)  # (B, H, T, m)
    pk = solution_1_positive_features(k * s, w)  # (B, H, S, m)
    num = pq @ (pk.transpose(-2, -1) @ v)  # (B, H, T, D_v)
    den = pq @ pk.sum(-2, keepdim=True).transpose(-2, -1)  # (B, H, T, 1)
    return num / den


def check_2_favor_attention(fn) -> None:
    """Compare with the chapter's `performer_attention`, fed the same random projections (the
    same seeded generator draws them)."""
    for seed, (B, H, T, D, m) in enumerate([(1, 1, 4, 4, 8), (2, 2, 6, 8, 16), (1, 3, 5, 4, 32)]):
        g = torch.Generator().manual_seed(seed)
        q, k, v = (
            torch.randn(B, H, T, D, generator=g, dtype=torch.float64) * 0.5 for _ in range(3)
        )
        w = orthogonal_gaussian(m, D, torch.Generator().manual_seed(100 + seed))
        want = performer_attention(q, k, v, m, generator=torch.Generator().manual_seed(100 + seed))
        got = fn(q, k, v, w)
        # float64; the chapter subtracts stabilising maxima before exp: 1e-9.
        assert torch.allclose(got, want, atol=1e-9), (
            f"(B, H, T, D, m) = {(B, H, T, D, m)}: max error {(got - want).abs().max().item():.2e}"
        )
