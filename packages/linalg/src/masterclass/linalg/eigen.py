r"""# Eigenvalues and eigenvectors: power iteration, inverse iteration, shifted QR, Jacobi

An eigenvector of a square matrix $A$ is a direction that $A$ only stretches:
$Av = \lambda v$. For a symmetric matrix the eigenvectors form an orthonormal basis and
$A = V\Lambda V^\top$ (the spectral theorem): in that basis $A$ is diagonal. Eigen-analysis
explains why gradient descent on a quadratic converges at a rate set by
$\lambda_{\max}/\lambda_{\min}$, what PCA's components are (eigenvectors of the covariance), how
stable a recurrent network is (the spectral radius of its weight matrix) and how PageRank ranks
pages (the dominant eigenvector).

The roots of $\det(A - \lambda I)$ are the eigenvalues, but no one computes them that way:
polynomial roots are terribly sensitive to rounding, and there is no formula beyond degree 4.
Every practical method is iterative:

1. **Power iteration** $v \leftarrow Av/\lVert Av\rVert$ converges to the eigenvector of largest
   $|\lambda|$, at rate $|\lambda_2/\lambda_1|$ per step.
2. **Inverse iteration** applies power iteration to $(A - \mu I)^{-1}$, whose largest eigenvalue
   is $1/(\lambda - \mu)$ for the $\lambda$ closest to the shift $\mu$: it finds the eigenpair
   nearest to any guess, fast when the guess is good. We factor $A - \mu I$ once (LU) and reuse it.
3. The **QR algorithm** factors $A_k = Q_kR_k$ and forms $A_{k+1} = R_kQ_k = Q_k^\top A_kQ_k$, a
   similarity transform (same eigenvalues) that drives $A_k$ towards upper-triangular (Schur)
   form, with the eigenvalues appearing on the diagonal. Three tricks make it practical:
   reduce $A$ once to **Hessenberg** form (zeros below the first subdiagonal, preserved by QR
   steps, which then cost $O(n^2)$); **shift**: a step on $A - \mu I$ with $\mu$ close to an
   eigenvalue makes the last subdiagonal entry vanish quadratically; and **deflate**: once a
   subdiagonal entry is negligible, split the problem in two. A real matrix may have
   complex-conjugate eigenvalues, which a real shift cannot approach; Francis's **double shift**
   uses both eigenvalues of the trailing $2\times2$ block as a pair of shifts and still computes
   in real arithmetic. Complex pairs end up as $2\times2$ diagonal blocks whose eigenvalues we take
   in closed form.
4. **Jacobi's method** for symmetric matrices: rotate in the plane $(p, q)$ by the angle that
   zeroes $a_{pq}$. Each rotation reduces the off-diagonal mass $\sum_{i\ne j}a_{ij}^2$ by
   $2a_{pq}^2$; sweeping over all pairs converges quadratically and yields eigenvectors that are
   orthogonal to machine precision.

References: Trefethen & Bau, *Numerical Linear Algebra*, lectures 24–30; Golub & Van Loan,
*Matrix Computations*, ch. 7–8; Francis (1961), *The QR transformation*.

Left out: Schur vectors and eigenvectors of non-symmetric matrices from the QR algorithm,
balancing, aggressive early deflation, and Lanczos/Arnoldi for large sparse matrices.

## Exercises

1. Write `power_iteration(a, steps)`: the dominant eigenvalue and a unit eigenvector of a
   symmetric matrix with a clear spectral gap, from $v \leftarrow Av/\lVert Av\rVert$ and the
   Rayleigh quotient. Check it: `uv run pytest --exercise linalg.eigen`.
2. Write `jacobi_rotation(app, aqq, apq)`: the `(c, s)` of Jacobi's rotation for the pair
   $(p, q)$ (the derivation beside `jacobi_eigh`). Check it:
   `uv run pytest --exercise linalg.eigen`.
3. Write `off_diagonal_drop(a, p, q)`: by how much one Jacobi rotation in the plane $(p, q)$
   reduces $\sum_{i \ne j} a_{ij}^2$ (predict it without rotating). Check it:
   `uv run pytest --exercise linalg.eigen`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_square, _as_symmetric, _as_vector
from masterclass.linalg.matrices import back_substitution, forward_substitution, lu

# ## Power iteration
#
# We estimate $\lambda$ by the Rayleigh quotient $v^\top Av$ (for unit $v$) and stop when the
# residual $\lVert Av - \lambda v\rVert$ is below `tol` times $\lVert A\rVert_F$.


def _start_vector(n: int, v0) -> np.ndarray:
    # A fixed, generic start (all ones would be orthogonal to some eigenvectors by symmetry).
    v = np.cos(np.arange(1, n + 1) * 1.7) + 1.3 if v0 is None else _as_vector(v0, "v0").copy()
    if v.shape != (n,) or not np.any(v):
        raise ValueError(f"v0 must be a nonzero vector of shape ({n},)")
    return v / np.sqrt(v @ v)


# Power iteration: each multiplication by $A$ scales every other eigen-component, relative to the
# dominant one, by $|\lambda_i/\lambda_1| \le |\lambda_2/\lambda_1| < 1$.
def power_iteration(
    a: ArrayLike, *, v0: ArrayLike | None = None, tol: float = 1e-12, max_iter: int = 10_000
) -> tuple[float, np.ndarray]:
    r"""The dominant eigenpair (largest $|\lambda|$, assumed real and unique) of `a` `(n, n)`.

    Returns `(lam, v)` with unit `v` `(n,)`; raises `ValueError` if it does not converge.

    >>> lam, v = power_iteration(np.array([[2.0, 0.0], [0.0, 1.0]]))
    >>> round(lam, 10)
    2.0
    """
    # Each step: $w = Av$, the Rayleigh quotient $\lambda = v^\top w$, the residual test, then
    # normalise. A zero $w$ means $Av = 0$: the eigenvalue is 0.
    a = _as_square(a, "a")
    v = _start_vector(a.shape[0], v0)
    scale = max(np.sqrt(np.sum(a * a)), 1e-300)
    for _ in range(max_iter):
        w = a @ v  # (n,)
        lam = v @ w
        if np.sqrt(np.sum((w - lam * v) ** 2)) <= tol * scale:
            return float(lam), v
        norm = np.sqrt(w @ w)
        if norm == 0:
            return 0.0, v
        v = w / norm
    raise ValueError(
        f"power iteration did not converge in {max_iter} iterations; the two largest |eigenvalues| "
        "may be (nearly) equal or complex"
    )


# Inverse iteration is power iteration on $(A - \mu I)^{-1}$, whose dominant eigenvalue
# $1/(\lambda - \mu)$ belongs to the eigenvalue $\lambda$ of $A$ nearest the shift $\mu$.
def inverse_iteration(
    a: ArrayLike,
    shift: float,
    *,
    v0: ArrayLike | None = None,
    tol: float = 1e-12,
    max_iter: int = 1_000,
) -> tuple[float, np.ndarray]:
    """The eigenpair of `a` `(n, n)` whose (real) eigenvalue is closest to `shift`.

    Returns `(lam, v)` with unit `v` `(n,)`.
    """
    a = _as_square(a, "a")
    n = a.shape[0]
    # If the shift is an eigenvalue, $A-\mu I$ is singular; nudge it by a relative epsilon (the
    # iteration then converges in one step, which is the point of a good shift).
    shifted = a - shift * np.eye(n)
    f = lu(shifted)
    tiny = np.finfo(np.float64).eps * max(np.max(np.abs(a)), 1.0)
    u = f.u.copy()
    u[np.diag_indices(n)] = np.where(np.abs(np.diag(u)) < tiny, tiny, np.diag(u))
    v = _start_vector(n, v0)
    scale = max(np.sqrt(np.sum(a * a)), 1e-300)
    for _ in range(max_iter):
        w = back_substitution(u, forward_substitution(f.l, v[f.perm]))
        v = w / np.sqrt(w @ w)
        lam = v @ a @ v
        if np.sqrt(np.sum((a @ v - lam * v) ** 2)) <= tol * scale:
            return float(lam), v
    raise ValueError(f"inverse iteration did not converge in {max_iter} iterations")


# ## Hessenberg reduction
#
# Householder reflectors applied from both sides, $H = Q^\top AQ$, zero column $k$ below the
# first subdiagonal. (Reflecting row $k$ onto $e_1$ as in QR would undo itself when applied from
# the right; leaving the subdiagonal is what lets a similarity transform keep the zeros.)


def hessenberg(a: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r"""Reduce `a` `(n, n)` to upper-Hessenberg `h` with orthogonal `q`: $A = QHQ^\top$."""
    h = _as_square(a, "a").copy()
    n = h.shape[0]
    q = np.eye(n)
    for k in range(n - 2):
        x = h[k + 1 :, k]
        alpha = np.sqrt(x @ x)
        if alpha == 0:
            continue
        v = x.copy()
        v[0] += alpha if x[0] >= 0 else -alpha
        v /= np.sqrt(v @ v)
        # Apply the reflector from both sides (a similarity, so the eigenvalues stay) and
        # accumulate it into `q`; column `k` is then zero below the subdiagonal.
        h[k + 1 :, :] -= 2.0 * np.outer(v, v @ h[k + 1 :, :])
        h[:, k + 1 :] -= 2.0 * np.outer(h[:, k + 1 :] @ v, v)
        q[:, k + 1 :] -= 2.0 * np.outer(q[:, k + 1 :] @ v, v)
        h[k + 2 :, k] = 0.0
    return h, q


def _eig2(block: np.ndarray) -> tuple[complex, complex]:
    # Eigenvalues of a 2x2 block from its trace and determinant (complex when the discriminant < 0).
    half_trace = 0.5 * (block[0, 0] + block[1, 1])
    det = block[0, 0] * block[1, 1] - block[0, 1] * block[1, 0]
    root = np.sqrt(complex(half_trace * half_trace - det))
    return half_trace + root, half_trace - root


def _householder(x: np.ndarray) -> tuple[np.ndarray, float]:
    # The reflector $I - \beta vv^\top$ that maps `x` onto a multiple of $e_1$.
    v = x.copy()
    norm = np.sqrt(x @ x)
    v[0] += norm if x[0] >= 0 else -norm
    vv = v @ v
    return v, (2.0 / vv if vv > 0 else 0.0)


# ## Francis's double-shift step
#
# The two shifts are the eigenvalues $\mu_1, \mu_2$ of the trailing $2\times2$ block, a real pair
# or a complex-conjugate pair. Two QR steps with those shifts amount to one step with the real
# matrix $M = (H - \mu_1I)(H - \mu_2I) = H^2 - sH + tI$, where $s = \mu_1 + \mu_2$ and
# $t = \mu_1\mu_2$ are the block's trace and determinant: real even when the shifts are complex.
# Forming $M$ would cost $O(n^3)$; instead (the *implicit Q theorem*) it suffices to apply the
# reflector that maps $M$'s first column, which has only three nonzeros, to $e_1$, and then
# restore Hessenberg form by chasing the "bulge" this creates down the diagonal with $3\times3$
# reflectors: $O(n^2)$ per step, all in real arithmetic.


def _francis_step(h: np.ndarray, exceptional: bool) -> None:
    # One implicit double-shift QR step on the unreduced Hessenberg block `h` (n >= 3), in place
    # (Golub & Van Loan, Algorithm 7.5.1).
    n = h.shape[0]
    if exceptional:
        # An ad hoc shift pair (from EISPACK's hqr) that breaks the rare cycles of the standard one.
        e = abs(h[n - 1, n - 2]) + abs(h[n - 2, n - 3])
        s, t = 1.5 * e, e * e
    else:
        s = h[n - 2, n - 2] + h[n - 1, n - 1]
        t = h[n - 2, n - 2] * h[n - 1, n - 1] - h[n - 2, n - 1] * h[n - 1, n - 2]
    # The first column of $M = H^2 - sH + tI$.
    x = h[0, 0] * h[0, 0] + h[0, 1] * h[1, 0] - s * h[0, 0] + t
    y = h[1, 0] * (h[0, 0] + h[1, 1] - s)
    z = h[1, 0] * h[2, 1]
    for k in range(n - 2):
        v, beta = _householder(np.array([x, y, z]))
        q = max(0, k - 1)
        h[k : k + 3, q:] -= beta * np.outer(v, v @ h[k : k + 3, q:])
        r = min(k + 4, n)
        h[:r, k : k + 3] -= beta * np.outer(h[:r, k : k + 3] @ v, v)
        x, y = h[k + 1, k], h[k + 2, k]
        if k < n - 3:
            z = h[k + 3, k]
    v, beta = _householder(np.array([x, y]))
    h[n - 2 :, n - 3 :] -= beta * np.outer(v, v @ h[n - 2 :, n - 3 :])
    h[:, n - 2 :] -= beta * np.outer(h[:, n - 2 :] @ v, v)


# The driver reduces to Hessenberg form once, then repeats double-shift sweeps on the active
# block, shrinking it each time a subdiagonal entry becomes negligible.
def eigvals_qr(a: ArrayLike, *, max_iter: int = 10_000) -> np.ndarray:
    """All eigenvalues of a real square `a` `(n, n)` by the shifted QR algorithm.

    Returns a complex array `(n,)`, in the order deflation found them (use `np.sort` to compare).
    """
    h = hessenberg(a)[0]
    n = h.shape[0]
    eps = np.finfo(np.float64).eps
    h_norm = np.sqrt(np.sum(h * h))
    found: list[complex] = []
    hi, stuck, total = n - 1, 0, 0
    while hi >= 0:
        # Deflate: a subdiagonal entry negligible next to its diagonal neighbours (or next to the
        # whole matrix, when those neighbours are zero) is set to zero.
        for k in range(hi, 0, -1):
            scale = abs(h[k, k]) + abs(h[k - 1, k - 1])
            if abs(h[k, k - 1]) <= eps * (scale if scale > 0 else h_norm):
                h[k, k - 1] = 0.0
        if hi == 0 or h[hi, hi - 1] == 0.0:
            found.append(complex(h[hi, hi]))
            hi, stuck = hi - 1, 0
            continue
        if hi == 1 or h[hi - 1, hi - 2] == 0.0:
            found.extend(_eig2(h[hi - 1 : hi + 1, hi - 1 : hi + 1]))
            hi, stuck = hi - 2, 0
            continue
        lo = hi - 1
        while lo > 0 and h[lo, lo - 1] != 0.0:
            lo -= 1
        # Iterate on the active unreduced block only: for eigenvalues, the rest of the matrix
        # no longer matters.
        _francis_step(h[lo : hi + 1, lo : hi + 1], exceptional=stuck > 0 and stuck % 10 == 0)
        stuck, total = stuck + 1, total + 1
        if total > max_iter:
            raise ValueError(f"the QR algorithm did not converge in {max_iter} steps")
    return np.array(found[::-1], dtype=complex)


# ## Jacobi's method for symmetric matrices
#
# **The rotation angle, derived.** Let $J$ be the identity except for the $(p, q)$ block
# $\begin{pmatrix} c & s \\ -s & c\end{pmatrix}$, $c = \cos\theta$, $s = \sin\theta$, and
# $B = J^\top A J$. Only rows and columns $p, q$ change, and on the $2\times2$ block
#
# $$b_{pq} = (c^2 - s^2)\,a_{pq} + cs\,(a_{pp} - a_{qq}).$$
#
# Setting $b_{pq} = 0$ gives $\frac{c^2 - s^2}{2cs} = \frac{a_{qq} - a_{pp}}{2a_{pq}} = \tau$;
# dividing by $c^2$, with $t = \tan\theta$: $t^2 + 2\tau t - 1 = 0$. Its root of smaller size,
# written without cancellation, is $t = \operatorname{sign}(\tau)/(|\tau| + \sqrt{1+\tau^2})$:
# the angle is at most $\pi/4$, so the rotation disturbs the rest of the matrix least (a large
# angle would also zero $b_{pq}$ but swap the diagonal entries). Then $c = 1/\sqrt{1+t^2}$ and
# $s = tc$ (the same algebra as the [one-sided Jacobi SVD](svd.md), there on column inner products).
#
# **Why it converges.** A rotation keeps the Frobenius norm, and on the $2\times 2$ block it keeps
# $a_{pp}^2 + a_{qq}^2 + 2a_{pq}^2$, now all on the diagonal; the other entries of rows $p, q$ rotate
# in pairs and keep their sums of squares. So the off-diagonal mass drops by exactly $2a_{pq}^2$
# per rotation, and a cyclic sweep over all pairs converges, eventually quadratically.
# We accumulate $V \leftarrow VJ$.


def jacobi_eigh(
    a: ArrayLike, *, tol: float = 1e-14, max_sweeps: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    r"""Eigen-decomposition of symmetric `a` `(n, n)` by cyclic Jacobi rotations.

    Returns `(w, v)`: eigenvalues `(n,)` ascending and orthonormal eigenvectors as the columns of
    `v` `(n, n)`, so that $A = V\,\mathrm{diag}(w)\,V^\top$.

    For $A = \begin{pmatrix}2 & 1\\ 1 & 2\end{pmatrix}$, $\tau = 0$, so $t = 1$: one rotation by
    $\pi/4$ diagonalises it, with eigenvalues $1$ and $3$:

    >>> w, v = jacobi_eigh(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> w.round(12).tolist(), bool(np.allclose(np.abs(v), 2**-0.5))
    ([1.0, 3.0], True)
    """
    a = _as_symmetric(a, "a").copy()
    n = a.shape[0]
    v = np.eye(n)
    scale = max(np.sqrt(np.sum(a * a)), 1e-300)
    for _ in range(max_sweeps):
        # Sum the off-diagonal squares directly: $\lVert A\rVert_F^2 - \sum a_{ii}^2$ would cancel
        # catastrophically just when the off-diagonal part becomes small.
        off = np.sqrt(np.sum((a - np.diag(np.diag(a))) ** 2))
        if off <= tol * scale:
            order = np.argsort(np.diag(a), kind="stable")
            return np.diag(a)[order].copy(), v[:, order]
        # One sweep: a rotation for each off-diagonal pair, chosen to zero $a_{pq}$; taking the
        # smaller root $t$ keeps the rotation angle at most $\pi/4$.
        for p in range(n - 1):
            for q in range(p + 1, n):
                if a[p, q] == 0.0:
                    continue
                tau = (a[q, q] - a[p, p]) / (2.0 * a[p, q])
                t = (1.0 if tau >= 0 else -1.0) / (abs(tau) + np.sqrt(1.0 + tau * tau))
                c = 1.0 / np.sqrt(1.0 + t * t)
                s = t * c
                for m in (a, v):  # columns p, q of A and V: M <- M J
                    mp, mq = m[:, p].copy(), m[:, q].copy()
                    m[:, p], m[:, q] = c * mp - s * mq, s * mp + c * mq
                ap, aq = a[p, :].copy(), a[q, :].copy()  # rows p, q of A: A <- J^T A
                a[p, :], a[q, :] = c * ap - s * aq, s * ap + c * aq
    raise ValueError(f"Jacobi's method did not converge in {max_sweeps} sweeps")
