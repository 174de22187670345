r"""# Information theory basics

How much do we learn when an event of probability $p$ happens? Shannon's answer is the
**information content** $-\log p$: a certain event tells us nothing, a rare one a lot, and the
information of independent events adds up. Its average over a distribution is the **entropy**,

$$H(X) = -\sum_x p(x)\log p(x),$$

the expected surprise, the shortest average code length (in bits for $\log_2$, nats for $\ln$),
largest ($\log n$) for the uniform distribution and zero for a certain outcome. For two variables
with joint distribution $p(x, y)$:

- **joint entropy** $H(X, Y) = -\sum_{x,y} p(x,y)\log p(x,y)$;
- **conditional entropy** $H(Y\mid X) = H(X, Y) - H(X)$, what is left to learn about $Y$ once $X$
  is known (the chain rule);
- **mutual information** $I(X;Y) = H(X) + H(Y) - H(X,Y) = D_{\mathrm{KL}}\big(p(x,y)\,\|\,p(x)p(y)\big)$,
  how much knowing one tells about the other; zero iff they are independent.

Two of these claims, derived. *Entropy is at most $\log n$.* $\log$ is concave, so by Jensen's
inequality $H(X) = \sum_x p(x)\log\frac1{p(x)} \le \log\sum_x p(x)\frac1{p(x)} = \log n$ (the sum
over the $n$ outcomes with $p(x) > 0$), with equality iff $1/p(x)$ is constant: the uniform
distribution. *Mutual information is a KL divergence, hence $\ge 0$.* Expand
$\sum_{x,y}p(x,y)\log\frac{p(x,y)}{p(x)p(y)} = \sum p(x,y)\log p(x,y) - \sum_x p(x)\log p(x) -
\sum_y p(y)\log p(y) = -H(X,Y) + H(X) + H(Y)$, using $\sum_y p(x,y) = p(x)$. Gibbs' inequality
(Jensen again, on $-\log$) makes every KL divergence nonnegative, zero iff the two distributions
are equal, that is iff $p(x,y) = p(x)p(y)$.

>>> round(float(entropy([0.25] * 4, base=2)), 12)  # log2 4
2.0
>>> # X = 0 (probability 1/2) leaves Y a fair coin, X = 1 fixes it: H(Y | X) = 1/2 bit.
>>> round(conditional_entropy([[0.25, 0.25], [0.0, 0.5]], base=2), 12)
0.5

A language model is judged by its **perplexity**, the exponential of its average negative
log-likelihood per token,

$$\mathrm{PPL} = \exp\Big(-\frac1T\sum_{t=1}^T \log p(x_t\mid x_{<t})\Big),$$

the size of a uniform choice that would be as surprising: a perplexity of 20 means the model is
as unsure as if it picked among 20 equally likely tokens. The perplexity of a distribution is
$e^{H}$ (or $2^{H}$ in bits).

References: Shannon (1948), *A mathematical theory of communication*; Cover & Thomas, *Elements of
Information Theory*, ch. 2; MacKay, *Information Theory, Inference, and Learning Algorithms*, ch. 2.

Left out: differential entropy of continuous variables (apart from the Gaussian KL in
`cross_entropy.py`), and estimators of entropy from samples.

## Exercises

1. Write `entropy_bits(p)`: the entropy of a distribution in bits, with $0\log 0 = 0$. Check it:
   `uv run pytest --exercise linalg.information_theory`.
2. Write `mutual_information(pxy)`: $I(X;Y)$ in nats from a joint table, by its KL definition.
   Check it: `uv run pytest --exercise linalg.information_theory`.
3. Write `perplexity(logits, targets)`: the perplexity of next-token logits `(T, V)` on the
   tokens `(T,)`. Check it: `uv run pytest --exercise linalg.information_theory`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_distribution, _as_float_array, _check_positive


def _log(x: np.ndarray, base: float | None) -> np.ndarray:
    return np.log(x) if base is None else np.log(x) / np.log(base)


def _neg_sum_plogp(p: np.ndarray, axis, base: float | None) -> np.ndarray:
    # The convention $0\log 0 = 0$ (the limit of $p\log p$ as $p\to 0$).
    safe = np.where(p > 0, p, 1.0)
    return -np.sum(np.where(p > 0, p * _log(safe, base), 0.0), axis=axis)


def _check_base(base: float | None) -> float | None:
    if base is not None and (_check_positive(base, "base") == 1.0):
        raise ValueError("base must be > 0 and != 1 (use 2 for bits, None for nats)")
    return base


# Entropy along an axis; a joint table is checked as one distribution over all pairs, then
# treated the same way.
def entropy(p: ArrayLike, *, axis: int = -1, base: float | None = None) -> np.ndarray:
    r"""Shannon entropy $H(p) = -\sum_i p_i \log p_i$ along `axis` (nats, or bits with `base=2`).

    >>> float(entropy([0.5, 0.5], base=2))
    1.0
    """
    p = _as_distribution(p, "p", axis=axis)
    return _neg_sum_plogp(p, axis, _check_base(base))


def _as_joint(pxy) -> np.ndarray:
    pxy = _as_float_array(pxy, "pxy", ndim=2)
    return _as_distribution(pxy.reshape(-1), "pxy").reshape(pxy.shape)


def joint_entropy(pxy: ArrayLike, *, base: float | None = None) -> float:
    """$H(X, Y)$ of a joint distribution table `pxy` of shape `(n_x, n_y)` summing to 1."""
    return float(_neg_sum_plogp(_as_joint(pxy), None, _check_base(base)))


# Conditional entropy and mutual information come from the joint and its marginals, by the chain
# rule $H(X, Y) = H(X) + H(Y\mid X)$.
def conditional_entropy(pxy: ArrayLike, *, base: float | None = None) -> float:
    r"""$H(Y\mid X) = H(X, Y) - H(X)$ for a joint table `pxy` `(n_x, n_y)` (rows index $X$)."""
    pxy = _as_joint(pxy)
    base = _check_base(base)
    return float(_neg_sum_plogp(pxy, None, base) - _neg_sum_plogp(pxy.sum(axis=1), None, base))


def mutual_information(pxy: ArrayLike, *, base: float | None = None) -> float:
    """$I(X;Y) = H(X) + H(Y) - H(X, Y)$ for a joint table `pxy` `(n_x, n_y)`; always >= 0.

    >>> round(mutual_information([[0.5, 0.0], [0.0, 0.5]], base=2), 12)  # Y = X: one full bit
    1.0
    """
    pxy = _as_joint(pxy)
    base = _check_base(base)
    hx = _neg_sum_plogp(pxy.sum(axis=1), None, base)
    hy = _neg_sum_plogp(pxy.sum(axis=0), None, base)
    # Clip the rounding error that can make an exactly-zero value slightly negative.
    return max(0.0, float(hx + hy - _neg_sum_plogp(pxy, None, base)))


def perplexity(log_probs: ArrayLike) -> float:
    r"""Perplexity $\exp(-\frac1T\sum_t \log p_t)$ of the log-probabilities `(T,)` a model gave
    the tokens that occurred (natural log, each <= 0)."""
    lp = _as_float_array(log_probs, "log_probs", ndim=1)
    if np.any(lp > 0):
        raise ValueError("log_probs must be <= 0 (they are logs of probabilities)")
    return float(np.exp(-np.mean(lp)))


def distribution_perplexity(p: ArrayLike, *, axis: int = -1) -> np.ndarray:
    """Perplexity $e^{H(p)}$ of a distribution: the number of equally likely outcomes it is worth."""
    return np.exp(entropy(p, axis=axis))
