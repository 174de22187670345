r"""# Matrix decompositions and properties: LU, QR, Cholesky, determinant, inverse, condition

Almost every question about a matrix, from "solve $Ax=b$" to "what is $\det A$", is answered by
first **factoring** it into matrices that are easy to work with: triangular (solved by
substitution in $O(n^2)$) and orthogonal (inverted by transposing).

- **LU with partial pivoting**: $PA = LU$, with $P$ a permutation, $L$ unit lower triangular and
  $U$ upper triangular. It is Gaussian elimination written down; choosing the largest pivot in
  each column keeps every multiplier $|l_{ij}| \le 1$, which makes it backward stable in practice.
  Then $\det A = \det P^{-1}\prod_i u_{ii} = \pm\prod_i u_{ii}$, and $Ax = b$ is two triangular
  solves, $Ly = Pb$ then $Ux = y$. Inverting is solving for the $n$ columns of $I$ (and rarely
  needed: solve instead).
- **QR by Householder reflections**: $A = QR$ with $Q$ orthogonal. The reflection
  $H = I - 2vv^\top/v^\top v$ maps a column onto a multiple of $e_1$; applying one per column
  zeroes everything below the diagonal. Orthogonal transforms do not amplify errors, so $Q$ is
  orthogonal to machine precision whatever the conditioning (compare Gram–Schmidt in
  `vectors.py`). QR solves least squares, and drives the eigenvalue algorithm of `eigen.py`.
- **Cholesky**: a symmetric positive-definite matrix factors as $A = LL^\top$; the factorization
  exists *iff* $A$ is positive definite, which makes it the standard test for it.
- The **condition number** $\kappa(A) = \lVert A\rVert\,\lVert A^{-1}\rVert$ bounds how much
  relative error in $b$ can be amplified in $x$; for the 2-norm it is $\sigma_{\max}/\sigma_{\min}$.
  Expect to lose about $\log_{10}\kappa$ digits when solving.

**Two derivations the code relies on.** *The Householder vector.* We want a reflection
$H = I - 2vv^\top/v^\top v$ with $Hx = \alpha e_1$. Reflections preserve length, so
$|\alpha| = \lVert x\rVert$, and $Hx = x - 2v\,(v^\top x)/(v^\top v)$ is $x$ minus a multiple of
$v$, so $v$ must be parallel to $x - \alpha e_1$. Both signs of $\alpha$ work in exact
arithmetic; choosing $\alpha = -\operatorname{sign}(x_1)\lVert x\rVert$ makes
$v_1 = x_1 + \operatorname{sign}(x_1)\lVert x\rVert$ a sum of two numbers of the same sign, so it
never cancels catastrophically when $x$ is nearly a multiple of $e_1$.
*Cholesky, entry by entry.* Equate $A = LL^\top$ column by column: $a_{jj} = \sum_{k\le j}
l_{jk}^2$ gives $l_{jj} = \sqrt{a_{jj} - \sum_{k<j}l_{jk}^2}$, and for $i > j$,
$a_{ij} = \sum_{k\le j} l_{ik}l_{jk}$ gives $l_{ij} = (a_{ij} - \sum_{k<j}l_{ik}l_{jk})/l_{jj}$.
The square root's argument is positive for every $j$ exactly when $A$ is positive definite (it is
the $j$-th pivot of elimination), which is why Cholesky doubles as the test.

A worked example: partial pivoting swaps the rows of $\begin{pmatrix}1&2\\3&4\end{pmatrix}$
to put the 3 on top, and the multiplier is $1/3$.

>>> f = lu([[1.0, 2.0], [3.0, 4.0]])
>>> f.perm.tolist(), f.l.round(4).tolist(), f.u.round(4).tolist()
([1, 0], [[1.0, 0.0], [0.3333, 1.0]], [[3.0, 4.0], [0.0, 0.6667]])
>>> det([[1.0, 2.0], [3.0, 4.0]]), solve([[1.0, 2.0], [3.0, 4.0]], [5.0, 6.0]).round(10).tolist()
(-2.0, [-4.0, 4.5])
>>> cholesky([[4.0, 2.0], [2.0, 5.0]]).tolist()
[[2.0, 0.0], [1.0, 2.0]]

References: Trefethen & Bau, *Numerical Linear Algebra*, lectures 10, 20–23; Golub & Van Loan,
*Matrix Computations*, ch. 3–5.

Left out: blocked and pivoted-QR variants, sparse factorizations, and complete pivoting.

## Exercises

1. Write `back_substitution(u, y)`: solve $Ux = y$ for upper triangular $U$. Check it:
   `uv run pytest --exercise linalg.matrices`.
2. Write `householder_vector(x)`: the $v$ whose reflection maps $x$ to
   $-\operatorname{sign}(x_1)\lVert x\rVert e_1$. Check it:
   `uv run pytest --exercise linalg.matrices`.
3. Write `cholesky(a)`: the lower triangular $L$ with $LL^\top = A$, from the entry-by-entry
   equations above. Check it: `uv run pytest --exercise linalg.matrices`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_matrix, _as_square, _as_vector

# ## LU with partial pivoting
#
# Column $k$: swap into row $k$ the row with the largest $|a_{ik}|$, $i\ge k$; store the
# multipliers $l_{ik} = a_{ik}/a_{kk}$ below the diagonal; subtract $l_{ik}$ times row $k$ from
# row $i$. We record the permutation as a vector `perm` with $(PA)_i = A_{\text{perm}_i}$.


class LU(NamedTuple):
    """$PA = LU$: `perm` `(n,)` (row `i` of $PA$ is row `perm[i]` of $A$), `l` `(n, n)`, `u` `(n, n)`."""

    perm: np.ndarray
    l: np.ndarray
    u: np.ndarray

    @property
    def p(self) -> np.ndarray:
        """The permutation matrix $P$ `(n, n)`."""
        return np.eye(len(self.perm))[self.perm]


# Elimination column by column; a pivot swap is applied to `u`, to the multipliers already in
# `l`, and to `perm`.
def lu(a: ArrayLike) -> LU:
    """LU factorization with partial pivoting of a square matrix `a` `(n, n)`.

    Singular matrices factor too (with a zero on the diagonal of `u`); `solve` rejects them.
    """
    a = _as_square(a, "a")
    n = a.shape[0]
    u = a.copy()
    l = np.eye(n)
    perm = np.arange(n)
    # Partial pivoting: the largest entry left in column `k` becomes the pivot, so no multiplier
    # exceeds 1 in size.
    for k in range(n - 1):
        p = k + int(np.argmax(np.abs(u[k:, k])))
        if p != k:
            u[[k, p], k:] = u[[p, k], k:]
            l[[k, p], :k] = l[[p, k], :k]
            perm[[k, p]] = perm[[p, k]]
        if u[k, k] == 0:
            continue  # the whole column below is zero too: nothing to eliminate
        l[k + 1 :, k] = u[k + 1 :, k] / u[k, k]
        u[k + 1 :, k:] -= np.outer(l[k + 1 :, k], u[k, k:])
    return LU(perm, l, np.triu(u))


# ## Triangular solves
#
# Forward substitution solves $Ly = b$ for lower-triangular $L$ from the top row down,
# $y_i = (b_i - \sum_{j<i} l_{ij}y_j)/l_{ii}$; back substitution solves $Ux = y$ from the bottom
# row up. Each costs $O(n^2)$, which is why factoring first pays off.


def forward_substitution(l: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve $Ly = b$ for lower-triangular `l` `(n, n)` and `b` `(n,)` or `(n, k)`."""
    y = np.zeros_like(b)
    for i in range(l.shape[0]):
        y[i] = (b[i] - l[i, :i] @ y[:i]) / l[i, i]
    return y


def back_substitution(u: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Solve $Ux = y$ for upper-triangular `u` `(n, n)` and `y` `(n,)` or `(n, k)`."""
    x = np.zeros_like(y)
    for i in range(u.shape[0] - 1, -1, -1):
        x[i] = (y[i] - u[i, i + 1 :] @ x[i + 1 :]) / u[i, i]
    return x


# Solving factors once, then runs two triangular solves on the permuted right-hand side. A pivot
# tiny next to the largest entry of $U$ counts as zero: the matrix is singular.
def _check_nonsingular(f: LU, name: str) -> None:
    d = np.abs(np.diag(f.u))
    if np.min(d) <= np.finfo(np.float64).eps * len(d) * max(np.max(np.abs(f.u)), 1e-300):
        raise ValueError(
            f"{name} is singular (a zero pivot in its LU factorization); it has no inverse"
        )


def solve(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Solve $Ax = b$ for square nonsingular `a` `(n, n)` and `b` `(n,)` or `(n, k)`."""
    f = lu(a)
    b = _as_float_array_rows(b, f.u.shape[0])
    _check_nonsingular(f, "a")
    return back_substitution(f.u, forward_substitution(f.l, b[f.perm]))


# The right-hand side may be one vector or `k` columns solved together.
def _as_float_array_rows(b, n: int) -> np.ndarray:
    b = np.asarray(b, dtype=np.float64)
    if b.ndim not in (1, 2) or b.shape[0] != n:
        raise ValueError(f"b must have shape ({n},) or ({n}, k) to match a, got {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError("b contains NaN or infinity; all entries must be finite")
    return b


# The determinant comes free with the factorization: the product of the pivots, signed by the
# permutation.
def det(a: ArrayLike) -> float:
    r"""$\det A = (-1)^{\#\text{swaps}}\prod_i u_{ii}$ from the LU factorization of `a` `(n, n)`.

    >>> det([[2.0, 0.0], [1.0, 3.0]])
    6.0
    """
    f = lu(a)
    # The sign of a permutation is $(-1)^{n - \#\text{cycles}}$.
    seen, cycles = np.zeros(len(f.perm), bool), 0
    for i in range(len(f.perm)):
        if not seen[i]:
            cycles += 1
            while not seen[i]:
                seen[i], i = True, f.perm[i]
    sign = -1.0 if (len(f.perm) - cycles) % 2 else 1.0
    return float(sign * np.prod(np.diag(f.u)))


def inv(a: ArrayLike) -> np.ndarray:
    """The inverse of square nonsingular `a` `(n, n)`, by solving $AX = I$."""
    a = _as_square(a, "a")
    return solve(a, np.eye(a.shape[0]))


# ## QR by Householder reflections
#
# For column $k$, let $x = A_{k:,k}$. The reflector with $v = x + \operatorname{sign}(x_1)\lVert x\rVert e_1$
# maps $x$ to $-\operatorname{sign}(x_1)\lVert x\rVert e_1$; adding (not subtracting) the norm
# avoids cancellation when $x$ is already close to a multiple of $e_1$. We apply each reflector to
# the remaining columns ($R$) and accumulate them into $Q$.


def qr(a: ArrayLike, *, mode: str = "reduced") -> tuple[np.ndarray, np.ndarray]:
    r"""Householder QR of `a` `(m, n)`: `q` `(m, k)`, `r` `(k, n)`, $k = \min(m,n)$ for `"reduced"`,
    or `q` `(m, m)`, `r` `(m, n)` for `"complete"`. Columns of `q` are orthonormal to rounding."""
    a = _as_matrix(a, "a")
    if mode not in ("reduced", "complete"):
        raise ValueError(f"mode must be 'reduced' or 'complete', got {mode!r}")
    m, n = a.shape
    r = a.copy()
    q = np.eye(m)
    for k in range(min(m - 1, n)):
        x = r[k:, k]  # (m - k,)
        alpha = np.sqrt(x @ x)
        if alpha == 0:
            continue
        v = x.copy()
        v[0] += alpha if x[0] >= 0 else -alpha
        v /= np.sqrt(v @ v)
        # $H = I - 2vv^\top$ applied to the trailing block from the left, and to $Q$ from the right.
        r[k:, k:] -= 2.0 * np.outer(v, v @ r[k:, k:])
        q[:, k:] -= 2.0 * np.outer(q[:, k:] @ v, v)
    r = np.triu(r)
    if mode == "reduced":
        k = min(m, n)
        return q[:, :k], r[:k]
    return q, r


# ## Cholesky and the structural checks
#
# $l_{jj} = \sqrt{a_{jj} - \sum_{k<j} l_{jk}^2}$ and $l_{ij} = (a_{ij} - \sum_{k<j}l_{ik}l_{jk})/l_{jj}$;
# a non-positive number under the root means $A$ is not positive definite.


def cholesky(a: ArrayLike) -> np.ndarray:
    """The Cholesky factor `l` `(n, n)`, lower triangular, of symmetric positive-definite `a`."""
    a = _as_square(a, "a")
    if not is_symmetric(a):
        raise ValueError("a must be symmetric for a Cholesky factorization")
    n = a.shape[0]
    l = np.zeros_like(a)
    for j in range(n):
        d = a[j, j] - l[j, :j] @ l[j, :j]
        if d <= 0:
            raise ValueError(f"a is not positive definite (pivot {j} is {d:.3g} <= 0)")
        l[j, j] = np.sqrt(d)
        l[j + 1 :, j] = (a[j + 1 :, j] - l[j + 1 :, :j] @ l[j, :j]) / l[j, j]
    return l


# The structural tests: symmetry within a relative tolerance, orthogonality as $A^\top A = I$,
# and positive definiteness as "the Cholesky factorization succeeds".
def is_symmetric(a: ArrayLike, tol: float = 1e-10) -> bool:
    """Whether square `a` equals its transpose up to `tol` times its largest entry."""
    a = _as_square(a, "a")
    return bool(np.max(np.abs(a - a.T)) <= tol * max(1.0, np.max(np.abs(a))))


def is_orthogonal(a: ArrayLike, tol: float = 1e-10) -> bool:
    r"""Whether square `a` satisfies $A^\top A = I$ up to `tol` (columns orthonormal)."""
    a = _as_square(a, "a")
    return bool(np.max(np.abs(a.T @ a - np.eye(a.shape[0]))) <= tol)


def is_positive_definite(a: ArrayLike) -> bool:
    r"""Whether `a` is symmetric with $x^\top A x > 0$ for all $x\ne 0$ (its Cholesky exists)."""
    a = _as_square(a, "a")
    if not is_symmetric(a):
        return False
    try:
        cholesky(a)
    except ValueError:
        return False
    return True


# The condition number bounds how much a relative error in $b$ can grow in the solution of
# $Ax = b$.
def cond(a: ArrayLike, p: str | float = 2) -> float:
    r"""Condition number $\lVert A\rVert_p\lVert A^{-1}\rVert_p$ of square `a` for
    `p` in {1, 2, inf, "fro"}; `inf` (the float) for a singular matrix.

    The 2-norm uses singular values from `svd.py`; the others the inverse from LU.
    """
    a = _as_square(a, "a")
    if p == 2:
        # Imported here because `svd.py` builds on this chapter's QR: a top-level import would
        # make the two modules import each other.
        from masterclass.linalg.svd import svd

        s = svd(a)[1]
        return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")
    if p not in (1, np.inf, "fro"):
        raise ValueError(f"p must be 1, 2, inf or 'fro', got {p!r}")
    try:
        a_inv = inv(a)
    except ValueError:
        return float("inf")
    return matrix_norm(a, p) * matrix_norm(a_inv, p)


# The induced 1- and $\infty$-norms are the largest column and row sums; the Frobenius norm is
# entrywise.
def matrix_norm(a: ArrayLike, p: str | float = "fro") -> float:
    r"""Matrix norm: `1` max column sum, `inf` max row sum, `"fro"` $\sqrt{\sum a_{ij}^2}$."""
    a = _as_matrix(a, "a")
    if p == 1:
        return float(np.max(np.sum(np.abs(a), axis=0)))
    if p == np.inf:
        return float(np.max(np.sum(np.abs(a), axis=1)))
    if p == "fro":
        return float(np.sqrt(np.sum(a * a)))
    raise ValueError(f"p must be 1, inf or 'fro', got {p!r}")


# Least squares by QR: $\lVert Ax - b\rVert$ is smallest where $Rx = Q^\top b$, which needs $R$
# nonsingular, that is, full column rank.
def lstsq(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    r"""Least-squares solution of $\min_x\lVert Ax - b\rVert$ for full-column-rank `a` `(m, n)`,
    $m\ge n$, by QR: $Rx = Q^\top b$. `b` is `(m,)`; returns `(n,)`."""
    a, b = _as_matrix(a, "a"), _as_vector(b, "b")
    if a.shape[0] != b.shape[0] or a.shape[0] < a.shape[1]:
        raise ValueError(f"need a (m, n) with m >= n and b (m,), got {a.shape} and {b.shape}")
    q, r = qr(a)
    if np.min(np.abs(np.diag(r))) <= 1e-12 * np.max(np.abs(r)):
        raise ValueError(
            "a does not have full column rank; the least-squares solution is not unique"
        )
    return back_substitution(r, q.T @ b)
