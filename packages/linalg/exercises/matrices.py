r"""# Exercises: Matrix decompositions and properties: LU, QR, Cholesky, determinant, inverse, condition

Back substitution, one Householder reflection, and the Cholesky factor entry by entry."""

import numpy as np
import scipy.linalg


def solution_1_back_substitution(u: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Solve $Ux = y$ from the last row up: $x_i = (y_i - \sum_{j>i} u_{ij}x_j)/u_{ii}$."""
    n = len(y)
    x = np.zeros(n)
    for i in reversed(range(n)):
        x[i] = (y[i] - u[i, i + 1 :] @ x[i + 1 :]) / u[i, i]
    return x


def check_1_back_substitution(fn) -> None:
    """Compare with `scipy.linalg.solve_triangular` on seeded upper triangular systems."""
    rng = np.random.default_rng(0)
    for n in (1, 3, 6, 10):
        u = np.triu(rng.normal(size=(n, n))) + np.diag(np.sign(rng.normal(size=n)) * 2.0)
        y = rng.normal(size=n)
        want = scipy.linalg.solve_triangular(u, y, lower=False)
        got = np.asarray(fn(u.copy(), y.copy()), dtype=float)
        # Diagonals of magnitude >= ~1 keep these systems well conditioned: agreement ~1e-13.
        assert np.allclose(got, want, atol=1e-9), (
            f"n={n}: off by {np.abs(got - want).max():.2e} from scipy's triangular solve"
        )


def solution_2_householder_vector(x: np.ndarray) -> np.ndarray:
    r"""$v = x + \operatorname{sign}(x_1)\lVert x\rVert e_1$: $H = I - 2vv^\top/v^\top v$ maps $x$ to $-\operatorname{sign}(x_1)\lVert x\rVert e_1$."""
    v = np.array(x, dtype=float)
    v[0] += np.copysign(np.linalg.norm(x), x[0])
    return v


def check_2_householder_vector(fn) -> None:
    """Reflect `x` with the candidate's `v`: all but the first entry must vanish, the norm stay."""
    rng = np.random.default_rng(1)
    cases = [rng.normal(size=n) for n in (2, 4, 7)] + [np.array([1.0, 1e-9, 0.0])]
    cases.append(np.array([-3.0, 4.0]))
    for x in cases:
        v = np.asarray(fn(x.copy()), dtype=float)
        hx = x - 2.0 * v * (v @ x) / (v @ v)
        scale = np.linalg.norm(x)
        assert np.abs(hx[1:]).max() < 1e-12 * scale, (
            f"x={x.tolist()}: H x = {hx.tolist()} is not a multiple of e_1"
        )
        assert np.isclose(hx[0], -np.copysign(scale, x[0]), rtol=1e-12), (
            f"x={x.tolist()}: H x has first entry {hx[0]}, want -sign(x_1) |x| = "
            f"{-np.copysign(scale, x[0])} (the sign that avoids cancellation)"
        )


def solution_3_cholesky(a: np.ndarray) -> np.ndarray:
    r"""$l_{jj} = \sqrt{a_{jj} - \sum_{k<j} l_{jk}^2}$, $l_{ij} = (a_{ij} - \sum_{k<j} l_{ik}l_{jk})/l_{jj}$."""
    n = a.shape[0]
    lower = np.zeros((n, n))
    for j in range(n):
        lower[j, j] = np.sqrt(a[j, j] - lower[j, :j] @ lower[j, :j])
        for i in range(j + 1, n):
            lower[i, j] = (a[i, j] - lower[i, :j] @ lower[j, :j]) / lower[j, j]
    return lower


def check_3_cholesky(fn) -> None:
    """Compare with `numpy.linalg.cholesky` on seeded positive-definite matrices."""
    rng = np.random.default_rng(2)
    for n in (1, 2, 5, 8):
        b = rng.normal(size=(n, n))
        a = b @ b.T + n * np.eye(n)
        want = np.linalg.cholesky(a)
        got = np.asarray(fn(a.copy()), dtype=float)
        assert np.allclose(got, want, atol=1e-10), (
            f"n={n}: off by {np.abs(got - want).max():.2e} from numpy's Cholesky factor"
        )
