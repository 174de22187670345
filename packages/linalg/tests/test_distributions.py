"""# Tests: probability distributions

Reference tests for the distributions: log-densities against scipy.stats, samplers by moments
and goodness of fit with fixed seeds.

Log-densities are a few float64 operations and `gammaln`: `rtol = 1e-12`. Samplers are checked
with a fixed seed and 20 000 draws: sample means within 5 standard errors of the true mean (a
false alarm has probability < 1e-6 for a correct sampler, so these seeded tests are meaningful,
not tuned), and Kolmogorov–Smirnov or chi-square tests against scipy's distribution with
p > 1e-3.
"""

import numpy as np
import pytest
import scipy.stats

from masterclass.linalg import distributions as dist

N = 20_000


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _check_mean(samples, mean, var):
    se = np.sqrt(var / len(samples))
    assert abs(np.mean(samples) - mean) < 5 * se


def test_bernoulli():
    d = dist.Bernoulli(0.3)
    np.testing.assert_allclose(
        d.log_prob([0, 1, 2]), scipy.stats.bernoulli(0.3).logpmf([0, 1, 2]), rtol=1e-12
    )
    s = d.sample(_rng(), N)
    _check_mean(s, d.mean, d.variance)
    assert set(np.unique(s)) == {0, 1}


def test_categorical():
    probs = np.array([0.1, 0.2, 0.05, 0.65])
    d = dist.Categorical(probs)
    x = np.array([0, 1, 2, 3, 4, -1])
    expected = np.log(np.append(probs, [0, 0]).clip(1e-300))
    expected[4:] = -np.inf
    np.testing.assert_allclose(d.log_prob(x), expected, rtol=1e-12)
    counts = np.bincount(d.sample(_rng(1), N), minlength=4)
    assert scipy.stats.chisquare(counts, N * probs).pvalue > 1e-3


def test_poisson():
    for rate in (0.7, 12.0, 200.0):
        d = dist.Poisson(rate)
        k = np.arange(0, int(rate * 2) + 5)
        np.testing.assert_allclose(d.log_prob(k), scipy.stats.poisson(rate).logpmf(k), rtol=1e-12)
        s = d.sample(_rng(2), N)
        _check_mean(s, rate, rate)
        # Chi-square on the bins that hold enough mass, the tails pooled.
        edges = np.arange(
            scipy.stats.poisson(rate).ppf(1e-3), scipy.stats.poisson(rate).ppf(1 - 1e-3)
        )
        observed = np.array(
            [np.sum(s <= edges[0])]
            + [np.sum(s == e) for e in edges[1:-1]]
            + [np.sum(s >= edges[-1])]
        )
        cdf = scipy.stats.poisson(rate).cdf
        pmf = scipy.stats.poisson(rate).pmf
        expected = (
            np.array([cdf(edges[0])] + [pmf(e) for e in edges[1:-1]] + [1 - cdf(edges[-1] - 1)]) * N
        )
        assert (
            scipy.stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue
            > 1e-3
        )


def test_normal_and_box_muller():
    d = dist.Normal(1.5, 0.7)
    x = np.linspace(-3, 5, 17)
    np.testing.assert_allclose(d.log_prob(x), scipy.stats.norm(1.5, 0.7).logpdf(x), rtol=1e-12)
    s = d.sample(_rng(3), N)
    assert s.shape == (N,)
    assert scipy.stats.kstest(s, scipy.stats.norm(1.5, 0.7).cdf).pvalue > 1e-3


def test_multivariate_normal():
    mean = np.array([1.0, -2.0, 0.5])
    a = np.array([[1.0, 0.0, 0.0], [0.5, 1.2, 0.0], [-0.3, 0.4, 0.8]])
    cov = a @ a.T
    d = dist.MultivariateNormal(mean, cov)
    x = _rng(4).normal(size=(6, 3))
    ref = scipy.stats.multivariate_normal(mean, cov)
    np.testing.assert_allclose(d.log_prob(x), ref.logpdf(x), rtol=1e-12)
    assert d.log_prob(x[0]) == pytest.approx(ref.logpdf(x[0]), rel=1e-12)
    s = d.sample(_rng(5), N)
    # Sample mean within 5 standard errors per coordinate; covariance within 5% (its relative
    # standard error is about sqrt(2/N) = 1%).
    assert np.all(np.abs(s.mean(0) - mean) < 5 * np.sqrt(np.diag(cov) / N))
    np.testing.assert_allclose(np.cov(s, rowvar=False), cov, atol=0.05 * np.max(cov))


@pytest.mark.parametrize("shape", [0.3, 1.0, 4.5])
def test_gamma(shape):
    d = dist.Gamma(shape, rate=2.0)
    x = np.linspace(0.01, 5, 20)
    np.testing.assert_allclose(
        d.log_prob(x), scipy.stats.gamma(shape, scale=0.5).logpdf(x), rtol=1e-12
    )
    s = d.sample(_rng(6), N)
    assert scipy.stats.kstest(s, scipy.stats.gamma(shape, scale=0.5).cdf).pvalue > 1e-3


def test_beta():
    d = dist.Beta(2.5, 0.8)
    x = np.linspace(0.01, 0.99, 15)
    np.testing.assert_allclose(d.log_prob(x), scipy.stats.beta(2.5, 0.8).logpdf(x), rtol=1e-12)
    assert d.log_prob(1.5) == -np.inf
    s = d.sample(_rng(7), N)
    _check_mean(s, d.mean, d.variance)
    assert scipy.stats.kstest(s, scipy.stats.beta(2.5, 0.8).cdf).pvalue > 1e-3


def test_dirichlet():
    alpha = np.array([0.5, 2.0, 3.5])
    d = dist.Dirichlet(alpha)
    pts = _rng(8).dirichlet(alpha, size=5)
    np.testing.assert_allclose(
        d.log_prob(pts), scipy.stats.dirichlet(alpha).logpdf(pts.T), rtol=1e-12
    )
    s = d.sample(_rng(9), N)
    np.testing.assert_allclose(s.sum(1), 1.0, rtol=1e-14)
    # Each marginal is Beta(alpha_i, sum(alpha) - alpha_i).
    for i, a in enumerate(alpha):
        marginal = scipy.stats.beta(a, alpha.sum() - a)
        assert scipy.stats.kstest(s[:, i], marginal.cdf).pvalue > 1e-3


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="p must be a probability"):
        dist.Bernoulli(1.5)
    with pytest.raises(ValueError, match="sum to 1"):
        dist.Categorical([0.5, 0.6])
    with pytest.raises(ValueError, match="sigma"):
        dist.Normal(0.0, 0.0)
    with pytest.raises(ValueError, match="positive definite"):
        dist.MultivariateNormal([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="cov must have shape"):
        dist.MultivariateNormal([0.0, 0.0], np.eye(3))
    with pytest.raises(ValueError, match="rate"):
        dist.Poisson(-1.0)
    with pytest.raises(ValueError, match="alpha"):
        dist.Dirichlet([1.0, -1.0])
    with pytest.raises(ValueError, match="rng must be"):
        dist.Normal(0.0, 1.0).sample(0, 3)
