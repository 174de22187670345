r"""# Exercises: Input checks shared by the chapters

Two of the checks every chapter calls at its door, written again: a symmetric matrix (within a
tolerance relative to the entries' size) and probability vectors along an axis."""

import numpy as np
import pytest

from masterclass.linalg._validation import _as_distribution, _as_symmetric


def solution_1_as_symmetric(a, name: str, tol: float = 1e-10) -> np.ndarray:
    r"""`a` as a finite float64 square matrix with $\max|a - a^\top| \le tol \cdot \max(1, \max|a|)$."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    if np.max(np.abs(arr - arr.T)) > tol * max(1.0, float(np.max(np.abs(arr)))):
        raise ValueError(f"{name} must be symmetric")
    return arr


def check_1_as_symmetric(fn) -> None:
    """Accepts what the chapter's `_as_symmetric` accepts (same array); refuses, naming `name`,
    what it refuses."""
    rng = np.random.default_rng(0)
    b = rng.normal(size=(4, 4))
    big = 1e6 * (b + b.T)
    for good in [b + b.T, [[2, 1], [1, 3]], big + 1e-6 * np.triu(np.ones((4, 4)), 1)]:
        want = _as_symmetric(good, "a")
        got = fn(good, "a")
        assert isinstance(got, np.ndarray) and got.dtype == np.float64, "return a float64 array"
        # Exact: the check converts, it never changes a value.
        assert np.array_equal(got, want), f"got {got}, want {want}"
    for bad in [b, [[1.0, 2.0, 3.0]], [[np.nan, 0.0], [0.0, 1.0]], np.zeros((0, 0)), [1.0, 2.0]]:
        with pytest.raises(ValueError):
            _as_symmetric(bad, "a")  # the chapter refuses it ...
        with pytest.raises(ValueError, match="cov") as info:
            fn(bad, "cov")  # ... and so must yours, naming the argument
        assert "cov" in str(info.value)


def solution_2_as_distribution(p, name: str, axis: int = -1, atol: float = 1e-8) -> np.ndarray:
    r"""`p` as float64 with entries $\ge 0$ summing to one along `axis` within `atol`."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty array of finite numbers")
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative entries")
    if not np.allclose(arr.sum(axis=axis), 1.0, rtol=0.0, atol=atol):
        raise ValueError(f"{name} must sum to 1 along axis {axis}")
    return arr


def check_2_as_distribution(fn) -> None:
    """Same verdicts as the chapter's `_as_distribution`, along either axis."""
    rng = np.random.default_rng(1)
    rows = rng.dirichlet(np.ones(5), size=3)
    for good, axis in [(rows, -1), (rows.T, 0), ([0.25, 0.75], -1), ([1.0, 0.0], 0)]:
        want = _as_distribution(good, "p", axis=axis)
        got = fn(good, "p", axis=axis)
        assert np.array_equal(got, want), f"axis {axis}: got {got}, want {want}"
    for bad, axis in [(rows, 0), ([0.5, 0.6], -1), ([1.5, -0.5], -1), ([np.inf, 0.0], -1)]:
        with pytest.raises(ValueError):
            _as_distribution(bad, "p", axis=axis)
        with pytest.raises(ValueError, match="probs"):
            fn(bad, "probs", axis=axis)
