r"""# Gradient descent and its variants: batch, mini-batch, stochastic; momentum and Nesterov

To minimise an average loss over $N$ examples, $L(w) = \frac1N\sum_{i=1}^N \ell_i(w)$, gradient
descent repeats $w \leftarrow w - \eta\nabla L(w)$. The variants differ in how much data each
gradient sees:

- **batch** gradient descent uses all $N$ examples per step: the exact gradient, expensive steps;
- **stochastic** gradient descent (SGD) uses one random example, $\nabla\ell_i(w)$: an unbiased
  but noisy estimate, $N$ times cheaper;
- **mini-batch** SGD averages $B$ random examples: the noise variance falls like $1/B$, and $B$
  matches the parallelism of the hardware. Deep learning uses this one; an **epoch** is one pass
  over a random permutation of the data, cut into batches.

**Why it converges, on a quadratic.** For least squares $L(w) = \frac1{2N}\lVert Xw - y\rVert^2$
the Hessian $A = X^\top X/N$ is constant, with eigenvalues $\mu = \lambda_{\min}$ and
$L_{\max} = \lambda_{\max}$. Batch gradient descent gives exactly
$w_k - w^\star = (I - \eta A)^k(w_0 - w^\star)$: it converges iff $\eta < 2/L_{\max}$, and with
$\eta = 1/L_{\max}$ the error shrinks by $(1 - 1/\kappa)$ per step, $\kappa = L_{\max}/\mu$. Ill
conditioning (a long narrow valley) makes that slow. **Momentum** (Polyak's heavy ball) adds a
fraction $\beta$ of the previous step, improving the rate to $(\sqrt\kappa - 1)/(\sqrt\kappa + 1)$
for tuned $\eta, \beta$; **Nesterov's** variant evaluates the gradient at the look-ahead point
and is provably optimal among first-order methods on smooth convex functions.

The rates, derived. With $w^\star$ the minimiser, $\nabla L(w) = A(w - w^\star)$, so one step
gives $w_{k+1} - w^\star = (I - \eta A)(w_k - w^\star)$ and $k$ steps the power above. Write the
error in the eigenvectors of $A$: component $i$ is multiplied by $1 - \eta\lambda_i$ each step,
so the worst component shrinks by $\rho(\eta) = \max_i|1 - \eta\lambda_i| = \max(|1 - \eta\mu|,
|1 - \eta L_{\max}|)$. It is below 1 iff $0 < \eta < 2/L_{\max}$. The best constant step balances
the two ends, $1 - \eta\mu = \eta L_{\max} - 1$, so $\eta = 2/(\mu + L_{\max})$ and
$\rho = (\kappa - 1)/(\kappa + 1)$: about $1 - 2/\kappa$, so $\kappa/2$ steps per factor $e$.
Heavy ball's iteration is a $2\times2$ linear recurrence per eigenvalue,
$e_{k+1} = (1 + \beta - \eta\lambda)e_k - \beta e_{k-1}$; choosing
$\eta = 4/(\sqrt{L_{\max}} + \sqrt\mu)^2$ and $\beta = \bigl(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\bigr)^2$
makes both roots of every one of them complex with modulus $\sqrt\beta$, the rate quoted above.

A worked example: on $\kappa = 100$ the best plain step needs about 50 steps per factor $e$ and
tuned momentum about 5.

>>> import math
>>> kappa = 100.0
>>> plain, heavy = (kappa - 1) / (kappa + 1), (kappa**0.5 - 1) / (kappa**0.5 + 1)
>>> round(-1 / math.log(plain), 1), round(-1 / math.log(heavy), 1)
(50.0, 5.0)

With noisy gradients a constant $\eta$ makes SGD hover in a ball around the minimum, of radius
proportional to $\eta$ and the gradient noise; decreasing schedules (`schedules.py`) shrink the
ball. (On data the model fits exactly, the noise vanishes at the optimum and constant-step SGD
converges all the way: the tests use that "interpolation" case.)

![Distance to the solution per epoch: batch descent is exact but slow, momentum fixes the conditioning, stochastic and mini-batch descent move fast early and then hover at a noise floor that shrinks with the batch size](figures/gradient_descent.png)

The step itself is `optimizers.sgd_step`: this chapter is about the loop around it, the data
each step sees.

References: Robbins & Monro (1951); Polyak (1964); Nesterov (1983); Bottou, Curtis & Nocedal
(2018), *Optimization methods for large-scale machine learning*, §4; Goh (2017), *Why momentum
really works* (Distill).

Left out: line searches, second-order and quasi-Newton methods, variance-reduced SGD (SVRG).

## Exercises

1. Write `gd_error(a, w0, w_star, eta, k)`: the error $w_k - w^\star$ after `k` steps on the
   quadratic with Hessian `a`, in closed form. Check it:
   `uv run pytest --exercise linalg.gradient_descent`.
2. Write `gd_rate(eigenvalues, eta)`: the worst contraction factor per step. Check it:
   `uv run pytest --exercise linalg.gradient_descent`.
3. Write `heavy_ball_tuning(mu, lipschitz)`: the step and momentum `(eta, beta)` that give heavy
   ball its optimal rate. Check it: `uv run pytest --exercise linalg.gradient_descent`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_matrix, _as_vector
from masterclass.linalg.optimizers import sgd_init, sgd_step

# ## The least-squares loss
#
# Our running example, with gradient $\nabla L = X^\top(Xw - y)/B$ over a batch of $B$ rows.


def least_squares_loss(w: ArrayLike, x: ArrayLike, y: ArrayLike) -> float:
    r"""$\frac{1}{2B}\lVert Xw - y\rVert^2$ for `w` `(D,)`, `x` `(B, D)`, `y` `(B,)`.

    >>> least_squares_loss(np.array([1.0]), np.array([[1.0], [2.0]]), np.array([1.0, 0.0]))
    1.0
    """
    r = x @ w - y  # (B,)
    return float(r @ r / (2 * len(y)))


def least_squares_grad(w: ArrayLike, x: ArrayLike, y: ArrayLike) -> np.ndarray:
    r"""Gradient of `least_squares_loss` with respect to `w`: $X^\top(Xw - y)/B$, `(D,)`."""
    return x.T @ (x @ w - y) / len(y)


# ## Mini-batches
#
# Each epoch draws a fresh random permutation and cuts it into consecutive batches (the last one
# may be smaller), so every example is used exactly once per epoch: sampling *without*
# replacement, as `torch.utils.data.DataLoader(shuffle=True)` does.


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield index arrays that partition `range(n)` in a random order, `batch_size` at a time."""
    if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an integer in [1, {n}], got {batch_size!r}")
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


# The loop: each epoch reshuffles, and each mini-batch is one `sgd_step` on its mean gradient.
def gradient_descent(
    grad_fn: Callable,
    w0: ArrayLike,
    x: ArrayLike,
    y: ArrayLike,
    *,
    lr: float,
    epochs: int,
    batch_size: int | None = None,
    momentum: float = 0.0,
    nesterov: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Run (mini-batch / stochastic) gradient descent and return every iterate.

    Args:
        grad_fn: `grad_fn(w, x_batch, y_batch) -> (D,)`, the batch-mean gradient.
        w0: initial weights `(D,)`; x: inputs `(N, D)`; y: targets `(N,)`.
        lr: learning rate; epochs: passes over the data.
        batch_size: `None` for batch gradient descent, 1 for SGD, anything between for
            mini-batch SGD.
        momentum, nesterov: as in `optimizers.sgd_step`.
        seed: seeds the shuffling.

    Returns:
        The iterates `(steps + 1, D)`, starting with `w0`.
    """
    # The shapes must agree: one weight per feature, one target per row.
    w = _as_vector(w0, "w0").copy()
    x = _as_matrix(x, "x")
    y = _as_vector(y, "y")
    if x.shape[0] != y.shape[0] or x.shape[1] != w.shape[0]:
        raise ValueError(f"shapes do not agree: w0 {w.shape}, x {x.shape}, y {y.shape}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    # Batch gradient descent is one batch of all `n` examples per epoch; every iterate, `w0`
    # included, is kept so that the path can be plotted.
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    state = sgd_init(w)
    path = [w]
    for _ in range(epochs):
        for idx in minibatches(n, n if batch_size is None else batch_size, rng):
            w, state = sgd_step(
                w, grad_fn(w, x[idx], y[idx]), state, lr=lr, momentum=momentum, nesterov=nesterov
            )
            path.append(w)
    return np.array(path)
