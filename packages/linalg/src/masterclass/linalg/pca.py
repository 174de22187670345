r"""# Principal component analysis

Given $N$ points $x_i\in\mathbb{R}^D$ (the rows of $X$ `(N, D)`), PCA finds the orthonormal
directions along which the data vary most. After **centring**, $\tilde X = X - \bar x$, the sample
covariance is $S = \tilde X^\top\tilde X/(N-1)$, and the first principal component is the unit
$w$ maximising the projected variance $w^\top Sw$: by the Rayleigh quotient, the top eigenvector
of $S$. The next components are the following eigenvectors, each orthogonal to the previous
ones, and the variance each explains is its eigenvalue.

Why the top eigenvector, derived. The projected values $\tilde x_i^\top w$ have mean 0 and
variance $\frac1{N-1}\sum_i (\tilde x_i^\top w)^2 = w^\top S w$. Maximise it subject to
$w^\top w = 1$ with a Lagrange multiplier: $\nabla_w[w^\top Sw - \lambda(w^\top w - 1)] =
2Sw - 2\lambda w = 0$, so every stationary $w$ is an eigenvector, $Sw = \lambda w$, and its
variance is $w^\top Sw = \lambda w^\top w = \lambda$. The maximum is the largest eigenvalue. For
the second component add the constraint $w^\top w_1 = 0$; the same argument, restricted to the
subspace orthogonal to $w_1$ (which $S$ maps into itself, being symmetric), gives the second
eigenvector, and so on.

We never form $S$. The SVD of the centred data, $\tilde X = U\Sigma V^\top$, gives
$S = V\frac{\Sigma^2}{N-1}V^\top$: the **components** are the rows of $V^\top$ and the
**explained variances** are $\sigma_i^2/(N-1)$. Working on $\tilde X$ rather than $S$ squares
nothing, so it keeps the precision that forming $\tilde X^\top\tilde X$ would halve.

- **Projection** (the scores): $z = (x - \bar x)V_k$, the coordinates in the top-$k$ basis.
- **Reconstruction**: $\hat x = \bar x + zV_k^\top$; by Eckart–Young (`svd.py`) it is the best
  rank-$k$ approximation of the centred data, with squared error
  $\sum_{i>k}\sigma_i^2$ summed over the points.
- **Explained variance ratio** $\sigma_i^2/\sum_j\sigma_j^2$ tells how many components to keep.
- **Whitening** divides each score by its standard deviation $\sqrt{\lambda_i}$, so the projected
  data have identity covariance (decorrelated, unit variance).

Each component's sign is arbitrary ($w$ and $-w$ explain the same variance); we fix it so that the
entry of largest magnitude is positive, which makes results reproducible.

References: Pearson (1901); Hotelling (1933); Bishop, *Pattern Recognition and Machine Learning*,
§12.1; Jolliffe & Cadima (2016), *Principal component analysis: a review*.

Left out: probabilistic PCA, kernel PCA and randomised/incremental PCA for large data.

![The two principal axes of a 2-D Gaussian cloud, scaled by their standard deviations](figures/pca.png)

## Exercises

1. Write `explained_variance(x, k)`: the top-`k` explained variances from the eigenvalues of the
   sample covariance (forming $S$, the route the chapter avoids). Check it:
   `uv run pytest --exercise linalg.pca`.
2. Write `reconstruction_error(x, k)`: the mean squared distance between each point and its
   rank-`k` PCA reconstruction, from the singular values alone. Check it:
   `uv run pytest --exercise linalg.pca`.
3. Write `whiten(x)`: the PCA-whitened data `(N, D)`, with identity sample covariance. Check it:
   `uv run pytest --exercise linalg.pca`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_matrix
from masterclass.linalg.svd import svd


@dataclass(frozen=True)
class PCA:
    """A fitted PCA model; build one with `PCA.fit(x, n_components)`.

    Shapes: `K` components of `D` features.
    """

    # the feature means subtracted before projecting, (D,)
    mean: np.ndarray
    # the principal directions as rows, orthonormal, (K, D)
    components: np.ndarray
    # the variance of the data along each component, descending, (K,)
    explained_variance: np.ndarray
    # each component's share of the total variance of the data, (K,)
    explained_variance_ratio: np.ndarray
    # the singular values of the centred data for these components, (K,)
    singular_values: np.ndarray
    # divide the scores by their standard deviations in `transform`
    whiten: bool = False

    @classmethod
    def fit(cls, x: ArrayLike, n_components: int | None = None, *, whiten: bool = False) -> PCA:
        r"""Fit to data `x` `(N, D)`, keeping `n_components` (default all, $\min(N, D)$).

        >>> x = np.array([[2.0, 0.0], [0.0, 1.0], [-2.0, 0.0], [0.0, -1.0]])
        >>> pca = PCA.fit(x)
        >>> pca.explained_variance_ratio.round(3).tolist()
        [0.8, 0.2]
        >>> np.abs(pca.components).round(3).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
        """
        # At least two samples, since the variance divides by $N - 1$, and at most $\min(N, D)$
        # components.
        x = _as_matrix(x, "x")
        n, d = x.shape
        if n < 2:
            raise ValueError(f"PCA needs at least 2 samples to estimate a variance, got {n}")
        k_max = min(n, d)
        k = k_max if n_components is None else n_components
        if not isinstance(k, int | np.integer) or not 1 <= k <= k_max:
            raise ValueError(
                f"n_components must be an integer in [1, {k_max}], got {n_components!r}"
            )
        # PCA is the SVD of the centred data: the rows of `vt` are the principal directions.
        mean = x.mean(axis=0)  # (D,)
        _, s, vt = svd(x - mean)  # s (k_max,), vt (k_max, D)
        # Deterministic signs: the largest-magnitude entry of each component is positive.
        signs = np.sign(vt[np.arange(k_max), np.argmax(np.abs(vt), axis=1)])
        vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
        # The component variances are $s_i^2/(N-1)$, the eigenvalues of the sample covariance;
        # the ratios are their shares of the total.
        variance = s**2 / (n - 1)  # (k_max,)
        total = variance.sum()
        ratio = variance / total if total > 0 else np.zeros_like(variance)
        return cls(mean, vt[:k], variance[:k], ratio[:k], s[:k], whiten)

    # Scores are the centred data's coordinates along the components; whitening divides each by
    # its standard deviation, and the inverse undoes both.
    def transform(self, x: ArrayLike) -> np.ndarray:
        """Project `x` `(N, D)` onto the components: scores `(N, K)` (whitened if requested)."""
        x = self._check(x)
        z = (x - self.mean) @ self.components.T  # (N, K)
        if self.whiten:
            z = z / np.sqrt(self._safe_variance())
        return z

    def inverse_transform(self, z: ArrayLike) -> np.ndarray:
        """Map scores `z` `(N, K)` back to feature space `(N, D)`: the rank-K reconstruction."""
        z = _as_matrix(z, "z")
        if z.shape[1] != self.components.shape[0]:
            raise ValueError(f"z must have {self.components.shape[0]} columns, got shape {z.shape}")
        if self.whiten:
            z = z * np.sqrt(self._safe_variance())
        return self.mean + z @ self.components  # (N, D)

    def reconstruction_error(self, x: ArrayLike) -> float:
        """Mean squared distance between the rows of `x` `(N, D)` and their reconstructions."""
        x = self._check(x)
        return float(np.mean(np.sum((x - self.inverse_transform(self.transform(x))) ** 2, axis=1)))

    # Whitening by a zero variance would divide by zero, so it is refused.
    def _safe_variance(self) -> np.ndarray:
        if np.any(self.explained_variance <= 0):
            raise ValueError("cannot whiten along a component with zero variance; keep fewer")
        return self.explained_variance

    def _check(self, x) -> np.ndarray:
        x = _as_matrix(x, "x")
        if x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"x must have {self.mean.shape[0]} features, got shape {x.shape}")
        return x
