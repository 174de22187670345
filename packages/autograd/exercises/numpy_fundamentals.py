r"""# Exercises: NumPy for ML: vectorisation, broadcasting, strides and einsum

A strided view of image patches, a convolution made of windows and one matrix product, and a
k-means step without a Python loop over points, checked against NumPy's own routines and against
plain loops."""

import numpy as np


def solution_1_patches_2d(image: np.ndarray, k: int) -> np.ndarray:
    """Every `k x k` patch of a 2-D array as a read-only `(H - k + 1, W - k + 1, k, k)` view."""
    sh, sw = image.strides  # bytes per step along rows and columns, whatever the layout
    h, w = image.shape
    return np.lib.stride_tricks.as_strided(
        image, shape=(h - k + 1, w - k + 1, k, k), strides=(sh, sw, sh, sw), writeable=False
    )


def check_1_patches_2d(fn) -> None:
    """Compare with `sliding_window_view`, on contiguous, transposed and step-sliced inputs."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(9, 12))
    cases = [(base, 3), (base, 1), (base.T, 4), (base[::2, 1:], 2), (base[:5, :5], 5)]
    for image, k in cases:
        want = np.lib.stride_tricks.sliding_window_view(image, (k, k))
        got = np.asarray(fn(image, k))
        where = f"image of shape {image.shape} with strides {image.strides}, k={k}"
        assert got.shape == want.shape, f"{where}: shape {got.shape}, want {want.shape}"
        # Pure data movement, no arithmetic: the values must be exactly the inputs'.
        assert np.array_equal(got, want), (
            f"{where}: wrong values; take the strides from image.strides (the input may not be "
            "contiguous) and use them for both the patch position and the offset inside a patch"
        )
        assert np.shares_memory(got, image), f"{where}: a copy, not a view of the image's memory"


def solution_2_correlate_valid(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    r"""$y_i = \sum_j x_{i+j} w_j$: the windows of `x` times `w`, one matrix-vector product."""
    windows = np.lib.stride_tricks.sliding_window_view(x, len(w))  # (n - k + 1, k), a view
    return windows @ w  # (n - k + 1,)


def check_2_correlate_valid(fn) -> None:
    """Compare with `np.correlate(x, w, mode="valid")` (the cross-correlation deep nets call conv)."""
    rng = np.random.default_rng(1)
    for n, k in [(10, 3), (7, 7), (20, 1), (33, 5)]:
        x, w = rng.normal(size=n), rng.normal(size=k)
        want = np.correlate(x, w, mode="valid")
        got = np.asarray(fn(x.copy(), w.copy()), dtype=float)
        assert got.shape == want.shape, f"n={n}, k={k}: shape {got.shape}, want {want.shape}"
        # float64 sums of k products in another order: a few ulps.
        err = np.abs(got - want).max()
        assert err < 1e-12, (
            f"n={n}, k={k}: off by {err:.2e} from np.correlate; is w flipped? (that is np.convolve)"
        )


def solution_3_kmeans_step(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One Lloyd step: the nearest centroid of each row, then each cluster's mean.

    x `(N, d)`, centroids `(K, d)` → labels `(N,)` and new centroids `(K, d)`; a centroid with no
    points keeps its place.
    """
    d2 = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)  # (N, K) by broadcasting
    labels = d2.argmin(axis=1)  # (N,)
    onehot = (labels[:, None] == np.arange(len(centroids))[None, :]).astype(x.dtype)  # (N, K)
    counts = onehot.sum(axis=0)  # (K,)
    sums = onehot.T @ x  # (K, d)
    safe = np.maximum(counts, 1)[:, None]
    new = np.where(counts[:, None] > 0, sums / safe, centroids)
    return labels, new


def _kmeans_step_loop(x, centroids):
    labels = []
    for point in x:
        dists = [
            sum((p - c) ** 2 for p, c in zip(point, centre, strict=True)) for centre in centroids
        ]
        labels.append(min(range(len(centroids)), key=lambda j: dists[j]))
    new = centroids.copy()
    for j in range(len(centroids)):
        members = [point for point, label in zip(x, labels, strict=True) if label == j]
        if members:
            new[j] = sum(members) / len(members)
    return np.array(labels), new


def check_3_kmeans_step(fn) -> None:
    """Compare with a loop over points and clusters, including a cluster that gets no point."""
    rng = np.random.default_rng(2)
    cases = [(rng.normal(size=(30, 2)), rng.normal(size=(3, 2))) for _ in range(3)]
    cases.append((rng.normal(size=(12, 4)), rng.normal(size=(5, 4))))
    far = np.vstack([rng.normal(size=(2, 2)), [[50.0, 50.0]]])  # the third centroid stays empty
    cases.append((rng.normal(size=(20, 2)), far))
    for x, centroids in cases:
        want_labels, want_centroids = _kmeans_step_loop(x, centroids)
        labels, new = fn(x.copy(), centroids.copy())
        where = f"x {x.shape}, centroids {centroids.shape}"
        assert np.array_equal(np.asarray(labels), want_labels), (
            f"{where}: labels {np.asarray(labels).tolist()}, want {want_labels.tolist()}"
        )
        # Means of a few float64 numbers summed in another order: a few ulps.
        new = np.asarray(new, dtype=float)
        assert new.shape == want_centroids.shape and np.allclose(new, want_centroids, atol=1e-12), (
            f"{where}: new centroids off by {np.abs(new - want_centroids).max():.2e}; a cluster "
            "with no points keeps its old centroid"
        )
