"""# Tests: matrix decompositions and properties

Reference tests for LU, QR, Cholesky, det, inverse, solve, condition number (numpy/scipy).

Tolerances, for well-conditioned random matrices of side <= 8 with entries ~1: backward-stable
factorizations reproduce their input to ~n * eps * ||A||, so `atol = 1e-12` on the
reconstruction; results that pass through an inverse or a solve carry a factor of the condition
number, so they are compared with `rtol = 1e-9` (kappa up to ~1e3 for these matrices).
Factors that are unique only up to sign (Q and R of QR) are compared after fixing signs.
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.linalg import matrices as mat


def random_matrix(seed: int, m: int, n: int) -> np.ndarray:
    """A seeded Gaussian matrix (generic: full rank with probability one)."""
    return np.random.default_rng(seed).normal(size=(m, n))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(0, 10_000))
def test_lu_matches_scipy(n, seed):
    a = random_matrix(seed, n, n)
    f = mat.lu(a)
    p_ref, l_ref, u_ref = scipy.linalg.lu(a)  # scipy: A = P L U, so our P is its transpose
    np.testing.assert_allclose(f.p, p_ref.T, atol=0)
    np.testing.assert_allclose(f.l, l_ref, atol=1e-12)
    np.testing.assert_allclose(f.u, u_ref, atol=1e-12)
    np.testing.assert_allclose(f.p @ a, f.l @ f.u, atol=1e-12)
    assert np.all(np.abs(f.l) <= 1.0 + 1e-15)  # partial pivoting bounds the multipliers


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(0, 10_000))
def test_det_inverse_and_solve_match_numpy(n, seed):
    a = random_matrix(seed, n, n) + 0.5 * n * np.eye(n)  # keep the condition number modest
    b = random_matrix(seed + 1, n, 2)
    assert mat.det(a) == pytest.approx(np.linalg.det(a), rel=1e-9)
    np.testing.assert_allclose(mat.inv(a), np.linalg.inv(a), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mat.solve(a, b), np.linalg.solve(a, b), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        mat.solve(a, b[:, 0]), np.linalg.solve(a, b[:, 0]), rtol=1e-9, atol=1e-12
    )


def test_triangular_solves_match_scipy():
    a = random_matrix(8, 6, 6)
    low = np.tril(a) + 3 * np.eye(6)
    up = np.triu(a) + 3 * np.eye(6)
    b = random_matrix(9, 6, 2)
    np.testing.assert_allclose(
        mat.forward_substitution(low, b),
        scipy.linalg.solve_triangular(low, b, lower=True),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        mat.back_substitution(up, b[:, 0]), scipy.linalg.solve_triangular(up, b[:, 0]), rtol=1e-12
    )


def test_det_sign_follows_row_swaps():
    perm = np.eye(4)[[1, 0, 3, 2]]  # two swaps: det +1
    assert mat.det(perm) == 1.0
    assert mat.det(np.eye(3)[[1, 2, 0]]) == 1.0  # a 3-cycle is even
    assert mat.det(np.eye(3)[[1, 0, 2]]) == -1.0
    assert mat.det(np.ones((3, 3))) == 0.0


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 10_000))
def test_householder_qr_matches_numpy_up_to_signs(m, n, seed):
    a = random_matrix(seed, m, n)
    for mode in ("reduced", "complete"):
        q, r = mat.qr(a, mode=mode)
        q_ref, r_ref = np.linalg.qr(a, mode=mode)
        k = min(m, n)
        signs = np.ones(q_ref.shape[1])
        signs[:k] = np.sign(np.diag(r)[:k]) * np.sign(np.diag(r_ref)[:k])
        np.testing.assert_allclose(q[:, :k], q_ref[:, :k] * signs[:k], atol=1e-10)
        np.testing.assert_allclose(r, r_ref * signs[:, None], atol=1e-10)
        # Properties: orthonormal columns to machine precision, exact reconstruction.
        np.testing.assert_allclose(q.T @ q, np.eye(q.shape[1]), atol=1e-13)
        np.testing.assert_allclose(q @ r, a, atol=1e-12)


def test_cholesky_and_definiteness_checks():
    rng = np.random.default_rng(4)
    m = rng.normal(size=(5, 5))
    spd = m @ m.T + 0.1 * np.eye(5)
    np.testing.assert_allclose(mat.cholesky(spd), np.linalg.cholesky(spd), atol=1e-12)
    assert mat.is_positive_definite(spd)
    assert not mat.is_positive_definite(m + m.T - 10 * np.eye(5))  # has negative eigenvalues
    assert not mat.is_positive_definite(m)  # not symmetric
    assert mat.is_symmetric(spd) and not mat.is_symmetric(m)
    q = scipy.linalg.qr(m)[0]
    assert mat.is_orthogonal(q) and not mat.is_orthogonal(m)


@pytest.mark.parametrize("p", [1, 2, np.inf, "fro"])
def test_condition_number_matches_numpy(p):
    a = random_matrix(5, 6, 6)
    assert mat.cond(a, p) == pytest.approx(np.linalg.cond(a, p), rel=1e-9)
    assert mat.cond(np.ones((3, 3)), p) == np.inf


def test_lstsq_matches_numpy():
    a, b = random_matrix(6, 9, 4), random_matrix(7, 9, 1)[:, 0]
    np.testing.assert_allclose(mat.lstsq(a, b), np.linalg.lstsq(a, b, rcond=None)[0], rtol=1e-10)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="square"):
        mat.lu(np.ones((2, 3)))
    with pytest.raises(ValueError, match="singular"):
        mat.solve(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="b must have shape"):
        mat.solve(np.eye(3), np.ones(4))
    with pytest.raises(ValueError, match="NaN or infinity"):
        mat.det(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="not positive definite"):
        mat.cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        mat.cholesky(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="mode"):
        mat.qr(np.eye(2), mode="full")
    with pytest.raises(ValueError, match="full column rank"):
        mat.lstsq(np.ones((3, 2)), np.ones(3))
