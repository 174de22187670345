r"""# Exercises: Vector spaces: norms, inner products, projections, Gram–Schmidt

Projection onto a column space through the normal equations, and modified Gram–Schmidt."""

import numpy as np


def solution_1_project_onto_columns(y: np.ndarray, a: np.ndarray) -> np.ndarray:
    r"""$A\hat c$ with $A^\top A \hat c = A^\top y$ (columns of `a` independent)."""
    c = np.linalg.solve(a.T @ a, a.T @ y)
    return a @ c


def check_1_project_onto_columns(fn) -> None:
    """Compare with numpy's least squares, and check the residual is orthogonal to the columns."""
    rng = np.random.default_rng(0)
    for m, n in [(5, 2), (8, 3), (4, 1), (6, 6)]:
        a, y = rng.normal(size=(m, n)), rng.normal(size=m)
        want = a @ np.linalg.lstsq(a, y, rcond=None)[0]
        got = np.asarray(fn(y.copy(), a.copy()), dtype=float)
        # Well-conditioned random matrices: both solutions agree to ~1e-14.
        assert np.allclose(got, want, atol=1e-10), (
            f"A {m}x{n}: projection off by {np.abs(got - want).max():.2e} from numpy's lstsq"
        )
        residual = a.T @ (y - got)
        assert np.abs(residual).max() < 1e-10, f"A^T (y - p) = {residual}, want 0"


def solution_2_modified_gram_schmidt(a: np.ndarray) -> np.ndarray:
    """Orthonormal `Q` `(m, n)` with the span of the first k columns of `a` for every k."""
    q = np.array(a, dtype=float)
    for j in range(q.shape[1]):
        for i in range(j):
            # Subtract the projection on q_i from the running remainder, not from a_j.
            q[:, j] -= (q[:, i] @ q[:, j]) * q[:, i]
        q[:, j] /= np.linalg.norm(q[:, j])
    return q


def check_2_modified_gram_schmidt(fn) -> None:
    """Compare with numpy's QR, column signs aligned, on random and ill-conditioned inputs."""
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.normal(size=(30, 8)))
    v, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    ill = (u * np.logspace(0, -6, 8)) @ v.T  # kappa = 1e6
    for a, tol in [
        (rng.normal(size=(6, 4)), 1e-12),
        (rng.normal(size=(10, 10)), 1e-10),
        (ill, 1e-8),
    ]:
        q = np.asarray(fn(a.copy()), dtype=float)
        assert q.shape == a.shape, f"shape {q.shape}, want {a.shape}"
        want, r = np.linalg.qr(a)
        want = want * np.sign(np.diag(r))  # numpy's Q up to column signs; make R's diagonal > 0
        # MGS loses orthogonality like eps * kappa: 1e-8 leaves room at kappa = 1e6 (CGS would
        # reach eps * kappa^2 = 1e-4 and fail).
        err = np.abs(q.T @ q - np.eye(a.shape[1])).max()
        assert err < tol, f"kappa {np.linalg.cond(a):.0e}: |Q^T Q - I| = {err:.1e} > {tol}"
        assert np.allclose(q, want, atol=tol * 100), (
            f"kappa {np.linalg.cond(a):.0e}: Q differs from numpy's QR by {np.abs(q - want).max():.1e}"
        )
