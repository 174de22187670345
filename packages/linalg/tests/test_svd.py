"""# Tests: singular value decomposition

Reference tests for the one-sided Jacobi SVD, low-rank approximation and Eckart–Young.

References: `numpy.linalg.svd` (values; vectors up to sign) and `scipy.linalg.svdvals`. Singular
values are perfectly conditioned (perturbation <= ||E||_2), so `atol = 1e-12` for entries ~1 and
sides <= 8. Singular vectors are compared up to sign, and only where the gap to the neighbouring
singular values exceeds 1e-3 (their sensitivity is ~eps / gap).
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from masterclass.linalg.svd import eckart_young_error, low_rank_approximation, svd


def random_matrix(seed: int, m: int, n: int) -> np.ndarray:
    """A seeded Gaussian matrix (generic: full rank with probability one)."""
    return np.random.default_rng(seed).normal(size=(m, n))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(0, 10_000))
def test_svd_matches_numpy(m, n, seed):
    a = random_matrix(seed, m, n)
    u, s, vt = svd(a)
    u_ref, s_ref, vt_ref = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(s, s_ref, atol=1e-12)
    k = min(m, n)
    gaps = np.abs(np.subtract.outer(s_ref, s_ref)) + np.eye(k) * 1e9
    for i in range(k):
        if np.min(gaps[i]) > 1e-3:
            sign = np.sign(u[:, i] @ u_ref[:, i])
            np.testing.assert_allclose(sign * u[:, i], u_ref[:, i], atol=1e-9)
            np.testing.assert_allclose(sign * vt[i], vt_ref[i], atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 6)),
        elements=st.floats(-10, 10, allow_subnormal=False),
    )
)
def test_svd_properties_on_arbitrary_matrices(a):
    # Including zero, repeated and rank-deficient matrices that hypothesis likes to find.
    u, s, vt = svd(a)
    k = min(a.shape)
    scale = max(1.0, np.max(np.abs(a)))
    np.testing.assert_allclose(u.T @ u, np.eye(k), atol=1e-12)
    np.testing.assert_allclose(vt @ vt.T, np.eye(k), atol=1e-12)
    np.testing.assert_allclose((u * s) @ vt, a, atol=1e-12 * scale * k)
    assert np.all(np.diff(s) <= 0) and np.all(s >= 0)
    np.testing.assert_allclose(s, scipy.linalg.svdvals(a), atol=1e-12 * scale * k)


@pytest.mark.parametrize("rank", [0, 1, 2, 4])
def test_low_rank_error_is_eckart_young(rank):
    a = random_matrix(1, 7, 5)
    s = np.linalg.svd(a, compute_uv=False)
    approx = low_rank_approximation(a, rank)
    assert np.linalg.matrix_rank(approx) == rank
    assert np.linalg.norm(a - approx, "fro") == pytest.approx(
        eckart_young_error(s, rank), rel=1e-10, abs=1e-12
    )
    assert np.linalg.norm(a - approx, 2) == pytest.approx(
        eckart_young_error(s, rank, norm=2), rel=1e-10, abs=1e-12
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_no_other_rank_r_matrix_is_closer(seed):
    # Eckart–Young as a property: random rank-2 matrices are never closer than the truncated SVD.
    a = random_matrix(seed, 6, 5)
    best = np.linalg.norm(a - low_rank_approximation(a, 2), "fro")
    rng = np.random.default_rng(seed + 1)
    # Candidates near the optimum: perturb the optimal factors.
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    for _ in range(20):
        left = u[:, :2] * s[:2] + 0.1 * rng.normal(size=(6, 2))
        right = vt[:2] + 0.1 * rng.normal(size=(2, 5))
        assert np.linalg.norm(a - left @ right, "fro") >= best - 1e-12


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="2 dimension"):
        svd(np.ones(3))
    with pytest.raises(ValueError, match="NaN or infinity"):
        svd(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="rank must be"):
        low_rank_approximation(np.eye(3), 4)
    with pytest.raises(ValueError, match="descending"):
        eckart_young_error(np.array([1.0, 2.0]), 1)


def test_rank_deficient_matrix_with_equal_rows_converges():
    # Found by hypothesis: four equal rows leave three zero singular values whose rounding-noise
    # columns the Jacobi sweeps once rotated against each other forever. numpy is the reference.
    a = np.array(
        [[-6.5, -6, -6, 2.3125, 7.8125e-3, 2.8369718418716943], [8.4375, 0.5, 2, -5, 7.5, -1]]
        + [[-6.0] * 6] * 4
    )
    u, s, vt = svd(a)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), atol=1e-12)
    np.testing.assert_allclose(u @ np.diag(s) @ vt, a, atol=1e-12)
