r"""# Singular value decomposition, from scratch by one-sided Jacobi

Every real matrix $A$ `(m, n)` factors as

$$A = U\Sigma V^\top = \sum_{i=1}^{k}\sigma_i\,u_i v_i^\top, \qquad k = \min(m, n),$$

with orthonormal columns $u_i$ (left singular vectors), orthonormal $v_i$ (right singular
vectors) and singular values $\sigma_1\ge\dots\ge\sigma_k\ge 0$. Geometrically, $A$ rotates
($V^\top$), stretches each axis by $\sigma_i$, and rotates again ($U$): it maps the unit circle
to an ellipse whose semi-axes are $\sigma_i u_i$, and $v_i$ is the point of the circle that lands
on the $i$-th semi-axis ($Av_i = \sigma_i u_i$).

![the unit circle and its image under A](figures/svd_ellipse.png)

**Where the factors come from.** $A^\top A$ is symmetric and positive semi-definite, so it has
an orthonormal eigenbasis $v_1, \dots, v_n$ with eigenvalues $\lambda_i \ge 0$ (the
[eigenvalue chapter](eigen.md)). Put $\sigma_i = \sqrt{\lambda_i}$ and, for $\sigma_i > 0$,
$u_i = Av_i/\sigma_i$. These $u_i$ are orthonormal:
$u_i^\top u_j = v_i^\top A^\top A v_j / (\sigma_i\sigma_j) = \lambda_j v_i^\top v_j/(\sigma_i\sigma_j) = \delta_{ij}$.
So $AV = U\Sigma$, and since $V$ is orthogonal, $A = U\Sigma V^\top$. A worked example: for
$A = \begin{pmatrix}3 & 0\\ 4 & 5\end{pmatrix}$, $A^\top A = \begin{pmatrix}25 & 20\\ 20 & 25\end{pmatrix}$
has eigenvalues $45$ and $5$ (eigenvectors $(1, 1)/\sqrt2$ and $(1, -1)/\sqrt2$), so
$\sigma = (3\sqrt5, \sqrt5)$:

>>> import numpy as np
>>> u, s, vt = svd(np.array([[3.0, 0.0], [4.0, 5.0]]))
>>> s.round(6).tolist(), (3 * 5**0.5).__round__(6), (5**0.5).__round__(6)
([6.708204, 2.236068], 6.708204, 2.236068)
>>> bool(np.allclose((u * s) @ vt, [[3.0, 0.0], [4.0, 5.0]]))
True

Forming $A^\top A$ squares the condition number, so small $\sigma_i$ lose half their digits that
way; the algorithm below never forms it.

The SVD reveals the rank
(the number of nonzero $\sigma_i$), the 2-norm $\lVert A\rVert_2 = \sigma_1$, the condition number
$\sigma_1/\sigma_k$, and the best low-rank approximations: The SVD reveals the rank
(the number of nonzero $\sigma_i$), the 2-norm $\lVert A\rVert_2 = \sigma_1$, the condition number
$\sigma_1/\sigma_k$, and the best low-rank approximations:

**Eckart–Young–Mirsky theorem.** Truncating the sum after $r$ terms, $A_r = \sum_{i\le r}\sigma_i
u_iv_i^\top$, gives the closest rank-$r$ matrix to $A$ in both the spectral and Frobenius norms,
with errors

$$\lVert A - A_r\rVert_2 = \sigma_{r+1}, \qquad
  \lVert A - A_r\rVert_F = \Big(\sum_{i>r}\sigma_i^2\Big)^{1/2}.$$

This is why LoRA adapters, PCA, latent semantic analysis and low-rank compression work: most of a
matrix's "energy" often sits in a few singular directions.

**One-sided Jacobi** (Hestenes, 1958) computes the SVD by orthogonalising the columns of $A$ with
plane rotations. For a pair of columns $a_i, a_j$, the rotation by angle $\theta$ with

$$\zeta = \frac{\lVert a_j\rVert^2 - \lVert a_i\rVert^2}{2\,a_i^\top a_j}, \qquad
  t = \tan\theta = \frac{\operatorname{sign}\zeta}{|\zeta| + \sqrt{1+\zeta^2}}$$

makes them orthogonal. **Derivation.** Write $\alpha = \lVert a_i\rVert^2$, $\beta = \lVert a_j\rVert^2$,
$\gamma = a_i^\top a_j$, $c = \cos\theta$, $s = \sin\theta$, and rotate the pair:

$$a_i' = c\,a_i - s\,a_j, \qquad a_j' = s\,a_i + c\,a_j.$$

1. Their inner product is $a_i'^\top a_j' = cs\,\alpha + c^2\gamma - s^2\gamma - cs\,\beta
   = cs(\alpha - \beta) + (c^2 - s^2)\gamma$.
2. Setting it to zero: $\dfrac{c^2 - s^2}{2cs} = \dfrac{\beta - \alpha}{2\gamma} = \zeta$
   (the left side is $\cot 2\theta$).
3. Divide numerator and denominator by $c^2$, with $t = s/c = \tan\theta$:
   $\dfrac{1 - t^2}{2t} = \zeta$, i.e. $t^2 + 2\zeta t - 1 = 0$, so $t = -\zeta \pm \sqrt{1 + \zeta^2}$.
4. Take the root of smaller magnitude ($|\theta| \le \pi/4$: the smallest rotation that does
   the job, which is what makes the sweeps converge) and write it without cancellation:
   $-\zeta + \operatorname{sign}(\zeta)\sqrt{1+\zeta^2} = \operatorname{sign}(\zeta)\,/\,(|\zeta| + \sqrt{1+\zeta^2})$.
5. Then $c = 1/\sqrt{1 + t^2}$ and $s = ct$.

Why sweeps terminate: a rotation keeps $\lVert A\rVert_F$ and changes only the $(i, j)$ entry of
$A^\top A$ among the off-diagonal ones, setting it to zero, so the off-diagonal mass
$\sum_{p \ne q}(a_p^\top a_q)^2$ falls by exactly $2\gamma^2$ at each step. Sweeping over all pairs until every pair is orthogonal gives
$AV = U\Sigma$ with $V$ the product of the rotations; the column norms are the singular values.
It converges quadratically, is simple, and computes small singular values to high *relative*
accuracy (Demmel & Veselić, 1992). Production libraries use Golub–Kahan bidiagonalisation
followed by QR iteration or divide and conquer, which is faster for large matrices.

References: Golub & Van Loan, *Matrix Computations*, §8.6; Eckart & Young (1936); Demmel &
Veselić (1992), *Jacobi's method is more accurate than QR*.

Left out: Golub–Kahan bidiagonalisation, randomised SVD, and complex matrices.

## Exercises

1. Write `jacobi_rotation(alpha, beta, gamma)` returning `(c, s)`, the cosine and sine of the
   smallest rotation that makes two columns with squared norms `alpha`, `beta` and inner product
   `gamma` orthogonal (steps 1-5 above). Check it: `uv run pytest --exercise linalg.svd`.
2. Write `frobenius_error(a, rank)`: $\lVert A - A_r\rVert_F$ for the best rank-`rank`
   approximation, from the singular values alone (no reconstruction). Check it:
   `uv run pytest --exercise linalg.svd`.
3. Write `singular_values_2x2(a)`: the two singular values of a 2×2 matrix, descending, from the
   eigenvalues of $A^\top A$ in closed form (trace and determinant). Check it:
   `uv run pytest --exercise linalg.svd`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_matrix
from masterclass.linalg.matrices import qr


def _one_sided_jacobi(a: np.ndarray, max_sweeps: int) -> tuple[np.ndarray, np.ndarray]:
    # Rotate the columns of `a` (m, n), m >= n, until they are mutually orthogonal; return the
    # rotated columns `w` (m, n) = A V and the accumulated rotations `v` (n, n).
    w = a.copy()
    n = w.shape[1]
    v = np.eye(n)
    eps = np.finfo(np.float64).eps
    # A column whose norm is below `negligible` is rounding noise of a rank-deficient `a`:
    # rotating it against others would chase noise forever, so it is set to exactly zero
    # (sigma = 0) and left alone. Zeroing, not just skipping, matters: a noise column near the
    # threshold that is only skipped can be pushed back over it by a rotation with another
    # column, and the sweeps then never end (hypothesis found a 6 x 6 matrix with four equal
    # rows that did this). Each rotation adds about eps |A| of noise to the columns it touches,
    # so the threshold is n eps |A|_F; the error of dropping such a column is of that size too.
    tol = np.sqrt(w.shape[0]) * eps
    negligible = (n * eps * max(np.sqrt(np.sum(a * a)), 1e-300)) ** 2
    for _ in range(max_sweeps):
        rotated = False
        for i in range(n - 1):
            for j in range(i + 1, n):
                alpha = w[:, i] @ w[:, i]
                beta = w[:, j] @ w[:, j]
                gamma = w[:, i] @ w[:, j]
                if min(alpha, beta) <= negligible:
                    w[:, i if alpha <= negligible else j] = 0.0
                    continue
                # Skip pairs that are already orthogonal to working precision. The cosine of
                # two columns of length m carries about sqrt(m) eps of rounding, so a smaller
                # threshold would rotate forever on noise (LAPACK's dgesvj uses sqrt(m) eps too).
                if abs(gamma) <= tol * np.sqrt(alpha * beta):
                    continue
                rotated = True
                zeta = (beta - alpha) / (2.0 * gamma)
                # For huge zeta, $t \approx 1/(2\zeta)$ (and zeta * zeta would overflow).
                if abs(zeta) > 1e150:
                    t = 0.5 / zeta
                else:
                    t = (1.0 if zeta >= 0 else -1.0) / (abs(zeta) + np.sqrt(1.0 + zeta * zeta))
                c = 1.0 / np.sqrt(1.0 + t * t)
                s = c * t
                # Rotate columns i and j of W, and the same columns of V, by the angle that
                # makes the two columns of W orthogonal.
                wi, wj = w[:, i].copy(), w[:, j]
                w[:, i] = c * wi - s * wj
                w[:, j] = s * wi + c * wj
                vi, vj = v[:, i].copy(), v[:, j]
                v[:, i] = c * vi - s * vj
                v[:, j] = s * vi + c * vj
        if not rotated:
            return w, v
    raise ValueError(f"one-sided Jacobi did not converge in {max_sweeps} sweeps")


# The public SVD turns a wide matrix into a tall one by transposing, and runs one-sided Jacobi on
# the tall one.
def svd(a: ArrayLike, *, max_sweeps: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Reduced SVD of `a` `(m, n)`: `u` `(m, k)`, `s` `(k,)` descending, `vt` `(k, n)`, $k=\min(m,n)$.

    $A = U\,\mathrm{diag}(s)\,V^\top$; `u` and `vt` have orthonormal columns/rows (also for
    rank-deficient `a`, whose null directions are completed to an orthonormal set).

    >>> u, s, vt = svd(np.array([[3.0, 0.0], [0.0, -2.0]]))
    >>> s.tolist()
    [3.0, 2.0]
    """
    a = _as_matrix(a, "a")
    m, n = a.shape
    if m < n:
        # The SVD of the transpose, transposed back: $A^\top = U\Sigma V^\top \Rightarrow A = V\Sigma U^\top$.
        u, s, vt = svd(a.T, max_sweeps=max_sweeps)
        return vt.T, s, u.T
    # Work on $A/c$ with $c = \max|a_{ij}|$ and scale the singular values back: squared entries
    # of a matrix like 1e-160 * I would underflow (and of 1e+160 * I overflow) otherwise.
    c = float(np.max(np.abs(a)))
    w, v = _one_sided_jacobi(a / c if c > 0 else a, max_sweeps)
    s = np.sqrt(np.sum(w * w, axis=0))  # (n,) the column norms
    order = np.argsort(-s, kind="stable")
    s, w, v = s[order], w[:, order], v[:, order]
    # Columns with sigma = 0 (up to rounding) carry no direction; replace them by an orthonormal
    # completion of the others, taken from a complete QR factorization.
    tol = max(m, n) * np.finfo(np.float64).eps * (s[0] if s[0] > 0 else 1.0)
    r = int(np.sum(s > tol))
    u = np.zeros((m, n))
    u[:, :r] = w[:, :r] / s[:r]
    if r < n:
        q = qr(u[:, :r], mode="complete")[0] if r > 0 else np.eye(m)
        u[:, r:] = q[:, r:n]
        s[r:] = np.where(s[r:] > tol, s[r:], 0.0)
    return u, s * c if c > 0 else s, v.T


def singular_values(a: ArrayLike) -> np.ndarray:
    """The singular values of `a` `(m, n)`, descending, shape `(min(m, n),)`."""
    return svd(a)[1]


# ## Low-rank approximation
#
# Keep the $r$ largest terms of the sum $\sum_i\sigma_iu_iv_i^\top$: in matrix form
# $U_{:, :r}\,\mathrm{diag}(\sigma_{:r})\,V^\top_{:r, :}$. Storing the factors costs $r(m+n+1)$
# numbers instead of $mn$.


def low_rank_approximation(a: ArrayLike, rank: int) -> np.ndarray:
    """The best rank-`rank` approximation of `a` `(m, n)` (Eckart–Young); returns `(m, n)`."""
    a = _as_matrix(a, "a")
    k = min(a.shape)
    if not isinstance(rank, int | np.integer) or not 0 <= rank <= k:
        raise ValueError(f"rank must be an integer in [0, {k}] for a matrix of shape {a.shape}")
    u, s, vt = svd(a)
    return (u[:, :rank] * s[:rank]) @ vt[:rank]  # (m, r) * (r,) @ (r, n)


# Eckart–Young: the error of the best rank-$r$ approximation is read off the discarded singular
# values alone.
def eckart_young_error(s: ArrayLike, rank: int, norm: str = "fro") -> float:
    r"""The error $\lVert A - A_r\rVert$ predicted by Eckart–Young from the singular values `s`
    `(k,)` (descending): $\sigma_{r+1}$ for `norm=2`, $\sqrt{\sum_{i>r}\sigma_i^2}$ for `"fro"`."""
    s = np.asarray(s, dtype=np.float64)
    if s.ndim != 1 or np.any(s < 0) or np.any(np.diff(s) > 0):
        raise ValueError("s must be a vector of non-negative singular values in descending order")
    if not 0 <= rank <= len(s):
        raise ValueError(f"rank must lie in [0, {len(s)}], got {rank}")
    if norm == 2:
        return float(s[rank]) if rank < len(s) else 0.0
    if norm == "fro":
        return float(np.sqrt(np.sum(s[rank:] ** 2)))
    raise ValueError(f"norm must be 2 or 'fro', got {norm!r}")
