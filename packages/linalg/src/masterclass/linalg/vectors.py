r"""# Vector spaces: norms, inner products, projections, Gram–Schmidt

A **vector space** is a set closed under addition and scaling; $\mathbb{R}^n$ is the one ML lives
in: an embedding, a row of weights, a gradient. This chapter builds the geometry that everything
later leans on.

- A **norm** measures length: $\lVert x\rVert_p = (\sum_i |x_i|^p)^{1/p}$; $p=2$ is Euclidean
  length, $p=1$ the sum of magnitudes (it promotes sparsity as a penalty), $p=\infty$ the largest
  entry.
- The **inner product** $\langle x, y\rangle = x^\top y = \lVert x\rVert\lVert y\rVert\cos\theta$
  measures alignment: attention scores and cosine similarity are inner products.
- The **projection** of $y$ onto the span of the columns of $A$ is the closest point $A\hat c$ to
  $y$ in that subspace; the residual $y - A\hat c$ is orthogonal to every column (the normal
  equations $A^\top(y - A\hat c) = 0$). With an orthonormal basis $Q$ it is simply $QQ^\top y$.
- **Gram–Schmidt** turns independent vectors into an orthonormal basis of the same span by
  subtracting from each vector its projections onto the previous ones.
- The **rank** of $A$ is the dimension of its column span; a vector $v$ lies **in the span** of
  the columns iff appending it does not raise the rank. A **basis** of the column space is any
  maximal independent set of columns.

**The normal equations**, derived. The squared distance from $y$ to a point $Ac$ of the span is
$f(c) = \lVert y - Ac\rVert^2 = y^\top y - 2c^\top A^\top y + c^\top A^\top A c$. Its gradient is
$\nabla f = -2A^\top y + 2A^\top A c$; setting it to zero gives $A^\top A\hat c = A^\top y$, and
$A^\top A$ is positive definite when the columns are independent, so this stationary point is the
unique minimum. Rearranged, $A^\top(y - A\hat c) = 0$: the residual is orthogonal to every column,
the geometric picture of "closest point". If $A = Q$ has orthonormal columns, $Q^\top Q = I$ and
$\hat c = Q^\top y$: the coordinates are just inner products, which is why Gram–Schmidt is worth
doing.

A worked example: projecting $(1, 2, 3)$ onto the plane spanned by $e_1$ and $e_1 + e_2$ drops
the third coordinate, and Gram–Schmidt turns that basis into $e_1, e_2$.

>>> a = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
>>> project_onto_columns([1.0, 2.0, 3.0], a).round(12).tolist()
[1.0, 2.0, 0.0]
>>> q, r = gram_schmidt(a)
>>> q.round(12).tolist(), r.round(12).tolist()
([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 1.0]])

A note on stability. *Classical* Gram–Schmidt (CGS) computes all projections of $a_j$ from the
original vector; *modified* Gram–Schmidt (MGS) subtracts them one at a time from the running
remainder. In exact arithmetic they agree; in floating point the loss of orthogonality
$\lVert I - Q^\top Q\rVert$ grows like $\epsilon\,\kappa(A)^2$ for CGS but only $\epsilon\,\kappa(A)$
for MGS (Björck, 1967), and Householder QR (`matrices.py`) reaches $\epsilon$ whatever
$\kappa(A)$. The tests show it on a $40\times10$ matrix with $\kappa = 10^7$: the
orthogonality error is about $6\cdot10^{-5}$ for CGS, $5\cdot10^{-11}$ for MGS and
$7\cdot10^{-16}$ for Householder.

References: Strang, *Introduction to Linear Algebra*, ch. 3–4; Trefethen & Bau, *Numerical Linear
Algebra*, lectures 7–8; Björck (1967), *Solving linear least squares problems by Gram–Schmidt
orthogonalization*.

Left out: complex vector spaces and abstract (function) spaces.

## Exercises

1. Write `project_onto_columns(y, a)`: the projection of `y` onto the column span of `a`
   (independent columns) through the normal equations. Check it:
   `uv run pytest --exercise linalg.vectors`.
2. Write `modified_gram_schmidt(a)`: the orthonormal `Q` of modified Gram–Schmidt. The checker
   tries a matrix with $\kappa = 10^6$: try classical Gram–Schmidt on it too and see it fail.
   Check it: `uv run pytest --exercise linalg.vectors`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_matrix, _as_vector
from masterclass.linalg.svd import singular_values

# ## Norms and inner products


def norm(x: ArrayLike, p: float = 2) -> float:
    r"""The $p$-norm of a vector `x` `(n,)`: $(\sum_i |x_i|^p)^{1/p}$, or $\max_i|x_i|$ for `p=inf`.

    >>> norm([3.0, 4.0]), norm([3.0, -4.0], p=1), norm([3.0, -4.0], p=np.inf)
    (5.0, 7.0, 4.0)
    """
    x = _as_vector(x, "x")
    if p == np.inf:
        return float(np.max(np.abs(x)))
    if not p >= 1:
        raise ValueError(f"p must be >= 1 (or inf) for a norm, got {p!r}")
    # Scale by the largest entry first, so that squaring 1e200 does not overflow.
    scale = np.max(np.abs(x))
    if scale == 0:
        return 0.0
    return float(scale * np.sum((np.abs(x) / scale) ** p) ** (1.0 / p))


def inner(x: ArrayLike, y: ArrayLike) -> float:
    r"""The inner product $x^\top y = \sum_i x_i y_i$ of two vectors of the same shape `(n,)`."""
    x, y = _as_vector(x, "x"), _as_vector(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    return float(np.sum(x * y))


def cosine_similarity(x: ArrayLike, y: ArrayLike) -> float:
    r"""$\cos\theta = x^\top y / (\lVert x\rVert\lVert y\rVert)$, in $[-1, 1]$; vectors must be nonzero."""
    nx, ny = norm(x), norm(y)
    if nx == 0 or ny == 0:
        raise ValueError("cosine_similarity needs nonzero vectors; the angle to 0 is undefined")
    return inner(x, y) / (nx * ny)


# ## Projections
#
# Onto a single vector $a$: $\operatorname{proj}_a y = \frac{a^\top y}{a^\top a}\,a$. Onto the
# column span of $A$ `(n, k)`: orthonormalise the columns to $Q$ (Householder QR, the stable way),
# then $\hat y = Q(Q^\top y)$. The projection matrix $P = QQ^\top$ is symmetric and idempotent,
# $P^2 = P$: projecting twice changes nothing.


def project(y: ArrayLike, a: ArrayLike) -> np.ndarray:
    """Project `y` `(n,)` onto the line spanned by the nonzero vector `a` `(n,)`; returns `(n,)`."""
    y, a = _as_vector(y, "y"), _as_vector(a, "a")
    aa = inner(a, a)
    if aa == 0:
        raise ValueError("a must be a nonzero vector to project onto")
    return inner(a, y) / aa * a


def project_onto_columns(y: ArrayLike, a: ArrayLike) -> np.ndarray:
    """Project `y` `(n,)` onto the column span of `a` `(n, k)`; returns `(n,)`."""
    y, a = _as_vector(y, "y"), _as_matrix(a, "a")
    if a.shape[0] != y.shape[0]:
        raise ValueError(f"a has {a.shape[0]} rows but y has {y.shape[0]} entries; they must match")
    q = column_basis(a, orthonormal=True)  # (n, r)
    return q @ (q.T @ y)


# ## Gram–Schmidt, classical and modified
#
# For column $j$, classical GS computes $r_{ij} = q_i^\top a_j$ with the *original* $a_j$ for all
# $i<j$ at once; modified GS updates $v \leftarrow v - (q_i^\top v)\,q_i$ one $i$ at a time, so
# each projection sees the rounding errors of the previous ones and removes them too.


def gram_schmidt(a: ArrayLike, *, modified: bool = True) -> tuple[np.ndarray, np.ndarray]:
    r"""Orthonormalise the columns of `a` `(m, n)`, $m \ge n$, full column rank: $A = QR$.

    Returns `q` `(m, n)` with orthonormal columns and upper-triangular `r` `(n, n)` with positive
    diagonal. `modified=False` gives classical Gram–Schmidt (less stable; kept to show why).
    """
    a = _as_matrix(a, "a")
    m, n = a.shape
    if m < n:
        raise ValueError(f"a must have at least as many rows as columns, got shape {a.shape}")
    q = np.zeros((m, n))
    r = np.zeros((n, n))
    scale = np.max(np.abs(a))
    # Column by column: subtract the projections on the earlier $q_i$ (one at a time, or all at
    # once from the original column), then normalise what is left. A residual at rounding level
    # means the column depends on the earlier ones.
    for j in range(n):
        v = a[:, j].copy()  # (m,)
        if modified:
            for i in range(j):
                r[i, j] = q[:, i] @ v
                v -= r[i, j] * q[:, i]
        else:
            r[:j, j] = q[:, :j].T @ a[:, j]  # (j,) all projections of the original column
            v -= q[:, :j] @ r[:j, j]
        r[j, j] = np.sqrt(v @ v)
        if r[j, j] <= 1e-12 * max(scale, 1e-300) * np.sqrt(m):
            raise ValueError(
                f"columns of a are linearly dependent (column {j} is in the span of the previous "
                "ones); use column_basis for rank-deficient input"
            )
        q[:, j] = v / r[j, j]
    return q, r


# ## Rank, basis and span
#
# The textbook test is Gaussian elimination: row-reduce $A$ with partial pivoting, and a column
# whose remaining entries are all (nearly) zero depends on the previous pivot columns. The number
# of pivots is the rank, and the pivot columns of the *original* $A$ are a basis of its column
# space. In floating point, "nearly zero" needs a threshold, and rounding during elimination can
# leave a dependent column's residual just above any fixed one. So we count the rank the reliable
# way, as the number of singular values above $\max(m,n)\,\epsilon\,\sigma_{\max}$ (`svd.py`,
# numpy's `matrix_rank` rule), and use elimination for what it does best: choosing *which*
# columns form a basis, taking pivots in column order (only clearly nonzero ones, relative
# threshold $10^{-10}$) until there are as many as the rank.


def rank(a: ArrayLike, tol: float | None = None) -> int:
    r"""The rank of `a` `(m, n)`: the number of singular values above `tol` (default
    $\max(m,n)\,\epsilon\,\sigma_{\max}$, as `numpy.linalg.matrix_rank`)."""
    a = _as_matrix(a, "a")
    s = singular_values(a)
    if tol is None:
        tol = max(a.shape) * np.finfo(np.float64).eps * s[0]
    return int(np.sum(s > tol))


def _pivot_columns(a: np.ndarray, r: int) -> list[int]:
    # Gaussian elimination with partial pivoting; stop after `r` pivots.
    u = a.copy()
    n = u.shape[1]
    threshold = 1e-10 * max(np.max(np.abs(u)), 1e-300)
    pivots: list[int] = []
    row = 0
    for col in range(n):
        if len(pivots) == r:
            break
        p = row + int(np.argmax(np.abs(u[row:, col])))
        if abs(u[p, col]) <= threshold:
            continue
        u[[row, p]] = u[[p, row]]
        u[row + 1 :] -= np.outer(u[row + 1 :, col] / u[row, col], u[row])
        pivots.append(col)
        row += 1
    return pivots


# The basis: the pivot columns of the original `a`, orthonormalised on request.
def column_basis(a: ArrayLike, *, orthonormal: bool = False) -> np.ndarray:
    """A basis of the column space of `a` `(m, n)`: its pivot columns `(m, r)`, or, with
    `orthonormal=True`, an orthonormal basis of the same span (modified Gram–Schmidt on them)."""
    a = _as_matrix(a, "a")
    pivots = _pivot_columns(a, rank(a))
    if not pivots:
        return np.zeros((a.shape[0], 0))
    basis = a[:, pivots]
    return gram_schmidt(basis)[0] if orthonormal else basis


# `v` is in the span exactly when appending it leaves the rank unchanged.
def in_span(v: ArrayLike, a: ArrayLike, tol: float | None = None) -> bool:
    """Whether `v` `(m,)` lies in the column span of `a` `(m, n)`: appending it keeps the rank.

    `tol` is the singular-value threshold passed to `rank` (default: numpy's rule for each)."""
    v, a = _as_vector(v, "v"), _as_matrix(a, "a")
    if a.shape[0] != v.shape[0]:
        raise ValueError(f"a has {a.shape[0]} rows but v has {v.shape[0]} entries; they must match")
    return rank(np.column_stack([a, v]), tol) == rank(a, tol)
