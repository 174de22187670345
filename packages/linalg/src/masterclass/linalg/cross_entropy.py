r"""# Cross-entropy and KL divergence, computed stably

A classifier outputs **logits** $z \in \mathbb{R}^V$, turned into probabilities by the softmax
$p_i = e^{z_i} / \sum_j e^{z_j}$. Training minimises the **cross-entropy** between the data's
distribution $q$ and the model's $p$,

$$H(q, p) = -\sum_i q_i \log p_i = H(q) + D_{\mathrm{KL}}(q \,\|\, p),$$

which for a one-hot target $y$ is just $-\log p_y$, the negative log-likelihood. Since $H(q)$ does
not depend on the model, minimising cross-entropy is minimising the **Kullback–Leibler
divergence** $D_{\mathrm{KL}}(q\|p) = \sum_i q_i \log(q_i/p_i) \ge 0$ (zero iff $p = q$).

The numerics matter more than the formulas. $e^{z}$ overflows float64 for $z > 709$ and float32
for $z > 88$, and $\log$ of an underflowed $0$ is $-\infty$. The **log-sum-exp trick** shifts by the
maximum before exponentiating,

$$\log\sum_j e^{z_j} = m + \log\sum_j e^{z_j - m}, \qquad m = \max_j z_j,$$

so the largest term is $e^0 = 1$ (no overflow) and the sum is at least 1 (its log is finite). Then
$\log p_i = z_i - \operatorname{logsumexp}(z)$ is computed without ever forming $p_i$.

The gradient of the mean cross-entropy over $B$ rows with respect to the logits is the famous
$(\operatorname{softmax}(z) - \text{onehot}(y)) / B$: the model is pushed towards the target by
exactly its error in probability.

Closed forms for Gaussians, used for VAEs and for comparing fitted models:

$$D_{\mathrm{KL}}\big(\mathcal N(\mu_1,\sigma_1^2)\,\|\,\mathcal N(\mu_2,\sigma_2^2)\big)
  = \log\frac{\sigma_2}{\sigma_1} + \frac{\sigma_1^2 + (\mu_1-\mu_2)^2}{2\sigma_2^2} - \frac12,$$

$$D_{\mathrm{KL}}(\mathcal N_0\|\mathcal N_1) = \tfrac12\Big(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0)
  + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - k + \log\frac{\det\Sigma_1}{\det\Sigma_0}\Big).$$

References: Cover & Thomas, *Elements of Information Theory*, ch. 2; Bishop, *Pattern Recognition
and Machine Learning*, §1.6 and §4.3.4; Blanchard, Higham & Higham (2021), *Accurately computing
the log-sum-exp and softmax functions*.

Left out: the fused cross-entropy kernels that avoid materialising $B\times V$ logits (module 7),
and divergences other than KL (Jensen–Shannon, Rényi).

## Exercises

1. Write `logsumexp(x)` for a 1-D array that neither overflows (`x = [1000, 1000]`) nor
   underflows (`x = [-1000, -1000]`), by factoring out the maximum. Check it:
   `uv run pytest --exercise linalg.cross_entropy`.
2. Write `cross_entropy_grad(logits, target)`: the gradient of $-\log\operatorname{softmax}(z)_y$
   with respect to the logits $z$ of one example; show first that it is $\operatorname{softmax}(z)
   - e_y$. Check it: `uv run pytest --exercise linalg.cross_entropy`.
3. Write `kl(p, q)`: $D_{\mathrm{KL}}(p\,\Vert\,q)$ for two discrete distributions, with the
   convention $0 \log 0 = 0$. Check it: `uv run pytest --exercise linalg.cross_entropy`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import (
    _as_distribution,
    _as_float_array,
    _as_square,
    _as_vector,
    _check_unit_interval,
)
from masterclass.linalg.matrices import cholesky, forward_substitution

# ## Log-sum-exp, log-softmax and softmax


def logsumexp(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""$\log\sum_j e^{x_j}$ along `axis`, without overflow or underflow.

    Shapes: `x` is `(..., V, ...)`; the result drops `axis`. Entries may be $-\infty$, the log of
    a zero probability (an HMM's forbidden transition); a slice of only $-\infty$ gives $-\infty$.

    >>> float(logsumexp(np.array([1000.0, 1000.0])))  # naive: log(inf) = inf
    1000.6931471805599
    >>> float(logsumexp(np.array([-np.inf, -np.inf])))
    -inf
    """
    x = _as_float_array(x, "x", allow_neg_inf=True)
    m = np.max(x, axis=axis, keepdims=True)
    # Shift by the maximum so the largest term is $e^0 = 1$. An all-$-\infty$ slice has no finite
    # maximum; shifting it by 0 leaves $\log 0 = -\infty$, the right answer.
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis)


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""$\log \operatorname{softmax}(x) = x - \operatorname{logsumexp}(x)$ along `axis`; same shape as `x`."""
    x = _as_float_array(x, "x")
    return x - np.expand_dims(logsumexp(x, axis=axis), axis)


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""$e^{x_i}/\sum_j e^{x_j}$ along `axis`, computed as `exp(log_softmax(x))`; same shape as `x`."""
    return np.exp(log_softmax(x, axis=axis))


# ## Cross-entropy of logits against class labels
#
# For a batch of logits $Z \in \mathbb{R}^{B\times V}$ and integer labels $y \in \{0..V-1\}^B$ the
# mean negative log-likelihood is $\frac1B\sum_b -\log\operatorname{softmax}(z_b)_{y_b}$. With
# **label smoothing** $\varepsilon$ the target is not one-hot but
# $q = (1-\varepsilon)\,\text{onehot}(y) + \varepsilon/V$, which stops the model from driving
# logits to infinity to reach probability 1; torch defines it the same way.


def _check_logits_targets(logits, targets) -> tuple[np.ndarray, np.ndarray]:
    z = _as_float_array(logits, "logits", ndim=2)  # (B, V)
    y = np.asarray(targets)
    if y.shape != (z.shape[0],):
        raise ValueError(f"targets must have shape ({z.shape[0]},) to match logits, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"targets must be integer class indices, got dtype {y.dtype}")
    if np.any(y < 0) or np.any(y >= z.shape[1]):
        raise ValueError(f"targets must lie in [0, {z.shape[1]}), got values {y.min()}..{y.max()}")
    return z, y


# Per row, the loss mixes the label's NLL with the mean NLL over all classes, weights
# $1 - \varepsilon$ and $\varepsilon$: the cross-entropy against $q$.
def cross_entropy(logits: ArrayLike, targets: ArrayLike, *, label_smoothing: float = 0.0) -> float:
    """Mean cross-entropy of `logits` `(B, V)` against integer `targets` `(B,)`, in nats.

    Matches `torch.nn.functional.cross_entropy(logits, targets, label_smoothing=...)`.

    >>> round(cross_entropy(np.zeros((2, 4)), np.array([0, 3])), 6)  # uniform: log V
    1.386294
    """
    z, y = _check_logits_targets(logits, targets)
    eps = _check_unit_interval(label_smoothing, "label_smoothing", closed_right=True)
    logp = log_softmax(z)  # (B, V)
    nll = -logp[np.arange(z.shape[0]), y]  # (B,)
    smooth = -logp.mean(axis=1)  # (B,): cross-entropy against the uniform distribution
    return float(np.mean((1.0 - eps) * nll + eps * smooth))


def cross_entropy_grad(
    logits: ArrayLike, targets: ArrayLike, *, label_smoothing: float = 0.0
) -> np.ndarray:
    r"""Gradient of `cross_entropy` with respect to `logits`: $(\mathrm{softmax}(z) - q)/B$, `(B, V)`."""
    z, y = _check_logits_targets(logits, targets)
    eps = _check_unit_interval(label_smoothing, "label_smoothing", closed_right=True)
    batch, vocab = z.shape
    q = np.full((batch, vocab), eps / vocab)  # (B, V)
    q[np.arange(batch), y] += 1.0 - eps
    return (softmax(z) - q) / batch


# ## Between two distributions
#
# For explicit probability vectors we use the conventions of information theory: $0\log 0 = 0$,
# and $D_{\mathrm{KL}}(p\|q) = \infty$ when $q_i = 0 < p_i$ (the model calls impossible something
# that happens).


def _plogq(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    # $p \log q$ with $0 \log q = 0$ even for $q = 0$.
    with np.errstate(divide="ignore"):
        return np.where(p > 0, p * np.log(np.where(p > 0, q, 1.0)), 0.0)


def cross_entropy_dist(p: ArrayLike, q: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""$H(p, q) = -\sum_i p_i \log q_i$ along `axis`, in nats; `p`, `q` same shape."""
    p = _as_distribution(p, "p", axis=axis)
    q = _as_distribution(q, "q", axis=axis)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    return -np.sum(_plogq(p, q), axis=axis)


# KL is cross-entropy minus entropy, $H(p, q) - H(p)$, with the same convention for zeros.
def kl_divergence(p: ArrayLike, q: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""$D_{\mathrm{KL}}(p\|q) = \sum_i p_i\log(p_i/q_i)$ along `axis`, in nats (may be `inf`).

    >>> float(kl_divergence([0.5, 0.5], [0.5, 0.5]))
    0.0
    """
    p = _as_distribution(p, "p", axis=axis)
    q = _as_distribution(q, "q", axis=axis)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    return np.sum(_plogq(p, p) - _plogq(p, q), axis=axis)


# Closed forms for Gaussians. In one dimension,
# $\log(\sigma_2/\sigma_1) + (\sigma_1^2 + (\mu_1 - \mu_2)^2)/(2\sigma_2^2) - \frac12$.
def kl_normal(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> np.ndarray:
    r"""KL between univariate Gaussians $\mathcal N(\mu_1,\sigma_1^2)\|\mathcal N(\mu_2,\sigma_2^2)$.

    Arguments broadcast against each other; standard deviations must be > 0.
    """
    mu1 = _as_float_array(mu1, "mu1")
    mu2 = _as_float_array(mu2, "mu2")
    s1 = _as_float_array(sigma1, "sigma1")
    s2 = _as_float_array(sigma2, "sigma2")
    if np.any(s1 <= 0) or np.any(s2 <= 0):
        raise ValueError("sigma1 and sigma2 must be > 0 (they are standard deviations)")
    return np.log(s2 / s1) + (s1**2 + (mu1 - mu2) ** 2) / (2 * s2**2) - 0.5


# The multivariate case, with $d = \mu_1 - \mu_0$:
# $\frac12[\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + d^\top\Sigma_1^{-1}d - k + \log\det\Sigma_1 -
# \log\det\Sigma_0]$.
def kl_mvn(mean0: ArrayLike, cov0: ArrayLike, mean1: ArrayLike, cov1: ArrayLike) -> float:
    r"""KL between multivariate Gaussians $\mathcal N(\mu_0,\Sigma_0)\|\mathcal N(\mu_1,\Sigma_1)$.

    Shapes: means `(k,)`, covariances `(k, k)` symmetric positive definite.
    """
    m0, m1 = _as_vector(mean0, "mean0"), _as_vector(mean1, "mean1")
    s0, s1 = _as_square(cov0, "cov0"), _as_square(cov1, "cov1")
    k = m0.shape[0]
    if m1.shape != (k,) or s0.shape != (k, k) or s1.shape != (k, k):
        raise ValueError(
            f"shapes do not agree: mean0 {m0.shape}, cov0 {s0.shape}, mean1 {m1.shape}, cov1 {s1.shape}"
        )
    # Cholesky factors $\Sigma = LL^\top$ give the log-determinants ($2\sum\log L_{ii}$) and the
    # solves stably; they also test positive definiteness.
    try:
        l0, l1 = cholesky(s0), cholesky(s1)
    except ValueError as exc:
        raise ValueError(f"cov0 and cov1 must be symmetric positive definite: {exc}") from exc
    a = forward_substitution(l1, l0)  # (k, k): $L_1^{-1}L_0$, so tr(Σ1⁻¹Σ0) = ‖A‖²_F
    d = forward_substitution(l1, m1 - m0)  # (k,)
    logdet0 = 2 * np.sum(np.log(np.diag(l0)))
    logdet1 = 2 * np.sum(np.log(np.diag(l1)))
    return float(0.5 * (np.sum(a * a) + d @ d - k + logdet1 - logdet0))
