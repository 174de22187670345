"""# Tests: principal component analysis

Reference tests for PCA against numpy's eigen-decomposition of the covariance matrix.

The covariance route (`np.cov` + `np.linalg.eigh`) squares the data's condition number while ours
works on the centred data, so the two agree only to ~eps * kappa^2 relative: `rtol = 1e-9` for
the well-conditioned data below. Components are compared up to sign (we fix ours by convention).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.linalg.pca import PCA


def _data(seed: int, n: int = 200, d: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) * np.linspace(3.0, 0.3, d)  # distinct variances
    return rng.normal(size=(n, d)) @ mixing.T + rng.normal(size=d)


def test_components_and_variances_match_covariance_eigh():
    x = _data(0)
    pca = PCA.fit(x)
    w, v = np.linalg.eigh(np.cov(x, rowvar=False))
    w, v = w[::-1], v[:, ::-1]
    np.testing.assert_allclose(pca.explained_variance, w, rtol=1e-9)
    np.testing.assert_allclose(pca.explained_variance_ratio, w / w.sum(), rtol=1e-9)
    for i in range(x.shape[1]):
        sign = np.sign(pca.components[i] @ v[:, i])
        np.testing.assert_allclose(sign * pca.components[i], v[:, i], atol=1e-8)
    np.testing.assert_allclose(pca.mean, x.mean(axis=0), rtol=1e-13)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5))
def test_projection_reconstruction_properties(seed, k):
    x = _data(seed, n=40)
    pca = PCA.fit(x, k)
    z = pca.transform(x)
    # Scores are centred and uncorrelated, with the explained variances on the diagonal.
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(
        np.cov(z, rowvar=False).reshape(k, k), np.diag(pca.explained_variance), atol=1e-9
    )
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(k), atol=1e-12)
    # Reconstruction error = the variance left in the discarded components (Eckart–Young).
    full = PCA.fit(x)
    expected = full.explained_variance[k:].sum() * (x.shape[0] - 1) / x.shape[0]
    assert pca.reconstruction_error(x) == pytest.approx(expected, rel=1e-8, abs=1e-10)
    if k == x.shape[1]:
        np.testing.assert_allclose(pca.inverse_transform(z), x, atol=1e-10)


def test_whitening_gives_identity_covariance():
    x = _data(1)
    pca = PCA.fit(x, 3, whiten=True)
    z = pca.transform(x)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(3), atol=1e-10)
    # Un-whitening inverts it: same reconstruction as the plain model.
    plain = PCA.fit(x, 3)
    np.testing.assert_allclose(
        pca.inverse_transform(z), plain.inverse_transform(plain.transform(x)), atol=1e-10
    )


def test_bad_input_raises_clear_errors():
    x = _data(2, n=10)
    with pytest.raises(ValueError, match="n_components"):
        PCA.fit(x, 6)
    with pytest.raises(ValueError, match="at least 2 samples"):
        PCA.fit(x[:1])
    with pytest.raises(ValueError, match="features"):
        PCA.fit(x).transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        PCA.fit(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="zero variance"):
        PCA.fit(np.ones((4, 2)), whiten=True).transform(np.ones((1, 2)))
