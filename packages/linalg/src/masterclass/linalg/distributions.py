r"""# Probability distributions: sampling and log-density from scratch

A model in machine learning is, most often, a probability distribution: a language model is a
categorical distribution over the next token, a regression with squared loss is a Gaussian, a VAE's
latent is a multivariate Gaussian, a topic model's mixture weights are Dirichlet. Two operations
matter for each: evaluating the **log-density** $\log p(x\mid\theta)$ (the training signal, always
in log space because densities of many points multiply and underflow), and **sampling** (for
generation, Monte Carlo and simulation).

| distribution | support | log-density |
|---|---|---|
| Bernoulli$(p)$ | $\{0, 1\}$ | $x\log p + (1-x)\log(1-p)$ |
| Categorical$(\pi)$ | $\{0..V-1\}$ | $\log\pi_x$ |
| Normal$(\mu, \sigma^2)$ | $\mathbb R$ | $-\frac{(x-\mu)^2}{2\sigma^2} - \log\sigma - \frac12\log 2\pi$ |
| MVN$(\mu, \Sigma)$ | $\mathbb R^k$ | $-\frac12(x-\mu)^\top\Sigma^{-1}(x-\mu) - \frac12\log\det\Sigma - \frac k2\log 2\pi$ |
| Poisson$(\lambda)$ | $\{0, 1, ..\}$ | $x\log\lambda - \lambda - \log x!$ |
| Gamma$(\alpha, \beta)$ | $(0,\infty)$ | $\alpha\log\beta + (\alpha-1)\log x - \beta x - \log\Gamma(\alpha)$ |
| Beta$(a, b)$ | $(0,1)$ | $(a-1)\log x + (b-1)\log(1-x) - \log B(a,b)$ |
| Dirichlet$(\alpha)$ | simplex | $\sum_i(\alpha_i-1)\log x_i + \log\Gamma(\sum\alpha_i) - \sum\log\Gamma(\alpha_i)$ |

All samplers are built from one primitive, uniform numbers $U\sim\mathcal U(0,1)$ drawn from a
`numpy.random.Generator` the caller passes in (no global seed):

- **inverse transform**: if $F$ is a CDF, $F^{-1}(U)$ has that distribution. Bernoulli is
  $[U < p]$, categorical is a binary search of $U$ in the cumulative sums, Poisson walks its CDF;
- **Box–Muller**: $\sqrt{-2\log U_1}\cos(2\pi U_2)$ is standard normal (and so is the $\sin$);
  $\mu + \sigma Z$ is any normal; $\mu + LZ$ with $\Sigma = LL^\top$ (Cholesky) is any multivariate
  normal;
- **rejection**: Marsaglia & Tsang's method draws a Gamma from a cubed, shifted normal and accepts
  it with a simple test (over 95% acceptance for any shape);
- **transformation**: $X/(X+Y)$ with independent Gammas is Beta, and normalised Gammas are
  Dirichlet.

**Why inverse transform works**, in one line: $U$ is uniform, so $P(F^{-1}(U) \le x) =
P(U \le F(x)) = F(x)$. **Why Box–Muller works**: take two independent standard normals as a
point in the plane. Their joint density $\frac1{2\pi}e^{-(x^2+y^2)/2}$ depends only on the radius,
so the angle $\Theta$ is uniform on $[0, 2\pi)$, and $R^2 = X^2 + Y^2$ has
$P(R^2 > s) = \int_{\sqrt s}^\infty e^{-r^2/2}r\,dr = e^{-s/2}$, an exponential with mean 2.
Inverse-transforming both, $R = \sqrt{-2\log U_1}$ (using $1 - U_1 \sim U_1$) and
$\Theta = 2\pi U_2$, and going back to Cartesian coordinates gives $X = R\cos\Theta$,
$Y = R\sin\Theta$.

>>> rng = np.random.default_rng(0)
>>> z = standard_normal(rng, 100_000)
>>> abs(float(z.mean())) < 0.01, round(float(z.std()), 2)
(True, 1.0)
>>> round(float(MultivariateNormal(np.zeros(2), np.eye(2)).log_prob(np.zeros(2))), 6)  # -log(2 pi)
-1.837877

References: Bishop, *Pattern Recognition and Machine Learning*, ch. 2 and app. B; Devroye,
*Non-Uniform Random Variate Generation* (1986); Box & Muller (1958); Marsaglia & Tsang (2000),
*A simple method for generating gamma variables*.

Left out: CDFs and quantiles, and fast samplers for very large Poisson rates (ours walks the CDF,
$O(\lambda)$ per draw, and accepts rates up to 500).

## Exercises

1. Write `exponential_from_uniform(u, rate)`: exponential samples by inverse transform. Check it:
   `uv run pytest --exercise linalg.distributions`.
2. Write `mvn_log_prob(x, mu, sigma)`: the multivariate normal log-density through a Cholesky
   factor, never inverting $\Sigma$. Check it: `uv run pytest --exercise linalg.distributions`.
3. Write `box_muller(u1, u2)`: standard normals from pairs of uniforms. Check it:
   `uv run pytest --exercise linalg.distributions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from masterclass.linalg._validation import _as_distribution, _as_float_array, _as_vector
from masterclass.linalg.matrices import cholesky, forward_substitution

LOG_2PI = float(np.log(2 * np.pi))


# Every sampler takes an explicit `numpy.random.Generator`, and a size that is an int or a shape.
def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    return rng


def _size(size) -> tuple[int, ...]:
    return (size,) if isinstance(size, int | np.integer) else tuple(size)


def _check_param(value: float, name: str, *, low: float = 0.0, high: float | None = None) -> float:
    v = float(value)
    ok = np.isfinite(v) and v > low and (high is None or v < high)
    if not ok:
        bounds = f"in ({low}, {high})" if high is not None else f"> {low}"
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")
    return v


# ## Discrete distributions


@dataclass(frozen=True)
class Bernoulli:
    """A coin with $P(X=1) = p$."""

    # probability of 1, in [0, 1]
    p: float

    def __post_init__(self):
        if not 0.0 <= float(self.p) <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {self.p!r}")

    def log_prob(self, x: ArrayLike) -> np.ndarray:
        r"""$\log P(X = x)$ for `x` in {0, 1} (any shape); $-\infty$ elsewhere."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            out = np.where(x == 1, np.log(self.p), np.log1p(-self.p))
        return np.where((x == 0) | (x == 1), out, -np.inf)

    # A draw is the inverse transform $[U < p]$; the moments follow in closed form.
    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...] = 1) -> np.ndarray:
        """`size` draws as int64: inverse transform $[U < p]$."""
        return (_check_rng(rng).random(_size(size)) < self.p).astype(np.int64)

    @property
    def mean(self) -> float:
        """$p$."""
        return float(self.p)

    @property
    def variance(self) -> float:
        """$p(1-p)$."""
        return float(self.p * (1 - self.p))


# A categorical draw is the inverse CDF: the first class whose cumulative probability exceeds
# $U$. Log-probabilities are $-\infty$ off the support, as for every distribution here.
@dataclass(frozen=True)
class Categorical:
    r"""A distribution over $\{0, \dots, V-1\}$ with probabilities `probs` `(V,)`."""

    probs: np.ndarray

    def __post_init__(self):
        object.__setattr__(
            self, "probs", _as_distribution(_as_vector(self.probs, "probs"), "probs")
        )

    def log_prob(self, x: ArrayLike) -> np.ndarray:
        r"""$\log\pi_x$ for integer `x` (any shape); $-\infty$ outside the support."""
        x = np.asarray(x)
        inside = (x >= 0) & (x < len(self.probs)) & (x == np.floor(x))
        idx = np.where(inside, x, 0).astype(np.int64)
        with np.errstate(divide="ignore"):
            return np.where(inside, np.log(self.probs[idx]), -np.inf)

    # The last cumulative sum can fall a rounding error short of 1, so `U` is scaled by it and
    # the index clipped.
    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...] = 1) -> np.ndarray:
        """`size` draws: binary search of $U$ in the cumulative probabilities."""
        cdf = np.cumsum(self.probs)
        u = _check_rng(rng).random(_size(size)) * cdf[-1]  # scale out rounding in the last sum
        return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


# Poisson: the log-probability uses $\log k! = \log\Gamma(k+1)$; the rate is capped at 500, which
# keeps $e^{-\lambda}$, the first term of the sampler's walk, far from underflow.
@dataclass(frozen=True)
class Poisson:
    r"""Counts of events at average rate $\lambda$: $P(k) = \lambda^ke^{-\lambda}/k!$."""

    rate: float

    def __post_init__(self):
        _check_param(self.rate, "rate", high=500.0)

    def log_prob(self, x: ArrayLike) -> np.ndarray:
        r"""$x\log\lambda - \lambda - \log x!$ for integers $x\ge0$; $-\infty$ elsewhere."""
        x = np.asarray(x, dtype=float)
        inside = (x >= 0) & (x == np.floor(x))
        k = np.where(inside, x, 0.0)
        return np.where(inside, k * np.log(self.rate) - self.rate - gammaln(k + 1), -np.inf)

    # Sampling walks the CDF one count at a time for all draws at once, adding
    # $P(k) = P(k-1)\,\lambda/k$, until every draw is placed; the cap ends a walk that rounding
    # keeps just short of 1.
    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...] = 1) -> np.ndarray:
        r"""`size` draws by walking the CDF: $k$ is the first count with $F(k) \ge U$."""
        u = _check_rng(rng).random(_size(size))
        k = np.zeros(u.shape, dtype=np.int64)
        term = np.exp(-self.rate)  # P(0)
        cdf = np.full(u.shape, term)
        count = 0
        while True:
            below = u > cdf
            if not np.any(below) or count > self.rate + 40 * np.sqrt(self.rate) + 40:
                return k
            count += 1
            term *= self.rate / count
            k = np.where(below, count, k)
            cdf = np.where(below, cdf + term, cdf)

    # A Poisson's mean and variance are both $\lambda$.
    @property
    def mean(self) -> float:
        r"""$\lambda$."""
        return float(self.rate)

    @property
    def variance(self) -> float:
        r"""$\lambda$."""
        return float(self.rate)


# ## Continuous distributions


def standard_normal(rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
    """`size` standard normal draws by the Box–Muller transform of pairs of uniforms."""
    shape = _size(size)
    n = int(np.prod(shape))
    pairs = (n + 1) // 2
    u1 = 1.0 - _check_rng(rng).random(pairs)  # in (0, 1]: log(u1) is finite
    u2 = rng.random(pairs)
    radius = np.sqrt(-2.0 * np.log(u1))
    z = np.concatenate([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)])
    return z[:n].reshape(shape)


# The Gaussian by location and scale: the log-density from the standardised $z$, draws as
# $\mu + \sigma Z$.
@dataclass(frozen=True)
class Normal:
    r"""The Gaussian $\mathcal N(\mu, \sigma^2)$ (parametrised by the standard deviation).

    >>> round(float(Normal(0.0, 1.0).log_prob(0.0)), 6)  # -log(sqrt(2 pi))
    -0.918939
    """

    mu: float
    sigma: float

    def __post_init__(self):
        _as_float_array(self.mu, "mu")
        _check_param(self.sigma, "sigma")

    def log_prob(self, x: ArrayLike) -> np.ndarray:
        r"""$-\frac{(x-\mu)^2}{2\sigma^2} - \log\sigma - \frac12\log2\pi$ (any shape)."""
        z = (np.asarray(x, dtype=float) - self.mu) / self.sigma
        return -0.5 * z * z - np.log(self.sigma) - 0.5 * LOG_2PI

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...] = 1) -> np.ndarray:
        r"""`size` draws $\mu + \sigma Z$."""
        return self.mu + self.sigma * standard_normal(rng, size)


# The multivariate Gaussian checks its shapes when it is built and keeps the Cholesky factor of
# `cov` for every later call.
@dataclass(frozen=True)
class MultivariateNormal:
    r"""The Gaussian $\mathcal N(\mu, \Sigma)$ on $\mathbb R^k$: `mean` `(k,)`, `cov` `(k, k)` SPD."""

    mean: np.ndarray
    cov: np.ndarray

    def __post_init__(self):
        mean = _as_vector(self.mean, "mean")
        cov = _as_float_array(self.cov, "cov", ndim=2)
        if cov.shape != (mean.size, mean.size):
            raise ValueError(f"cov must have shape ({mean.size}, {mean.size}), got {cov.shape}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)
        # The Cholesky factor also validates that cov is symmetric positive definite.
        object.__setattr__(self, "_chol", cholesky(cov))

    # Everything runs through the Cholesky factor $L$: one triangular solve for the Mahalanobis
    # term, its diagonal for the log-determinant, $\mu + LZ$ for draws.
    def log_prob(self, x: ArrayLike) -> np.ndarray:
        r"""Log-density of `x` `(k,)` or `(N, k)`; returns `()` or `(N,)`.

        With $\Sigma = LL^\top$: the Mahalanobis term is $\lVert L^{-1}(x-\mu)\rVert^2$ and
        $\log\det\Sigma = 2\sum_i\log L_{ii}$.
        """
        x = np.asarray(x, dtype=float)
        k = self.mean.size
        if x.shape[-1:] != (k,) or x.ndim > 2:
            raise ValueError(f"x must have shape ({k},) or (N, {k}), got {x.shape}")
        diff = np.atleast_2d(x) - self.mean  # (N, k)
        z = forward_substitution(self._chol, diff.T)  # (k, N)
        logdet = 2 * np.sum(np.log(np.diag(self._chol)))
        out = -0.5 * np.sum(z * z, axis=0) - 0.5 * logdet - 0.5 * k * LOG_2PI  # (N,)
        return out if x.ndim == 2 else out[0]

    def sample(self, rng: np.random.Generator, size: int = 1) -> np.ndarray:
        r"""`size` draws `(size, k)`: $\mu + LZ$."""
        z = standard_normal(rng, (size, self.mean.size))  # (N, k)
        return self.mean + z @ self._chol.T


# Gamma with shape $\alpha$ and rate $\beta$; the log-density replaces $x \le 0$ by 1 before
# taking logs, then masks those entries to $-\infty$.
@dataclass(frozen=True)
class Gamma:
    r"""Gamma$(\alpha, \beta)$ with shape $\alpha$ and rate $\beta$ (mean $\alpha/\beta$)."""

    shape: float
    rate: float = 1.0

    def __post_init__(self):
        _check_param(self.shape, "shape")
        _check_param(self.rate, "rate")

    def log_prob(self, x: ArrayLike) -> np.ndarray:
        r"""$\alpha\log\beta + (\alpha-1)\log x - \beta x - \log\Gamma(\alpha)$ for $x > 0$."""
        x = np.asarray(x, dtype=float)
        safe = np.where(x > 0, x, 1.0)
        a, b = self.shape, self.rate
        out = a * np.log(b) + (a - 1) * np.log(safe) - b * safe - gammaln(a)
        return np.where(x > 0, out, -np.inf)

    # Marsaglia–Tsang: with $d = \alpha - 1/3$, propose $d(1 + cZ)^3$ and accept by a log test;
    # proposals are drawn in batches until `n` are accepted. A shape below 1 samples shape
    # $\alpha + 1$ and is boosted at the end.
    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...] = 1) -> np.ndarray:
        r"""`size` draws by Marsaglia–Tsang rejection (boosted by $U^{1/\alpha}$ when $\alpha<1$)."""
        shape = _size(size)
        n = int(np.prod(shape))
        alpha = self.shape if self.shape >= 1 else self.shape + 1.0
        d = alpha - 1.0 / 3.0
        c = 1.0 / np.sqrt(9.0 * d)
        out = np.empty(n)
        filled = 0
        # Each round proposes about 10% more than still needed; the acceptance rate is high, so
        # one or two rounds usually suffice.
        while filled < n:
            m = max(16, int(1.1 * (n - filled)))
            z = standard_normal(rng, m)
            v = (1.0 + c * z) ** 3
            u = 1.0 - _check_rng(rng).random(m)
            with np.errstate(invalid="ignore", divide="ignore"):
                ok = (v > 0) & (np.log(u) < 0.5 * z * z + d - d * v + d * np.log(v))
            accepted = (d * v)[ok][: n - filled]
            out[filled : filled + accepted.size] = accepted
            filled += accepted.size
        if self.shape < 1:
            # If $G\sim$ Gamma$(\alpha+1)$ then $GU^{1/\alpha}\sim$ Gamma$(\alpha)$.
            out *= (1.0 - rng.random(n)) ** (1.0 / self.shape)
        return (out / self.rate).reshape(shape)


# Beta: the log-density uses $\log B(a, b) = \log\Gamma(a) + \log\Gamma(b) - \log\Gamma(a+b)$,
# which stays finite where $B(a, b)$ itself would underflow.
@dataclass(frozen=True)
class Beta:
    """Beta$(a, b)$ on $(0, 1)$, the conjugate prior of a Bernoulli probability."""

    a: float
    b: float

    def __post_init__(self):
        _check_param(self.a, "a")
        _check_param(self.b, "b")

    def log_prob(self, x: ArrayLike) -> np.ndarray:
        r"""$(a-1)\log x + (b-1)\log(1-x) - \log B(a,b)$ for $0 < x < 1$."""
        x = np.asarray(x, dtype=float)
        inside = (x > 0) & (x < 1)
        s = np.where(inside, x, 0.5)
        log_beta = gammaln(self.a) + gammaln(self.b) - gammaln(self.a + self.b)
        out = (self.a - 1) * np.log(s) + (self.b - 1) * np.log1p(-s) - log_beta
        return np.where(inside, out, -np.inf)

    # If $X \sim$ Gamma$(a)$ and $Y \sim$ Gamma$(b)$ are independent, $X/(X+Y) \sim$ Beta$(a, b)$.
    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...] = 1) -> np.ndarray:
        r"""`size` draws $X/(X+Y)$ with $X\sim$ Gamma$(a)$, $Y\sim$ Gamma$(b)$."""
        x = Gamma(self.a).sample(rng, size)
        y = Gamma(self.b).sample(rng, size)
        return x / (x + y)

    @property
    def mean(self) -> float:
        """$a/(a+b)$."""
        return self.a / (self.a + self.b)

    @property
    def variance(self) -> float:
        """$ab/((a+b)^2(a+b+1))$."""
        s = self.a + self.b
        return self.a * self.b / (s * s * (s + 1))


# Dirichlet, the multivariate Beta, on the simplex; draws are independent Gammas, normalised to
# sum to 1.
@dataclass(frozen=True)
class Dirichlet:
    r"""Dirichlet$(\alpha)$ on the probability simplex in $\mathbb R^K$; `alpha` `(K,)` > 0."""

    alpha: np.ndarray

    def __post_init__(self):
        alpha = _as_vector(self.alpha, "alpha")
        if np.any(alpha <= 0) or alpha.size < 2:
            raise ValueError(f"alpha must hold at least 2 entries, all > 0; got {alpha}")
        object.__setattr__(self, "alpha", alpha)

    # The density is $-\infty$ off the simplex; on it, the normaliser is
    # $\log\Gamma(\sum_i\alpha_i) - \sum_i\log\Gamma(\alpha_i)$.
    def log_prob(self, x: ArrayLike) -> np.ndarray:
        """Log-density of points `x` `(K,)` or `(N, K)` on the simplex (each row sums to 1)."""
        x = np.asarray(x, dtype=float)
        if x.shape[-1:] != self.alpha.shape or x.ndim > 2:
            raise ValueError(f"x must have shape ({self.alpha.size},) or (N, {self.alpha.size})")
        rows = np.atleast_2d(x)
        inside = np.all(rows > 0, axis=1) & np.isclose(rows.sum(axis=1), 1.0, atol=1e-10)
        safe = np.where(rows > 0, rows, 1.0)
        norm = gammaln(self.alpha.sum()) - gammaln(self.alpha).sum()
        out = np.where(inside, np.sum((self.alpha - 1) * np.log(safe), axis=1) + norm, -np.inf)
        return out if x.ndim == 2 else out[0]

    def sample(self, rng: np.random.Generator, size: int = 1) -> np.ndarray:
        r"""`size` draws `(size, K)`: independent Gamma$(\alpha_i)$ variables, normalised."""
        g = np.stack([Gamma(a).sample(rng, size) for a in self.alpha], axis=-1)  # (N, K)
        return g / g.sum(axis=-1, keepdims=True)
