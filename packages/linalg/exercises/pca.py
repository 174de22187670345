r"""# Exercises: Principal component analysis

The explained variances from the covariance's eigenvalues, the error of a rank-k reconstruction,
and whitening."""

import numpy as np

from masterclass.linalg.pca import PCA


def _data(seed: int, n: int = 60, d: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) * np.array([3.0, 1.5, 0.7, 0.2][:d])
    return rng.normal(size=(n, d)) @ mix.T + rng.normal(size=d)


def solution_1_explained_variance(x: np.ndarray, k: int) -> np.ndarray:
    r"""The top `k` eigenvalues of $S = \tilde X^\top\tilde X/(N-1)$, largest first."""
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / (len(x) - 1)
    return np.sort(np.linalg.eigvalsh(s))[::-1][:k]


def check_1_explained_variance(fn) -> None:
    """Compare with the chapter's `PCA.fit(x, k).explained_variance` (computed by the SVD)."""
    for seed, k in [(0, 2), (1, 4), (2, 1)]:
        x = _data(seed)
        want = PCA.fit(x, k).explained_variance
        got = np.asarray(fn(x.copy(), k), dtype=float)
        assert got.shape == want.shape, f"shape {got.shape}, want {want.shape}"
        # Eigenvalues of S vs squared singular values of the centred data: ~1e-13 relative.
        assert np.allclose(got, want, rtol=1e-9), (
            f"seed {seed}, k={k}: got {got}, PCA gives {want} (centre first, divide by N - 1)"
        )


def solution_2_reconstruction_error(x: np.ndarray, k: int) -> float:
    r"""Mean over points of $\lVert x - \hat x\rVert^2$ $= \sum_{i>k}\sigma_i^2 / N$."""
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    return float(np.sum(s[k:] ** 2) / len(x))


def check_2_reconstruction_error(fn) -> None:
    """Compare with projecting and reconstructing through the chapter's `PCA`."""
    for seed, k in [(0, 1), (1, 2), (2, 3), (3, 4)]:
        x = _data(seed)
        want = PCA.fit(x, k).reconstruction_error(x)
        got = fn(x.copy(), k)
        assert np.isclose(got, want, rtol=1e-9, atol=1e-12), (
            f"seed {seed}, k={k}: got {got}, the reconstruction leaves {want} per point"
        )


def solution_3_whiten(x: np.ndarray) -> np.ndarray:
    r"""Scores $(x - \bar x)V$ divided by $\sqrt{\lambda_i}$: identity covariance."""
    xc = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    return xc @ vt.T / (s / np.sqrt(len(x) - 1))


def check_3_whiten(fn) -> None:
    """The output must be a linear map of the centred data with identity sample covariance."""
    for seed in range(3):
        x = _data(seed)
        z = np.asarray(fn(x.copy()), dtype=float)
        assert z.shape == x.shape, f"shape {z.shape}, want {x.shape}"
        cov = np.cov(z, rowvar=False)
        assert np.allclose(z.mean(axis=0), 0.0, atol=1e-10), f"mean {z.mean(axis=0)}, want 0"
        assert np.allclose(cov, np.eye(x.shape[1]), atol=1e-9), (
            f"seed {seed}: sample covariance of the output is\n{cov.round(3)}\nwant the identity"
        )
        xc = x - x.mean(axis=0)
        m, *_ = np.linalg.lstsq(xc, z, rcond=None)
        assert np.allclose(xc @ m, z, atol=1e-9), "the output is not a linear map of x - mean"
