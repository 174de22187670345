r"""# Exercises: Gradient descent and its variants: batch, mini-batch, stochastic; momentum and Nesterov

The closed form of gradient descent on a quadratic, its rate for a given step, and the tuned
heavy-ball parameters."""

import math

import numpy as np


def _quadratic(seed: int, eigenvalues: list[float]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(len(eigenvalues), len(eigenvalues))))
    return (q * np.array(eigenvalues)) @ q.T


def solution_1_gd_error(
    a: np.ndarray, w0: np.ndarray, w_star: np.ndarray, eta: float, k: int
) -> np.ndarray:
    r"""$w_k - w^\star = (I - \eta A)^k (w_0 - w^\star)$."""
    return np.linalg.matrix_power(np.eye(len(a)) - eta * a, k) @ (w0 - w_star)


def check_1_gd_error(fn) -> None:
    r"""Run `k` steps of gradient descent on $\frac12 (w - w^*)^\top A (w - w^*)$ and compare."""
    rng = np.random.default_rng(0)
    for seed, eigs, eta, k in [
        (0, [1.0, 4.0], 0.2, 10),
        (1, [0.1, 1.0, 3.0], 0.5, 25),
        (2, [2.0], 1.2, 5),
    ]:
        a = _quadratic(seed, eigs)
        w0, w_star = rng.normal(size=len(eigs)), rng.normal(size=len(eigs))
        w = w0.copy()
        for _ in range(k):
            w = w - eta * a @ (w - w_star)
        got = np.asarray(fn(a.copy(), w0.copy(), w_star.copy(), eta, k), dtype=float)
        assert np.allclose(got, w - w_star, atol=1e-12), (
            f"eigenvalues {eigs}, eta {eta}, k {k}: got {got}, the iterates give {w - w_star}"
        )


def solution_2_gd_rate(eigenvalues: np.ndarray, eta: float) -> float:
    r"""The worst contraction per step, $\max_i |1 - \eta\lambda_i|$."""
    return float(np.max(np.abs(1 - eta * np.asarray(eigenvalues))))


def check_2_gd_rate(fn) -> None:
    r"""Compare with the spectral radius of the iteration matrix $I - \eta A$ (numpy's eigvals)."""
    for seed, eigs, eta in [
        (0, [1.0, 10.0], 0.1),
        (1, [1.0, 10.0], 2 / 11),
        (2, [0.5, 2.0, 3.0], 0.9),
        (3, [1.0, 4.0], 0.6),
    ]:
        a = _quadratic(seed, eigs)
        want = float(np.abs(np.linalg.eigvals(np.eye(len(eigs)) - eta * a)).max())
        got = fn(np.array(eigs), eta)
        assert math.isclose(got, want, rel_tol=1e-9), (
            f"eigenvalues {eigs}, eta {eta}: got {got}, the iteration contracts by {want}"
        )


def solution_3_heavy_ball_tuning(mu: float, lipschitz: float) -> tuple[float, float]:
    r"""$\eta = 4/(\sqrt L + \sqrt\mu)^2$, $\beta = \bigl((\sqrt\kappa - 1)/(\sqrt\kappa + 1)\bigr)^2$."""
    kappa = lipschitz / mu
    return 4 / (math.sqrt(lipschitz) + math.sqrt(mu)) ** 2, (
        (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    ) ** 2


def check_3_heavy_ball_tuning(fn) -> None:
    """The heavy-ball iteration with the candidate's (eta, beta) must contract at the optimal rate."""
    for mu, lip in [(1.0, 100.0), (0.1, 1.0), (2.0, 50.0)]:
        eta, beta = fn(mu, lip)
        radius = 0.0
        for lam in np.linspace(mu, lip, 7):
            # State (e_k, e_{k-1}): e_{k+1} = (1 + beta - eta lam) e_k - beta e_{k-1}.
            t = np.array([[1 + beta - eta * lam, -beta], [1.0, 0.0]])
            radius = max(radius, float(np.abs(np.linalg.eigvals(t)).max()))
        want = (math.sqrt(lip / mu) - 1) / (math.sqrt(lip / mu) + 1)
        # At the optimum the 2x2 iteration matrices have a double eigenvalue, which numpy finds
        # to about sqrt(machine eps): 1e-6 leaves room.
        assert abs(radius - want) < 1e-6, (
            f"mu {mu}, L {lip}: (eta, beta) = ({eta}, {beta}) contracts by {radius:.6f} per step, "
            f"the optimum is (sqrt(kappa) - 1) / (sqrt(kappa) + 1) = {want:.6f}"
        )
