r"""# Exercises: Log-sum-exp, softmax, cross-entropy and KL divergence

A stable log-sum-exp, the gradient of cross-entropy, and KL divergence, checked against scipy."""

import numpy as np
import scipy.special
import scipy.stats


def solution_1_logsumexp(x: np.ndarray) -> float:
    r"""$m + \log\sum_i e^{x_i - m}$ with $m = \max_i x_i$."""
    m = np.max(x)
    return float(m + np.log(np.sum(np.exp(x - m))))


def check_1_logsumexp(fn) -> None:
    """Compare with `scipy.special.logsumexp`, including huge and tiny inputs."""
    rng = np.random.default_rng(0)
    cases = [np.array([1000.0, 1000.0]), np.array([-1000.0, -1000.0]), np.array([0.0])]
    cases += [rng.normal(size=7) * 30 for _ in range(5)]
    for x in cases:
        got, want = fn(x.copy()), float(scipy.special.logsumexp(x))
        assert np.isfinite(got), f"logsumexp({x.tolist()}) is not finite: {got}"
        assert np.isclose(got, want, rtol=1e-12, atol=1e-12), f"{x.tolist()}: {got} vs {want}"


def solution_2_cross_entropy_grad(logits: np.ndarray, target: int) -> np.ndarray:
    r"""$\operatorname{softmax}(z) - e_y$."""
    p = np.exp(logits - logits.max())
    p /= p.sum()
    p[target] -= 1.0
    return p


def check_2_cross_entropy_grad(fn) -> None:
    """Compare with central differences of the loss computed by scipy's `log_softmax`."""
    rng = np.random.default_rng(1)
    for _ in range(5):
        z, y = rng.normal(size=6), int(rng.integers(6))

        def loss(v, y=y):
            return -scipy.special.log_softmax(v)[y]

        h = 1e-6
        want = np.array([(loss(z + h * e) - loss(z - h * e)) / (2 * h) for e in np.eye(6)])
        got = np.asarray(fn(z.copy(), y))
        assert np.allclose(got, want, atol=1e-7), f"target {y}: got {got}, differences {want}"


def solution_3_kl(p: np.ndarray, q: np.ndarray) -> float:
    r"""$\sum_i p_i \log(p_i / q_i)$ over $p_i > 0$."""
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def check_3_kl(fn) -> None:
    """Compare with `scipy.stats.entropy(p, q)`, zeros in p included."""
    rng = np.random.default_rng(2)
    cases = [(np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.25, 0.5]))]
    for _ in range(4):
        p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
        cases.append((p, q))
    for p, q in cases:
        got, want = fn(p.copy(), q.copy()), float(scipy.stats.entropy(p, q))
        assert np.isclose(got, want, rtol=1e-12, atol=1e-14), f"KL({p}, {q}) = {got}, want {want}"
