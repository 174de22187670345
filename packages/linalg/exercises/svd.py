r"""# Exercises: Singular value decomposition, from scratch by one-sided Jacobi

The Jacobi rotation that orthogonalises two columns, Eckart–Young's error, and a 2×2 SVD by hand."""

import math

import numpy as np

from masterclass.linalg.svd import svd


def solution_1_jacobi_rotation(alpha: float, beta: float, gamma: float) -> tuple[float, float]:
    """`(c, s)` of the smallest rotation making columns with these Gram entries orthogonal."""
    zeta = (beta - alpha) / (2.0 * gamma)
    t = math.copysign(1.0, zeta) / (abs(zeta) + math.sqrt(1.0 + zeta * zeta))
    c = 1.0 / math.sqrt(1.0 + t * t)
    return c, c * t


def check_1_jacobi_rotation(fn) -> None:
    """Rotate random column pairs with the candidate's (c, s): they must come out orthogonal."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        ai, aj = rng.normal(size=5), rng.normal(size=5) * rng.uniform(0.1, 3)
        alpha, beta, gamma = ai @ ai, aj @ aj, ai @ aj
        c, s = fn(alpha, beta, gamma)
        assert math.isclose(c * c + s * s, 1.0, rel_tol=1e-12), f"c^2 + s^2 = {c * c + s * s}"
        new_i, new_j = c * ai - s * aj, s * ai + c * aj
        inner = abs(new_i @ new_j) / math.sqrt(alpha * beta)
        assert inner < 1e-12, f"rotated columns are not orthogonal: cos angle {inner:.2e}"
        assert abs(s) <= abs(c) + 1e-15, f"|theta| > pi/4 (c={c}, s={s}): take the smaller root"


def solution_2_frobenius_error(a: np.ndarray, rank: int) -> float:
    r"""$\lVert A - A_r\rVert_F = \sqrt{\sum_{i>r}\sigma_i^2}$."""
    s = svd(a)[1]
    return float(np.sqrt(np.sum(s[rank:] ** 2)))


def check_2_frobenius_error(fn) -> None:
    """Compare with truncating numpy's SVD and measuring the error of the reconstruction."""
    rng = np.random.default_rng(1)
    for shape, rank in [((6, 4), 1), ((5, 5), 3), ((3, 7), 0), ((4, 4), 4)]:
        a = rng.normal(size=shape)
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        want = float(np.linalg.norm(a - (u[:, :rank] * s[:rank]) @ vt[:rank]))
        got = fn(a, rank)
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (
            f"shape {shape}, rank {rank}: got {got}, numpy's truncated SVD leaves {want}"
        )


def solution_3_singular_values_2x2(a: np.ndarray) -> tuple[float, float]:
    r"""Eigenvalues of the 2×2 $A^\top A$ from its trace and determinant, square-rooted."""
    g = a.T @ a
    tr, det = g[0, 0] + g[1, 1], g[0, 0] * g[1, 1] - g[0, 1] * g[1, 0]
    root = math.sqrt(max(tr * tr / 4 - det, 0.0))
    return math.sqrt(tr / 2 + root), math.sqrt(max(tr / 2 - root, 0.0))


def check_3_singular_values_2x2(fn) -> None:
    """Compare with numpy's singular values on random and special 2×2 matrices."""
    rng = np.random.default_rng(2)
    cases = [rng.normal(size=(2, 2)) for _ in range(10)]
    cases += [np.array([[3.0, 0.0], [4.0, 5.0]]), np.eye(2), np.array([[1.0, 2.0], [2.0, 4.0]])]
    for a in cases:
        want = np.linalg.svd(a, compute_uv=False)
        got = np.asarray(fn(a), dtype=float)
        assert got.shape == (2,), f"return two values, got {got!r}"
        assert np.allclose(got, want, atol=1e-7), f"for {a.tolist()}: got {got}, want {want}"
