r"""# Maximum likelihood estimation, in closed form and numerically, with standard errors

Given data $x_1..x_N$ drawn independently from a model $p(x\mid\theta)$, the **maximum likelihood
estimate** is the parameter that makes the data most probable,

$$\hat\theta = \arg\max_\theta \sum_{i=1}^N\log p(x_i\mid\theta),$$

equivalently the minimiser of the average negative log-likelihood, which is the cross-entropy
between the data's empirical distribution and the model (`cross_entropy.py`): training a
classifier or a language model with cross-entropy loss *is* maximum likelihood.

**Closed forms.** Setting the gradient of the log-likelihood to zero gives, for the common
families: Bernoulli $\hat p = \bar x$; categorical $\hat\pi_k = n_k/N$; Poisson $\hat\lambda=\bar x$;
Gaussian $\hat\mu = \bar x$ and $\hat\sigma^2 = \frac1N\sum(x_i - \bar x)^2$ (note $1/N$: the MLE of
the variance is biased low by the factor $(N-1)/N$); multivariate Gaussian likewise with the
outer products.

**Numerically.** Most models have no closed form. Logistic regression, $P(y=1\mid x) =
\sigma(x^\top w)$, has the negative log-likelihood
$\ell(w) = -\sum_i[y_i\log\sigma(x_i^\top w) + (1-y_i)\log(1-\sigma(x_i^\top w))]$ with gradient
$X^\top(\sigma(Xw) - y)$: convex, so the optimizers of `optimizers.py` find the unique minimum
(if the classes are not perfectly separable; if they are, $\lVert w\rVert\to\infty$ and no MLE
exists).

**Standard errors from the Fisher information.** The curvature of the log-likelihood at the
optimum measures how sharply the data pin $\theta$ down. The observed **Fisher information** is
the Hessian of the negative log-likelihood, $\mathcal I(\hat\theta) = \nabla^2\ell(\hat\theta)$,
and as $N\to\infty$, $\hat\theta \approx \mathcal N(\theta, \mathcal I^{-1})$, so the standard error
of $\hat\theta_j$ is $\sqrt{(\mathcal I^{-1})_{jj}}$. For logistic regression
$\mathcal I = X^\top\operatorname{diag}(p_i(1-p_i))X$; for the Gaussian mean it is $N/\sigma^2$,
giving the familiar $\sigma/\sqrt N$.

References: Casella & Berger, *Statistical Inference*, §7.2 and §10.1; Bishop, *Pattern
Recognition and Machine Learning*, §2.3.4 and §4.3.2; Wasserman, *All of Statistics*, ch. 9.

A derivation of one standard error from start to end, the Poisson rate. $\ell(\lambda) =
\sum_i(\lambda - x_i\log\lambda + \log x_i!)$, so $\ell'(\lambda) = N - \sum_i x_i/\lambda$, zero at
$\hat\lambda = \bar x$; $\ell''(\lambda) = \sum_i x_i/\lambda^2$, which at $\hat\lambda$ is
$N\bar x/\bar x^2 = N/\hat\lambda$. The standard error is $\sqrt{\hat\lambda/N}$: it shrinks like
$1/\sqrt N$, and the same count is less certain for a larger rate, as the Poisson variance
$\lambda$ says it should be.

>>> est = poisson_mle(np.array([2, 4, 3, 3]))
>>> float(est.value), round(float(est.stderr), 6), round((3.0 / 4) ** 0.5, 6)
(3.0, 0.866025, 0.866025)

Left out: regularised (penalised) likelihood, which is MAP estimation (`bayes.py`), and
sandwich (robust) standard errors.

## Exercises

1. Write `logistic_fisher(w, x)`: the observed Fisher information of logistic regression at `w`.
   Check it: `uv run pytest --exercise linalg.mle`.
2. Write `poisson_standard_error(x)`: the standard error of the Poisson rate's MLE from counts
   `x`. Check it: `uv run pytest --exercise linalg.mle`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_matrix, _as_vector
from masterclass.linalg.matrices import inv
from masterclass.linalg.optimizers import sgd_init, sgd_step
from masterclass.linalg.svd import singular_values

# ## Closed forms, each with its standard errors


@dataclass(frozen=True)
class Estimate:
    """A maximum-likelihood estimate and its standard errors (same shape)."""

    value: np.ndarray
    stderr: np.ndarray


# Counting models: the MLE is the sample frequency, and its standard error
# $\sqrt{\hat p(1-\hat p)/N}$ is the binomial one, evaluated at the estimate.
def bernoulli_mle(x: ArrayLike) -> Estimate:
    r"""$\hat p = \bar x$ from 0/1 data `x` `(N,)`; standard error $\sqrt{\hat p(1-\hat p)/N}$.

    >>> est = bernoulli_mle(np.array([1, 0, 1, 1]))
    >>> print(est)
    Estimate(value=array(0.75), stderr=array(0.21650635))
    """
    x = _as_vector(x, "x")
    if not np.all((x == 0) | (x == 1)):
        raise ValueError("x must contain only 0 and 1 for a Bernoulli model")
    p = x.mean()
    return Estimate(np.array(p), np.array(np.sqrt(p * (1 - p) / x.size)))


# The categorical case, class by class: counts over `N`, each share with its Bernoulli error.
def categorical_mle(x: ArrayLike, num_classes: int) -> Estimate:
    r"""$\hat\pi_k = n_k/N$ from labels `x` `(N,)` in `range(num_classes)`; standard errors
    $\sqrt{\hat\pi_k(1-\hat\pi_k)/N}$."""
    x = np.asarray(x)
    if x.ndim != 1 or x.size == 0 or not np.issubdtype(x.dtype, np.integer):
        raise ValueError("x must be a non-empty vector of integer class labels")
    if np.any(x < 0) or np.any(x >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {x.min()}..{x.max()}")
    pi = np.bincount(x, minlength=num_classes) / x.size
    return Estimate(pi, np.sqrt(pi * (1 - pi) / x.size))


# The Poisson rate is the mean count; the variance of a count equals the rate, hence the
# standard error $\sqrt{\hat\lambda/N}$.
def poisson_mle(x: ArrayLike) -> Estimate:
    r"""$\hat\lambda = \bar x$ from counts `x` `(N,)`; standard error $\sqrt{\hat\lambda/N}$."""
    x = _as_vector(x, "x")
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ValueError("x must contain non-negative integer counts for a Poisson model")
    lam = x.mean()
    return Estimate(np.array(lam), np.array(np.sqrt(lam / x.size)))


# The Gaussian: the sample mean and the biased ($1/N$) variance, which is what maximising the
# likelihood gives; the unbiased $1/(N-1)$ is not the MLE.
def normal_mle(x: ArrayLike) -> Estimate:
    r"""$(\hat\mu, \hat\sigma)$ from `x` `(N,)`, $N \ge 2$, with $\hat\sigma^2$ the biased
    ($1/N$) variance; standard errors $\hat\sigma/\sqrt N$ and $\hat\sigma/\sqrt{2N}$."""
    x = _as_vector(x, "x")
    if x.size < 2:
        raise ValueError(f"x needs at least 2 values to estimate a variance, got {x.size}")
    mu = x.mean()
    sigma = np.sqrt(np.mean((x - mu) ** 2))
    n = x.size
    return Estimate(np.array([mu, sigma]), np.array([sigma / np.sqrt(n), sigma / np.sqrt(2 * n)]))


def multivariate_normal_mle(x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r"""$(\hat\mu, \hat\Sigma)$ from rows `x` `(N, k)`: the mean `(k,)` and the biased
    covariance $\frac1N\sum(x_i-\hat\mu)(x_i-\hat\mu)^\top$ `(k, k)`."""
    x = _as_matrix(x, "x")
    mu = x.mean(axis=0)
    centred = x - mu  # (N, k)
    return mu, centred.T @ centred / x.shape[0]


# ## Logistic regression by numerical maximum likelihood
#
# The negative log-likelihood is written with $\log\sigma(z) = -\log(1 + e^{-z})$ computed by
# `logaddexp`, which never overflows. We minimise it with Nesterov momentum from `optimizers.py`,
# with step $1/L$ where $L = \lambda_{\max}(X^\top X)/4$ bounds the Hessian (since
# $p(1-p)\le\frac14$), and stop when the gradient norm is below `tol`.


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def logistic_nll(w: ArrayLike, x: ArrayLike, y: ArrayLike) -> float:
    """Total negative log-likelihood of weights `w` `(D,)` on `x` `(N, D)`, labels `y` `(N,)`."""
    z = x @ w  # (N,)
    return float(np.sum(np.logaddexp(0.0, z) - y * z))


def logistic_nll_grad(w: ArrayLike, x: ArrayLike, y: ArrayLike) -> np.ndarray:
    r"""Gradient $X^\top(\sigma(Xw) - y)$ of `logistic_nll`, `(D,)`."""
    return x.T @ (_sigmoid(x @ w) - y)


def logistic_fisher_information(w: ArrayLike, x: ArrayLike) -> np.ndarray:
    r"""Observed Fisher information $X^\top\mathrm{diag}(p(1-p))X$ at `w`, `(D, D)`."""
    p = _sigmoid(x @ w)  # (N,)
    return x.T @ (x * (p * (1 - p))[:, None])


# The fit: Nesterov-accelerated gradient descent on the NLL, then standard errors from the
# curvature at the optimum.
def fit_logistic_regression(
    x: ArrayLike,
    y: ArrayLike,
    *,
    tol: float = 1e-9,
    max_steps: int = 100_000,
    momentum: float = 0.9,
) -> Estimate:
    """Maximum-likelihood logistic regression weights `(D,)` and their standard errors.

    `x` `(N, D)` should include a column of ones if an intercept is wanted; `y` `(N,)` is 0/1.
    Raises `ValueError` if it does not converge (for example on perfectly separable classes).
    """
    x, y = _as_matrix(x, "x"), _as_vector(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]} labels")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("y must contain only 0 and 1")
    # Step $1/L$ with $L = \sigma_{\max}(X)^2/4$ from zero weights; the gradient test is relative
    # to the size of `x`, and at convergence the inverse Fisher information gives the errors.
    lipschitz = singular_values(x)[0] ** 2 / 4.0
    w = np.zeros(x.shape[1])
    state = sgd_init(w)
    scale = max(1.0, float(np.sqrt(np.sum(x * x))))
    for _ in range(max_steps):
        g = logistic_nll_grad(w, x, y)
        if np.sqrt(g @ g) <= tol * scale:
            info = logistic_fisher_information(w, x)
            return Estimate(w, np.sqrt(np.diag(inv(info))))
        w, state = sgd_step(w, g, state, lr=1.0 / lipschitz, momentum=momentum, nesterov=True)
    raise ValueError(
        f"logistic regression did not converge in {max_steps} steps; if the classes are perfectly "
        "separable the maximum-likelihood weights are infinite (add a penalty, i.e. a prior)"
    )
