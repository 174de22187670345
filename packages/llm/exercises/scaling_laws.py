r"""# Exercises: Scaling laws

The compute-optimal allocation in closed form, and a power law fitted in log space."""

import math

import numpy as np
from scipy.optimize import minimize_scalar


def solution_1_compute_optimal(
    E: float, A: float, alpha: float, B: float, beta: float, flops: float
) -> tuple[float, float]:
    r"""Substitute $D = C / 6N$ and set $\partial L / \partial N = 0$:
    $\alpha A N^{-\alpha} = \beta B D^{-\beta}$, whence $N_{opt} = G (C/6)^{\beta/(\alpha+\beta)}$,
    $D_{opt} = G^{-1} (C/6)^{\alpha/(\alpha+\beta)}$, $G = (\alpha A / \beta B)^{1/(\alpha+\beta)}$."""
    g = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    return g * (flops / 6) ** (beta / (alpha + beta)), (flops / 6) ** (alpha / (alpha + beta)) / g


def check_1_compute_optimal(fn) -> None:
    r"""Minimize $L(N, C / 6N)$ over $\log N$ numerically (scipy) and compare."""
    laws = [
        (1.69, 406.4, 0.34, 410.7, 0.28),
        (0.5, 100.0, 0.5, 200.0, 0.3),
        (2.0, 50.0, 0.2, 80.0, 0.6),
    ]
    for E, A, alpha, B, beta in laws:
        for flops in (1e18, 1e21, 5.76e23):

            def loss(log_n, E=E, A=A, alpha=alpha, B=B, beta=beta, flops=flops):
                n = math.exp(log_n)
                return E + A * n**-alpha + B * (flops / (6 * n)) ** -beta

            best = minimize_scalar(
                loss, bounds=(0.0, 80.0), method="bounded", options={"xatol": 1e-10}
            )
            want_n = math.exp(best.x)
            got_n, got_d = fn(E, A, alpha, B, beta, flops)
            # The numerical optimum is flat: 1e-4 relative in N is its precision.
            assert math.isclose(got_n, want_n, rel_tol=1e-4), (
                f"law {(E, A, alpha, B, beta)}, C={flops:g}: N_opt {got_n:.4g}, the minimum of "
                f"L(N, C/6N) is at {want_n:.4g}"
            )
            assert math.isclose(got_d, flops / (6 * got_n), rel_tol=1e-9), (
                f"D_opt {got_d:.4g} does not spend the budget: C / 6N = {flops / (6 * got_n):.4g}"
            )


def solution_2_fit_power_law(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""$\log y = \log A - \alpha \log x$ is a line: least squares on the logs gives $(A, \alpha)$."""
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(math.exp(intercept)), float(-slope)


def check_2_fit_power_law(fn) -> None:
    """Recover known (A, alpha) from exact power laws, and match numpy's log-log least squares
    on noisy ones."""
    rng = np.random.default_rng(0)
    for A, alpha in [(406.4, 0.34), (2.0, 1.0), (50.0, 0.07)]:
        x = np.geomspace(1e3, 1e9, 12)
        got_a, got_alpha = fn(x, A * x**-alpha)
        assert math.isclose(got_a, A, rel_tol=1e-6) and math.isclose(
            got_alpha, alpha, rel_tol=1e-6
        ), f"exact data y = {A} x^-{alpha}: recovered A={got_a:.6g}, alpha={got_alpha:.6g}"
        y = A * x**-alpha * np.exp(rng.normal(0, 0.05, x.size))
        lstsq = np.linalg.lstsq(np.stack([np.ones_like(x), -np.log(x)], 1), np.log(y), rcond=None)
        want_a, want_alpha = math.exp(lstsq[0][0]), lstsq[0][1]
        got_a, got_alpha = fn(x, y)
        assert math.isclose(got_alpha, want_alpha, rel_tol=1e-6), (
            f"noisy data: alpha {got_alpha:.6g}, least squares on the logs gives {want_alpha:.6g}"
        )
        assert math.isclose(got_a, want_a, rel_tol=1e-6), f"A {got_a:.6g}, want {want_a:.6g}"
