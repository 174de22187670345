"""# Tests: eigenvalues and eigenvectors

Reference tests for power/inverse iteration, Hessenberg reduction, shifted QR and Jacobi.

References: `numpy.linalg.eigh`, `scipy.linalg.eig` and `scipy.linalg.hessenberg`. Eigenvalues of
symmetric matrices are perfectly conditioned (Weyl), so `atol = 1e-12` for entries ~1. A general
real matrix's eigenvalue $\\lambda_i$ can be ill conditioned: a backward-stable algorithm gets it
to within about $\\epsilon\\lVert A\rVert\\kappa_i$, where $\\kappa_i = 1/|y_i^* x_i|$ (unit left
and right eigenvectors) is its condition number. We allow `100 * eps * ||A||_F * kappa_i` per
eigenvalue (measured worst case over 3000 random matrices: 14), matching each of ours to the
nearest reference eigenvalue. Eigenvectors are compared up to sign.
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.linalg import eigen


def random_matrix(seed: int, m: int, n: int) -> np.ndarray:
    """A seeded Gaussian matrix (generic: full rank with probability one)."""
    return np.random.default_rng(seed).normal(size=(m, n))


def _symmetric(seed: int, n: int) -> np.ndarray:
    a = random_matrix(seed, n, n)
    return (a + a.T) / 2


def _assert_spectrum_close(ours, a, *, factor=100.0, atol=0.0):
    # Match each reference eigenvalue to the nearest of ours, within its condition-number bound.
    w, vl, vr = scipy.linalg.eig(a, left=True, right=True)
    kappa = 1.0 / np.abs(np.sum(np.conj(vl) * vr, axis=0))
    bound = factor * np.finfo(np.float64).eps * np.linalg.norm(a) * kappa + atol
    remaining = list(ours)
    assert len(remaining) == len(w)
    for wi, bi in zip(w, bound):
        j = int(np.argmin([abs(wi - v) for v in remaining]))
        assert abs(wi - remaining.pop(j)) <= bi, f"eigenvalue {wi} missed by more than {bi}"


def _same_up_to_sign(v, v_ref, atol):
    sign = np.sign(v @ v_ref) or 1.0
    np.testing.assert_allclose(sign * v, v_ref, atol=atol)


def test_power_and_inverse_iteration_match_eigh():
    a = _symmetric(0, 6)
    w_ref, v_ref = np.linalg.eigh(a)
    spd = a @ a  # eigenvalues w^2, all distinct in magnitude order
    lam, v = eigen.power_iteration(spd)
    k = int(np.argmax(w_ref**2))
    assert lam == pytest.approx(w_ref[k] ** 2, rel=1e-10)
    _same_up_to_sign(v, v_ref[:, k], atol=1e-6)  # eigenvector error ~ sqrt(residual tol)
    for i in range(6):
        lam, v = eigen.inverse_iteration(a, w_ref[i] + 1e-3)
        assert lam == pytest.approx(w_ref[i], abs=1e-10)
        _same_up_to_sign(v, v_ref[:, i], atol=1e-8)


def test_inverse_iteration_with_exact_shift():
    a = np.diag([1.0, 2.0, 5.0])
    lam, v = eigen.inverse_iteration(a, 2.0)
    assert lam == pytest.approx(2.0, abs=1e-12)
    _same_up_to_sign(v, np.array([0.0, 1.0, 0.0]), atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 8), st.integers(0, 10_000))
def test_hessenberg_matches_scipy(n, seed):
    a = random_matrix(seed, n, n)
    h, q = eigen.hessenberg(a)
    h_ref = scipy.linalg.hessenberg(a)
    assert np.all(np.tril(h, -2) == 0)
    np.testing.assert_allclose(q @ h @ q.T, a, atol=1e-12)
    np.testing.assert_allclose(q.T @ q, np.eye(n), atol=1e-13)
    # The reduction is unique up to the signs of q's columns (for unreduced h).
    np.testing.assert_allclose(np.abs(h), np.abs(h_ref), atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 10), st.integers(0, 10_000))
def test_shifted_qr_eigenvalues_match_numpy(n, seed):
    # Gaussian matrices: about half of them have complex-conjugate pairs.
    a = random_matrix(seed, n, n)
    _assert_spectrum_close(eigen.eigvals_qr(a), a)


def test_shifted_qr_on_hard_cases():
    # A rotation (purely imaginary pair), a Jordan-like block, a companion matrix, a matrix
    # with a zero row (exact zero subdiagonal entries), and a permutation (eigenvalues on the
    # unit circle, all of the same modulus: the case that defeats unshifted QR).
    cases = [
        np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [-2.0, 1.0, 0.0]]),
        np.eye(5)[[1, 2, 3, 4, 0]],
        np.array([[0.0, -1.0], [1.0, 0.0]]),
        np.array([[2.0, 1.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 3.0]]),
        np.array([[0.0, 0.0, 0.0, -24.0], [1, 0, 0, 50], [0, 1, 0, -35], [0, 0, 1, 10]]),
    ]
    for a in cases:
        # The Jordan block's double eigenvalue is defective (infinite condition number): its
        # computed value is only good to ~sqrt(eps), hence the absolute 1e-7.
        _assert_spectrum_close(eigen.eigvals_qr(a), a, atol=1e-7)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(0, 10_000))
def test_jacobi_matches_eigh(n, seed):
    a = _symmetric(seed, n)
    w, v = eigen.jacobi_eigh(a)
    w_ref, v_ref = np.linalg.eigh(a)
    np.testing.assert_allclose(w, w_ref, atol=1e-12)
    # Properties: orthonormal eigenvectors and A = V diag(w) V^T to machine precision.
    np.testing.assert_allclose(v.T @ v, np.eye(n), atol=1e-13)
    np.testing.assert_allclose(v @ np.diag(w) @ v.T, a, atol=1e-12)
    # Vectors match numpy's up to sign when the eigenvalues are well separated.
    if n == 1 or np.min(np.diff(w_ref)) > 1e-3:
        for i in range(n):
            _same_up_to_sign(v[:, i], v_ref[:, i], atol=1e-8)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="square"):
        eigen.eigvals_qr(np.ones((2, 3)))
    with pytest.raises(ValueError, match="symmetric"):
        eigen.jacobi_eigh(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="did not converge"):
        eigen.power_iteration(np.array([[0.0, -1.0], [1.0, 0.0]]), max_iter=50)
    with pytest.raises(ValueError, match="NaN or infinity"):
        eigen.power_iteration(np.array([[np.inf, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="v0"):
        eigen.power_iteration(np.eye(2), v0=np.zeros(2))
