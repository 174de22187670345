"""# Benchmark: from-scratch decompositions against LAPACK

Times each of this module's factorizations against the numpy/scipy (LAPACK) routine that computes
the same thing, on the same random matrices, and prints the slowdown ratio. The point is the
price of clarity: ours are Python loops over numpy vector operations, $O(n)$ to $O(n^2)$ Python
steps each, where LAPACK runs blocked, vectorised Fortran. Nothing here is asserted; run it with

    .venv/bin/python packages/linalg/bench/decompositions.py
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg

from masterclass.linalg import eigen, matrices
from masterclass.linalg.svd import svd


def _best_of(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _cases(a: np.ndarray) -> list[tuple[str, object, object]]:
    # (name, ours, reference) for one square matrix `a`.
    sym = (a + a.T) / 2
    b = a[:, 0]
    return [
        ("LU, partial pivoting", lambda: matrices.lu(a), lambda: scipy.linalg.lu(a)),
        ("Householder QR", lambda: matrices.qr(a), lambda: np.linalg.qr(a)),
        ("solve", lambda: matrices.solve(a, b), lambda: np.linalg.solve(a, b)),
        ("SVD, one-sided Jacobi", lambda: svd(a), lambda: np.linalg.svd(a)),
        ("eigvals, shifted QR", lambda: eigen.eigvals_qr(a), lambda: np.linalg.eigvals(a)),
        ("eigh, Jacobi", lambda: eigen.jacobi_eigh(sym), lambda: np.linalg.eigh(sym)),
    ]


def main() -> None:
    """Print one line per (algorithm, size): our time, the reference's, and their ratio."""
    rng = np.random.default_rng(0)
    print(f"{'algorithm':<28}{'n':>5}{'ours (ms)':>12}{'LAPACK (ms)':>13}{'ratio':>9}")
    for n in (16, 64):
        for name, ours, ref in _cases(rng.normal(size=(n, n))):
            t_ours, t_ref = _best_of(ours), _best_of(ref, repeats=7)
            print(
                f"{name:<28}{n:>5}{1e3 * t_ours:>12.2f}{1e3 * t_ref:>13.3f}{t_ours / t_ref:>9.0f}x"
            )


if __name__ == "__main__":
    main()
