"""# Tests: vector spaces

Reference tests for norms, projections, Gram–Schmidt, rank, basis and span (numpy/scipy).

Tolerances: a norm or inner product is one float64 reduction, `rtol = 1e-13`. Orthonormality of a
Gram–Schmidt basis of a well-conditioned matrix holds to `1e-12`. Projections go through a QR
factorization: `1e-10` absolute on entries of size ~1.
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from masterclass.linalg import vectors as vec


def random_matrix(seed: int, m: int, n: int) -> np.ndarray:
    """A seeded Gaussian matrix (generic: full rank with probability one)."""
    return np.random.default_rng(seed).normal(size=(m, n))


# numpy's p-norm raises |x| to the p-th power unscaled, so it underflows to 0 for tiny entries
# (ours scales first); keep entries either 0 or above 1e-50 so that the reference is exact.
VECTOR = hnp.arrays(
    np.float64,
    st.integers(1, 8),
    elements=st.floats(-1e3, 1e3, allow_subnormal=False).filter(lambda v: v == 0 or abs(v) > 1e-50),
)


@settings(max_examples=40, deadline=None)
@given(VECTOR)
def test_norms_match_numpy(x):
    for p in (1, 2, 3, np.inf):
        assert vec.norm(x, p) == pytest.approx(np.linalg.norm(x, p), rel=1e-13, abs=1e-300)


def test_norm_does_not_overflow():
    # Squaring 1e200 overflows float64; the scaled formula does not.
    assert vec.norm([1e200, 1e200]) == pytest.approx(np.sqrt(2) * 1e200, rel=1e-15)


def test_inner_and_cosine_match_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=7), rng.normal(size=7)
    assert vec.inner(x, y) == pytest.approx(np.dot(x, y), rel=1e-13)
    expected = np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y)
    assert vec.cosine_similarity(x, y) == pytest.approx(expected, rel=1e-13)


def test_projections_match_least_squares():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(8, 3))
    y = rng.normal(size=8)
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    proj = vec.project_onto_columns(y, a)
    np.testing.assert_allclose(proj, a @ coef, atol=1e-10)
    # The residual is orthogonal to the subspace, and projecting twice changes nothing.
    np.testing.assert_allclose(a.T @ (y - proj), 0.0, atol=1e-10)
    np.testing.assert_allclose(vec.project_onto_columns(proj, a), proj, atol=1e-10)
    # Onto a single vector.
    np.testing.assert_allclose(
        vec.project(y, a[:, 0]), vec.project_onto_columns(y, a[:, :1]), atol=1e-12
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(0, 10_000), st.booleans())
def test_gram_schmidt_is_a_qr_factorization(n, seed, modified):
    # Against numpy's QR, up to the sign of each column: ours has a positive diagonal in R.
    a = random_matrix(seed, n + 2, n)
    q, r = vec.gram_schmidt(a, modified=modified)
    q_ref, r_ref = np.linalg.qr(a)
    signs = np.sign(np.diag(r_ref))
    np.testing.assert_allclose(q, q_ref * signs, atol=1e-9)
    np.testing.assert_allclose(r, r_ref * signs[:, None], atol=1e-9)
    np.testing.assert_allclose(q.T @ q, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(q @ r, a, atol=1e-12)


def test_modified_gram_schmidt_is_more_stable_than_classical():
    # A matrix with condition number 1e7. The bounds are eps * kappa^2 (~1e-2) for CGS and
    # eps * kappa (~1e-9) for MGS; measured: 6e-5, 5e-11, and 7e-16 for Householder QR (scipy).
    # The thresholds sit between the three regimes, orders of magnitude from each measurement.
    u, _ = np.linalg.qr(random_matrix(2, 40, 10))
    v, _ = np.linalg.qr(random_matrix(3, 10, 10))
    a = u @ np.diag(np.logspace(0, -7, 10)) @ v.T
    loss = {}
    for name, q in (
        ("classical", vec.gram_schmidt(a, modified=False)[0]),
        ("modified", vec.gram_schmidt(a, modified=True)[0]),
        ("householder", scipy.linalg.qr(a, mode="economic")[0]),
    ):
        loss[name] = np.max(np.abs(q.T @ q - np.eye(10)))
    assert loss["householder"] < 1e-13 < loss["modified"] < 1e-6 < loss["classical"]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 6), st.integers(0, 10_000))
def test_rank_basis_and_span_match_numpy(m, n, r, seed):
    r = min(r, m, n)
    a = random_matrix(seed, m, r) @ random_matrix(seed + 1, r, n)  # rank r (almost surely)
    assert vec.rank(a) == np.linalg.matrix_rank(a) == r
    basis = vec.column_basis(a)
    assert basis.shape == (m, r)
    if r:
        # Same column space: projecting a's columns onto the basis reproduces them.
        onb = vec.column_basis(a, orthonormal=True)
        np.testing.assert_allclose(onb @ (onb.T @ a), a, atol=1e-9)
        np.testing.assert_allclose(onb.T @ onb, np.eye(r), atol=1e-10)
        assert vec.in_span(a @ np.arange(1.0, n + 1), a)
    if r < m:
        # A vector orthogonal to the column space is not in the span.
        null = scipy.linalg.null_space(a.T)[:, 0]
        assert not vec.in_span(null, a)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="same shape"):
        vec.inner([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN or infinity"):
        vec.norm([1.0, np.inf])
    with pytest.raises(ValueError, match="linearly dependent"):
        vec.gram_schmidt(np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]))
    with pytest.raises(ValueError, match="at least as many rows"):
        vec.gram_schmidt(np.ones((2, 3)))
    with pytest.raises(ValueError, match="nonzero"):
        vec.project([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="2 dimension"):
        vec.rank(np.ones(3))
    with pytest.raises(ValueError, match="p must be"):
        vec.norm([1.0], p=0.5)
