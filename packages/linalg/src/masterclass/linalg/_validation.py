r"""# Input checks shared by the chapters

Every public function of `masterclass.linalg` checks its input at the door and raises a
`ValueError` that names the argument, the offending value and what to do instead. The checks live
here so that each chapter can say `_as_matrix(a, "a")` in one line instead of repeating the same
five lines of validation; they are private (the leading underscore) and are not part of the lesson.

What a caller sees, for a covariance that is not symmetric:

>>> import numpy as np
>>> _as_symmetric(np.array([[1.0, 2.0], [0.0, 1.0]]), "cov")
Traceback (most recent call last):
    ...
ValueError: cov must be symmetric; use (a + a.T) / 2 if it is only roughly so
>>> _as_distribution([0.25, 0.75], "p").sum()
np.float64(1.0)

The tolerance of the symmetry check is relative, $\max_{ij} |a_{ij} - a_{ji}| \le
\text{tol} \cdot \max(1, \max_{ij} |a_{ij}|)$: a covariance of entries near $10^6$ computed in
float64 carries rounding errors near $10^{-10}$, which an absolute tolerance would refuse.

## Exercises

1. Write `as_symmetric(a, name, tol)`: the float64 square matrix, or a `ValueError` that names
   `name` for a matrix that is not square, not finite, empty or not symmetric within the relative
   tolerance. Check it: `uv run pytest --exercise linalg._validation`.
2. Write `as_distribution(p, name, axis, atol)`: probability vectors along `axis`, or a
   `ValueError` naming `name`. Check it: `uv run pytest --exercise linalg._validation`.
"""

from __future__ import annotations

import numpy as np


# The base check: convert to float64, then refuse a wrong rank, an empty array and non-finite
# entries, each with its own message.
def _as_float_array(
    x, name: str, *, ndim: int | None = None, allow_neg_inf: bool = False
) -> np.ndarray:
    r"""Return `x` as a finite float64 array, checking its number of dimensions.

    Raises `ValueError` naming `name` when `x` has the wrong number of dimensions, is empty, or
    holds NaN or infinity. With `allow_neg_inf`, $-\infty$ is accepted: it is the log of a zero
    probability, a legitimate entry of a log-space array.
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be an array of real numbers, got {type(x).__name__}"
        ) from exc
    # Then the rank, the size and the values: a log-space array may hold $-\infty$ (the log of a
    # zero probability), never NaN or $+\infty$.
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if allow_neg_inf:
        if np.any(np.isnan(arr) | (arr == np.inf)):
            raise ValueError(f"{name} contains NaN or +infinity; log-space entries must be < +inf")
    elif not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity; all entries must be finite")
    return arr


# Shape-specific wrappers, each building on the last: vector, matrix, square, symmetric.
def _as_vector(x, name: str) -> np.ndarray:
    """Return `x` as a finite float64 vector of shape `(n,)`."""
    return _as_float_array(x, name, ndim=1)


def _as_matrix(a, name: str) -> np.ndarray:
    """Return `a` as a finite float64 matrix of shape `(m, n)`."""
    return _as_float_array(a, name, ndim=2)


def _as_square(a, name: str) -> np.ndarray:
    """Return `a` as a finite float64 square matrix of shape `(n, n)`."""
    arr = _as_matrix(a, name)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square, got shape {arr.shape}")
    return arr


# Symmetry is tested relative to the largest entry, as the chapter's introduction explains.
def _as_symmetric(a, name: str, *, tol: float = 1e-10) -> np.ndarray:
    """Return `a` as a finite float64 symmetric matrix (up to a relative tolerance `tol`)."""
    arr = _as_square(a, name)
    scale = max(1.0, float(np.max(np.abs(arr))))
    if np.max(np.abs(arr - arr.T)) > tol * scale:
        raise ValueError(f"{name} must be symmetric; use (a + a.T) / 2 if it is only roughly so")
    return arr


# Probability vectors: non-negative entries summing to one along `axis`; the message says how far
# off the sums are.
def _as_distribution(p, name: str, *, axis: int = -1, atol: float = 1e-8) -> np.ndarray:
    """Return `p` as a float64 array of probability vectors along `axis`.

    Entries must be finite and non-negative and sum to one along `axis` within `atol`.
    """
    arr = _as_float_array(p, name)
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative entries; probabilities must be >= 0")
    sums = arr.sum(axis=axis)
    if not np.allclose(sums, 1.0, rtol=0.0, atol=atol):
        worst = float(np.max(np.abs(sums - 1.0)))
        raise ValueError(
            f"{name} must sum to 1 along axis {axis} (off by up to {worst:.3g}); normalise it first"
        )
    return arr


# Scalar checks: each returns the value as a float, so a call site converts and checks in one line.
def _check_positive(value: float, name: str) -> float:
    """Return `value` as a float, raising `ValueError` unless it is finite and > 0."""
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _check_nonnegative(value: float, name: str) -> float:
    """Return `value` as a float, raising `ValueError` unless it is finite and >= 0."""
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


# Rates such as momentum live in $[0, 1)$; `closed_right` admits 1 where it makes sense
# (dampening, label smoothing).
def _check_unit_interval(value: float, name: str, *, closed_right: bool = False) -> float:
    """Return `value` as a float in $[0, 1)$ (or $[0, 1]$ with `closed_right`), else raise."""
    v = float(value)
    upper_ok = v <= 1.0 if closed_right else v < 1.0
    if not (np.isfinite(v) and v >= 0.0 and upper_ok):
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return v
