r"""# Exercises: Word embeddings: word2vec and GloVe

The negative-sampling loss and its gradient, GloVe's distance-weighted co-occurrence counts, and
the weighting function of its loss."""

import numpy as np
import torch

from masterclass.nlp.embeddings import cooccurrence, sgns_loss


def solution_1_sgns_loss(v_c: torch.Tensor, u_o: torch.Tensor, u_neg: torch.Tensor) -> torch.Tensor:
    r"""$-\big[\log\sigma(u_o^\top v_c) + \sum_k \log\sigma(-u_k^\top v_c)\big]$, batch mean."""
    pos = torch.log(torch.sigmoid((u_o * v_c).sum(-1)))
    neg = torch.log(torch.sigmoid(-torch.einsum("bkc,bc->bk", u_neg, v_c))).sum(-1)
    return -(pos + neg).mean()


def check_1_sgns_loss(fn) -> None:
    r"""Compare with the chapter's `sgns_loss`, value and gradient; the gradient with respect to
    $v_c$ is checked against its closed form $-(1 - \sigma(u_o^\top v_c))\,u_o +
    \sum_k \sigma(u_k^\top v_c)\, u_k$ (divided by the batch)."""
    g = torch.Generator().manual_seed(0)
    for B, k, C in [(1, 1, 3), (4, 5, 8), (8, 2, 16)]:
        v = torch.randn(B, C, generator=g, dtype=torch.float64, requires_grad=True)
        u = torch.randn(B, C, generator=g, dtype=torch.float64)
        neg = torch.randn(B, k, C, generator=g, dtype=torch.float64)
        got, want = fn(v, u, neg), sgns_loss(v, u, neg)
        # float64: 1e-10.
        assert torch.allclose(got, want, atol=1e-10), f"B={B}, k={k}: got {got}, want {want}"
        (grad,) = torch.autograd.grad(got, v)
        s_pos = torch.sigmoid((u * v).sum(-1, keepdim=True))  # (B, 1)
        s_neg = torch.sigmoid(torch.einsum("bkc,bc->bk", neg, v))  # (B, k)
        closed = (-(1 - s_pos) * u + torch.einsum("bk,bkc->bc", s_neg, neg)) / B
        assert torch.allclose(grad, closed, atol=1e-10), "the gradient differs from the closed form"


def solution_2_cooccurrence(ids: list[list[int]], vocab_size: int, window: int) -> np.ndarray:
    r"""Each pair at distance $d \le$ `window` in a sentence adds $1/d$, in both directions."""
    x = np.zeros((vocab_size, vocab_size))
    for s in ids:
        for i in range(len(s)):
            for j in range(len(s)):
                d = abs(i - j)
                if 0 < d <= window:
                    x[s[i], s[j]] += 1.0 / d
    return x


def check_2_cooccurrence(fn) -> None:
    """Compare with the chapter's `cooccurrence` on seeded sentences."""
    rng = np.random.default_rng(0)
    for V, window in [(4, 1), (6, 2), (10, 5)]:
        ids = [rng.integers(0, V, n).tolist() for n in (3, 7, 12, 1)]
        got, want = np.asarray(fn(ids, V, window)), cooccurrence(ids, V, window)
        assert got.shape == want.shape, f"shape {got.shape}, want {want.shape}"
        assert np.allclose(got, want, atol=1e-12), (
            f"V={V}, window={window}: max error {np.abs(got - want).max():.2e} (weight 1/d, "
            "symmetric, within sentences only)"
        )


def solution_3_glove_weight(x: torch.Tensor, x_max: float, alpha: float) -> torch.Tensor:
    r"""$f(x) = (x / x_{\max})^\alpha$ below $x_{\max}$, 1 above: rare pairs count less, frequent
    ones are capped."""
    return torch.where(x < x_max, (x / x_max) ** alpha, torch.ones_like(x))


def check_3_glove_weight(fn) -> None:
    r"""Compare with $\min(1, (x / x_{\max})^\alpha)$ computed in numpy, at and around $x_{\max}$."""
    for x_max, alpha in [(100.0, 0.75), (10.0, 0.5), (1.0, 1.0)]:
        x = np.concatenate([np.geomspace(1e-3, 10 * x_max, 50), [x_max, 0.0]])
        want = np.minimum(1.0, (x / x_max) ** alpha)
        got = np.asarray(fn(torch.tensor(x), x_max, alpha))
        assert np.allclose(got, want, atol=1e-12), (
            f"x_max={x_max}, alpha={alpha}: max error {np.abs(got - want).max():.2e}"
        )
