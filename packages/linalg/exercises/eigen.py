r"""# Exercises: Eigenvalues and eigenvectors: power iteration, inverse iteration, shifted QR, Jacobi

Power iteration, Jacobi's rotation angle, and the off-diagonal mass a rotation removes."""

import math

import numpy as np


def _symmetric(seed: int, n: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    w = np.array([10.0, *rng.uniform(-4, 4, n - 1)])  # a clear gap: |10| vs at most 4
    return (q * w) @ q.T


def solution_1_power_iteration(a: np.ndarray, steps: int) -> tuple[float, np.ndarray]:
    """Repeated multiplication and normalization, then the Rayleigh quotient."""
    v = np.ones(a.shape[0]) / math.sqrt(a.shape[0])
    for _ in range(steps):
        v = a @ v
        v /= np.linalg.norm(v)
    return float(v @ a @ v), v


def check_1_power_iteration(fn) -> None:
    """Compare with numpy's `eigh`: the eigenvalue of largest magnitude and its eigenvector."""
    for seed in range(4):
        a = _symmetric(seed)
        w, v = np.linalg.eigh(a)
        i = int(np.argmax(np.abs(w)))
        lam, vec = fn(a, 200)
        assert math.isclose(lam, w[i], rel_tol=1e-9), f"eigenvalue {lam}, numpy's is {w[i]}"
        assert math.isclose(abs(float(np.asarray(vec) @ v[:, i])), 1.0, rel_tol=1e-9), (
            "the vector is not the dominant eigenvector (up to sign), or not of unit length"
        )


def solution_2_jacobi_rotation(app: float, aqq: float, apq: float) -> tuple[float, float]:
    r"""The smaller root of $t^2 + 2\tau t - 1 = 0$, $\tau = (a_{qq} - a_{pp}) / (2a_{pq})$."""
    tau = (aqq - app) / (2.0 * apq)
    t = math.copysign(1.0, tau) / (abs(tau) + math.sqrt(1.0 + tau * tau))
    c = 1.0 / math.sqrt(1.0 + t * t)
    return c, t * c


def check_2_jacobi_rotation(fn) -> None:
    """The rotated 2×2 block must be diagonal, by an angle of at most pi/4."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        app, aqq, apq = rng.normal(size=3) * rng.uniform(0.1, 10, 3)
        c, s = fn(app, aqq, apq)
        j = np.array([[c, s], [-s, c]])
        b = j.T @ np.array([[app, apq], [apq, aqq]]) @ j
        assert math.isclose(c * c + s * s, 1.0, rel_tol=1e-12), "c^2 + s^2 must be 1"
        assert abs(b[0, 1]) < 1e-12 * (abs(app) + abs(aqq) + abs(apq)), f"b_pq = {b[0, 1]}"
        assert abs(s) <= abs(c) + 1e-15, f"|theta| > pi/4 (c={c}, s={s}): take the smaller root"


def solution_3_off_diagonal_drop(a: np.ndarray, p: int, q: int) -> float:
    """Exactly $2a_{pq}^2$."""
    return 2.0 * float(a[p, q]) ** 2


def check_3_off_diagonal_drop(fn) -> None:
    """Rotate with the chapter's formula and measure the off-diagonal mass before and after."""
    for seed in range(4):
        a = _symmetric(seed)
        p, q = seed % 4, 4
        tau = (a[q, q] - a[p, p]) / (2.0 * a[p, q])
        t = math.copysign(1.0, tau) / (abs(tau) + math.sqrt(1.0 + tau * tau))
        c = 1.0 / math.sqrt(1.0 + t * t)
        j = np.eye(5)
        j[p, p] = j[q, q] = c
        j[p, q], j[q, p] = t * c, -t * c
        b = j.T @ a @ j

        def off(m):
            return float(np.sum(m**2) - np.sum(np.diag(m) ** 2))

        want = off(a) - off(b)
        got = fn(a, p, q)
        assert math.isclose(got, want, rel_tol=1e-8), f"pair {(p, q)}: got {got}, measured {want}"
