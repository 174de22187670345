r"""# Exercises: Information theory basics

Entropy in bits, mutual information from its KL definition, and a language model's perplexity,
checked against scipy and PyTorch."""

import numpy as np
import scipy.stats
import torch


def solution_1_entropy_bits(p: np.ndarray) -> float:
    r"""$-\sum_x p(x)\log_2 p(x)$ with $0\log 0 = 0$."""
    p = np.asarray(p, dtype=float)
    nz = p[p > 0]
    return float(-np.sum(nz * np.log2(nz)))


def check_1_entropy_bits(fn) -> None:
    """Compare with `scipy.stats.entropy(p, base=2)`, zeros included."""
    rng = np.random.default_rng(0)
    cases = [np.array([0.5, 0.5]), np.array([1.0, 0.0, 0.0]), np.full(8, 1 / 8)]
    cases += [rng.dirichlet(np.ones(n) * 0.3) for n in (3, 10, 50)]
    cases.append(np.array([0.25, 0.0, 0.75]))
    for p in cases:
        want = float(scipy.stats.entropy(p, base=2))
        got = fn(p.copy())
        assert np.isclose(got, want, rtol=1e-12, atol=1e-12), (
            f"p={np.round(p, 3).tolist()[:6]}...: got {got}, scipy {want} bits (0 log 0 counts as 0)"
        )


def solution_2_mutual_information(pxy: np.ndarray) -> float:
    r"""$I(X;Y) = \sum_{x,y} p(x,y)\log\frac{p(x,y)}{p(x)p(y)}$ in nats."""
    px, py = pxy.sum(axis=1, keepdims=True), pxy.sum(axis=0, keepdims=True)
    mask = pxy > 0
    return float(np.sum(pxy[mask] * np.log(pxy[mask] / (px * py)[mask])))


def check_2_mutual_information(fn) -> None:
    """Compare with scipy's KL divergence between the joint and the product of the marginals."""
    rng = np.random.default_rng(1)
    cases = [np.array([[0.5, 0.0], [0.0, 0.5]]), np.outer([0.3, 0.7], [0.2, 0.5, 0.3])]
    cases += [
        rng.dirichlet(np.ones(12)).reshape(3, 4),
        rng.dirichlet(np.ones(6) * 0.2).reshape(2, 3),
    ]
    for pxy in cases:
        outer = np.outer(pxy.sum(axis=1), pxy.sum(axis=0))
        want = float(scipy.stats.entropy(pxy.ravel(), outer.ravel()))
        got = fn(pxy.copy())
        assert np.isclose(got, want, rtol=1e-10, atol=1e-12), (
            f"joint {np.round(pxy, 3).tolist()}: got {got}, KL(p(x,y) || p(x)p(y)) = {want} nats"
        )


def solution_3_perplexity(logits: torch.Tensor, targets: torch.Tensor) -> float:
    r"""$\exp(-\frac1T\sum_t \log p(x_t))$ from logits `(T, V)` and tokens `(T,)`."""
    log_p = torch.log_softmax(logits, dim=-1)[torch.arange(len(targets)), targets]
    return float(torch.exp(-log_p.mean()))


def check_3_perplexity(fn) -> None:
    """Compare with the exponential of `torch.nn.functional.cross_entropy` (mean over tokens)."""
    g = torch.Generator().manual_seed(2)
    for T, V, scale in [(10, 5, 1.0), (50, 100, 3.0), (3, 2, 0.0)]:
        logits = torch.randn(T, V, generator=g, dtype=torch.float64) * scale
        targets = torch.randint(0, V, (T,), generator=g)
        want = float(torch.exp(torch.nn.functional.cross_entropy(logits, targets)))
        got = fn(logits.clone(), targets.clone())
        assert np.isclose(got, want, rtol=1e-10), (
            f"T={T}, V={V}: got {got}, exp(cross-entropy) = {want} (uniform logits give V)"
        )
