r"""# A/B testing two model versions

A new model version wins offline benchmarks; whether users prefer it is an experiment. The
server splits live traffic between version A and version B (`TrafficSplitter`), logs an outcome
per request (a thumbs-up, a conversion, a latency), and a test decides whether the difference is
real or noise.

**Splitting.** Each user key is hashed (SHA-256 with an experiment salt) to a number
$u \in [0, 1)$ and sent to the first variant whose cumulative weight exceeds $u$. The
assignment is deterministic (a user always sees the same version, so their outcomes are
independent draws of *one* treatment), uniform (a cryptographic hash of distinct keys behaves
like independent uniforms), and a new salt reshuffles users for the next experiment.

**Two-proportion z-test** (binary outcomes). With $x_i$ successes of $n_i$ and pooled
$\hat p = (x_1 + x_2)/(n_1 + n_2)$, under $H_0: p_1 = p_2$ the statistic
$$ z = \frac{\hat p_1 - \hat p_2}{\sqrt{\hat p (1 - \hat p)(1/n_1 + 1/n_2)}} $$
is approximately standard normal (CLT on each proportion, the variance estimated under $H_0$);
the two-sided p-value is $2\,(1 - \Phi(|z|))$.

**Welch's t-test** (continuous outcomes with unequal variances). With sample means
$\bar a, \bar b$ and variances $s_a^2, s_b^2$,
$$ t = \frac{\bar a - \bar b}{\sqrt{s_a^2/n_a + s_b^2/n_b}}, \qquad
   \nu = \frac{(s_a^2/n_a + s_b^2/n_b)^2}{\frac{(s_a^2/n_a)^2}{n_a - 1} + \frac{(s_b^2/n_b)^2}{n_b - 1}} ,$$
($\nu$ from the Welch–Satterthwaite approximation, matching the first two moments of the
variance estimate to a scaled $\chi^2_\nu$), and the p-value from Student's $t_\nu$.

**Power and sample size.** For proportions, Cohen's effect size $h = 2\arcsin\sqrt{p_1} -
2\arcsin\sqrt{p_2}$ makes the variance of the transformed proportion $1/n$ whatever $p$ is.
With $n$ users per arm the statistic is $\approx N(h\sqrt{n/2}, 1)$, so the power of the
two-sided level-$\alpha$ test is
$$ \text{power}(n) = \Phi\big(h\sqrt{n/2} - z_{1-\alpha/2}\big) + \Phi\big(-h\sqrt{n/2} - z_{1-\alpha/2}\big), $$
and the sample size is the root of $\text{power}(n) = $ target (the second term is tiny; dropping
it gives the textbook $n = 2 (z_{1-\alpha/2} + z_{\text{power}})^2 / h^2$).

**Peeking and sequential tests.** Looking at the p-value after every batch of users and stopping
at the first $p < \alpha$ runs *many* tests; under $H_0$ the z-statistic is a random walk, which
crosses $\pm 1.96$ eventually with probability one, so the false-positive rate of "peek and stop"
grows far above $\alpha$ (`peeking_simulation` shows it). The mixture sequential probability
ratio test (mSPRT, Johari et al., 2017) is valid at *every* look. For observations
$d_i \sim N(\theta, \sigma^2)$ (here the difference of paired B and A outcomes) and a normal
mixture $\theta \sim N(0, \tau^2)$ over the alternative, the likelihood ratio integrates in
closed form:
$$ \Lambda_n = \int \prod_{i \le n} \frac{\varphi_\sigma(d_i - \theta)}{\varphi_\sigma(d_i)}\, \varphi_\tau(\theta)\, d\theta
   = \sqrt{\frac{\sigma^2}{\sigma^2 + n\tau^2}}\;
     \exp\!\Big(\frac{n^2 \tau^2 \bar d_n^2}{2\sigma^2(\sigma^2 + n\tau^2)}\Big) .$$
Under $H_0$, $\Lambda_n$ is a nonnegative martingale with mean 1, so by Ville's inequality
$P(\exists n: \Lambda_n \ge 1/\alpha) \le \alpha$: stopping whenever $\Lambda_n \ge 1/\alpha$
keeps the false-positive rate below $\alpha$ however often one looks.

The tests check every statistic against `statsmodels` and `scipy` to $10^{-10}$, the mSPRT
closed form against numerical integration of its definition, and the peeking simulation's rates.

References: Welch, 1947, *The generalization of "Student's" problem*; Cohen, 1988, *Statistical
Power Analysis*; Johari, Pekelis, Walsh, 2017, *Peeking at A/B Tests*
([arXiv:1512.04922](https://arxiv.org/abs/1512.04922)); Kohavi, Tang, Xu, 2020, *Trustworthy
Online Controlled Experiments*.

Left out: variance reduction (CUPED), multiple metrics and corrections, bandits.

## Exercises

1. Write `pooled_z(x1, n1, x2, n2)`: the pooled two-proportion z statistic. Check it:
   `uv run pytest --exercise deploy.ab_testing`
2. Write `textbook_n(p1, p2, alpha, power)`: the closed-form per-arm sample size
   $2(z_{1-\alpha/2} + z_{\text{power}})^2/h^2$, rounded up. Check it:
   `uv run pytest --exercise deploy.ab_testing`
3. Write `msprt_reject(d, sigma2, tau2, alpha)`: the index of the first observation at which the
   mSPRT rejects (or -1). Check it: `uv run pytest --exercise deploy.ab_testing`
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import optimize, stats

__all__ = [
    "TrafficSplitter",
    "msprt_statistic",
    "peeking_simulation",
    "power_two_proportions",
    "sample_size_two_proportions",
    "two_proportion_ztest",
    "welch_ttest",
]


# Assignment by hash, not by a random draw: the same user sees the same variant on every request
# and every server, with no table to store; a new salt reshuffles users for a new experiment.
class TrafficSplitter:
    """Deterministic, weighted assignment of user keys to variants.

    >>> s = TrafficSplitter({"a": 0.5, "b": 0.5}, salt="exp1")
    >>> s.assign("user-42") == s.assign("user-42")
    True
    """

    def __init__(self, weights: Mapping[str, float], salt: str = "") -> None:
        if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(f"weights must be non-negative with a positive sum, got {weights!r}")
        total = sum(weights.values())
        self.names = list(weights)
        self.cumulative = np.cumsum([weights[n] / total for n in self.names])
        self.salt = salt

    # A key's bucket falls in one interval of the cumulative weights; that interval's variant wins.
    def bucket(self, key: str) -> float:
        """The key's uniform number in [0, 1): the first 8 bytes of SHA-256(salt:key) / 2^64."""
        digest = hashlib.sha256(f"{self.salt}:{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    def assign(self, key: str) -> str:
        """The variant of `key`."""
        i = int(np.searchsorted(self.cumulative, self.bucket(key), side="right"))
        return self.names[min(i, len(self.names) - 1)]


# Under the null both arms share one rate, so the standard error uses the pooled proportion.
def two_proportion_ztest(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Pooled two-sided z-test of $p_1 = p_2$; returns `(z, p_value)`.

    >>> z, p = two_proportion_ztest(60, 500, 40, 500)
    >>> round(z, 4), round(p, 4)
    (2.1082, 0.035)
    """
    if min(n1, n2) <= 0 or not (0 <= x1 <= n1 and 0 <= x2 <= n2):
        raise ValueError(f"need 0 <= x <= n and n > 0, got x1={x1}, n1={n1}, x2={x2}, n2={n2}")
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        raise ValueError("all outcomes are equal (pooled proportion 0 or 1): the test is undefined")
    z = (x1 / n1 - x2 / n2) / se
    return z, float(2 * stats.norm.sf(abs(z)))


# For continuous metrics (latency, tokens): Welch's test does not assume equal variances, and its
# degrees of freedom come from the Welch–Satterthwaite formula.
def welch_ttest(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """Welch's unequal-variance t-test; returns `(t, df, p_value)` (two-sided)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"each sample needs >= 2 values, got {a.size} and {b.size}")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return float(t), float(df), float(2 * stats.t.sf(abs(t), df))


# Planning: $2\arcsin\sqrt{\hat p}$ has variance about $1/n$ whatever $p$, so with $n$ users per
# arm the z statistic is about $h\sqrt{n/2}$, and power is the normal mass beyond either
# critical value.
def cohens_h(p1: float, p2: float) -> float:
    r"""Cohen's effect size for two proportions, $2\arcsin\sqrt{p_1} - 2\arcsin\sqrt{p_2}$."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


def power_two_proportions(p1: float, p2: float, n: float, alpha: float = 0.05) -> float:
    """Power of the two-sided z-test with `n` users per arm (arcsine approximation)."""
    h = abs(cohens_h(p1, p2))
    crit = stats.norm.isf(alpha / 2)
    shift = h * math.sqrt(n / 2)
    return float(stats.norm.cdf(shift - crit) + stats.norm.cdf(-shift - crit))


# The textbook formula ignores the far tail's small share of the power; root-finding on the exact
# power, bracketed around the textbook value, gives the `n` that reaches it.
def sample_size_two_proportions(
    p1: float, p2: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Users per arm for the two-sided z-test to reach `power` (not rounded).

    >>> round(sample_size_two_proportions(0.10, 0.12), 1)
    3834.6
    """
    if not (0 < p1 < 1 and 0 < p2 < 1) or p1 == p2:
        raise ValueError(f"need two different proportions in (0, 1), got {p1}, {p2}")
    if not (0 < alpha < 1 and alpha < power < 1):
        raise ValueError(f"need 0 < alpha < power < 1, got alpha={alpha}, power={power}")
    # The exact answer lies within a factor 2 of the textbook one, which brackets the root.
    h = abs(cohens_h(p1, p2))
    textbook = 2 * (stats.norm.isf(alpha / 2) + stats.norm.ppf(power)) ** 2 / h**2
    return optimize.brentq(
        lambda n: power_two_proportions(p1, p2, n, alpha) - power,
        textbook / 2,
        textbook * 2,
        xtol=1e-13,
        rtol=1e-15,
    )


# The mSPRT mixes the likelihood ratio over a normal prior $N(0, \tau^2)$ on the effect, which
# has a closed form in the running sum; it is a martingale under $H_0$, so by Ville's inequality
# stopping at $\Lambda_n \ge 1/\alpha$ keeps the false-positive rate below $\alpha$ at any peek.
def msprt_statistic(d: Sequence[float], sigma2: float, tau2: float) -> np.ndarray:
    r"""The mSPRT likelihood ratio $\Lambda_n$ after each observation of `d` (normal mixture)."""
    if sigma2 <= 0 or tau2 <= 0:
        raise ValueError(f"sigma2 and tau2 must be positive, got {sigma2}, {tau2}")
    d = np.asarray(d, dtype=np.float64)
    n = np.arange(1, d.size + 1)
    s = np.cumsum(d)  # n * mean
    log_lr = 0.5 * np.log(sigma2 / (sigma2 + n * tau2)) + tau2 * s**2 / (
        2 * sigma2 * (sigma2 + n * tau2)
    )
    return np.exp(log_lr)


# ## The peeking simulation
#
# `n_sims` A/A experiments (no true difference) with Gaussian paired differences; the naive
# analyst computes the z-test after every `every` observations and stops at the first p < alpha;
# the sequential analyst stops at the first $\Lambda_n \ge 1/\alpha$. Both false-positive rates
# are returned, with the one of a single test at the end for comparison.
def peeking_simulation(
    *, n_sims: int = 2000, n_max: int = 1000, every: int = 10, alpha: float = 0.05, seed: int = 0
) -> dict[str, float]:
    """False-positive rates of a fixed-horizon test, naive peeking and mSPRT under $H_0$.

    >>> r = peeking_simulation(n_sims=500, seed=0)
    >>> r["peeking"] > 2 * r["fixed"], r["msprt"] <= 0.05
    (True, True)
    """
    # All experiments at once: the running z statistic after every observation, (n_sims, n_max).
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((n_sims, n_max))  # sigma = 1, theta = 0
    n = np.arange(1, n_max + 1)
    z = np.cumsum(d, axis=1) / np.sqrt(n)  # (n_sims, n_max)
    crit = stats.norm.isf(alpha / 2)
    looks = n % every == 0
    # A false positive: the fixed test rejects at the end; the peeker at any look; the mSPRT
    # when its ratio crosses $1/\alpha$ at any look.
    fixed = np.abs(z[:, -1]) > crit
    peeking = (np.abs(z[:, looks]) > crit).any(axis=1)
    lam = np.apply_along_axis(msprt_statistic, 1, d, 1.0, 1.0)
    msprt = (lam[:, looks] >= 1 / alpha).any(axis=1)
    return {
        "fixed": float(fixed.mean()),
        "peeking": float(peeking.mean()),
        "msprt": float(msprt.mean()),
    }
