"""# Tests: Bayesian inference

Tests for conjugate updates, MAP, Metropolis–Hastings and the effective sample size.

References: conjugate posteriors are checked against a brute-force posterior normalised on a fine
grid (likelihood x prior from scipy.stats, 20 001 points: quadrature error < 1e-8) and against
scipy.stats' Beta moments. The sampler is checked against the conjugate posterior: with a fixed
seed its mean must be within 5 Monte Carlo standard errors (sd / sqrt(ESS)) and its sd within 5%.
The ESS estimator is checked on an AR(1) chain, whose ESS is known: N (1 - phi) / (1 + phi).
"""

import numpy as np
import pytest
import scipy.stats

from masterclass.linalg import bayes


def _grid_posterior(log_unnorm, grid):
    w = np.exp(log_unnorm - log_unnorm.max())
    w /= np.trapezoid(w, grid)
    mean = np.trapezoid(grid * w, grid)
    var = np.trapezoid((grid - mean) ** 2 * w, grid)
    return mean, var


def test_beta_binomial_matches_grid_posterior():
    a, b, k, n = 2.0, 3.0, 7, 20
    post_a, post_b = bayes.beta_binomial_update(a, b, k, n)
    grid = np.linspace(1e-9, 1 - 1e-9, 20_001)
    log_post = scipy.stats.binom(n, grid).logpmf(k) + scipy.stats.beta(a, b).logpdf(grid)
    mean, var = _grid_posterior(log_post, grid)
    exact = scipy.stats.beta(post_a, post_b)
    assert exact.mean() == pytest.approx(mean, abs=1e-8)
    assert exact.var() == pytest.approx(var, abs=1e-8)
    # MAP is the grid's argmax; the MLE is k/n; the prior pulls MAP towards its own mode 1/3.
    map_est = bayes.beta_binomial_map(a, b, k, n)
    assert map_est == pytest.approx(grid[np.argmax(log_post)], abs=1e-4)
    assert abs(map_est - 1 / 3) < abs(k / n - 1 / 3)


def test_normal_normal_matches_grid_posterior():
    rng = np.random.default_rng(0)
    data = rng.normal(1.3, 2.0, size=15)
    post_mean, post_var = bayes.normal_normal_update(0.0, 0.5, data, 4.0)
    grid = np.linspace(-6, 6, 20_001)
    log_post = scipy.stats.norm(0.0, np.sqrt(0.5)).logpdf(grid) + np.sum(
        scipy.stats.norm(grid[:, None], 2.0).logpdf(data), axis=1
    )
    mean, var = _grid_posterior(log_post, grid)
    assert post_mean == pytest.approx(mean, abs=1e-8)
    assert post_var == pytest.approx(var, abs=1e-8)


def test_map_approaches_mle_with_more_data():
    gaps = [abs(bayes.beta_binomial_map(5.0, 5.0, int(0.2 * n), n) - 0.2) for n in (10, 100, 1000)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 5e-3


def test_metropolis_hastings_recovers_conjugate_posterior():
    a, b, k, n = 2.0, 2.0, 13, 40
    exact = scipy.stats.beta(*bayes.beta_binomial_update(a, b, k, n))

    def log_post(theta):
        p = theta[0]
        if not 0 < p < 1:
            return -np.inf
        return k * np.log(p) + (n - k) * np.log1p(-p) + (a - 1) * np.log(p) + (b - 1) * np.log1p(-p)

    result = bayes.metropolis_hastings(
        log_post, [0.5], 20_000, step=0.15, rng=np.random.default_rng(1), burn_in=500
    )
    chain = result.samples[:, 0]
    assert 0.2 < result.acceptance_rate < 0.8
    ess = bayes.effective_sample_size(chain)
    assert 1000 < ess < 20_000
    assert abs(chain.mean() - exact.mean()) < 5 * exact.std() / np.sqrt(ess)
    assert chain.std() == pytest.approx(exact.std(), rel=0.05)


def test_effective_sample_size_of_ar1_chain():
    phi, n = 0.8, 50_000
    rng = np.random.default_rng(2)
    eps = rng.normal(size=n)
    x = np.empty(n)
    x[0] = eps[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + eps[t]
    expected = n * (1 - phi) / (1 + phi)
    assert bayes.effective_sample_size(x) == pytest.approx(expected, rel=0.1)
    rho = bayes.autocorrelation(x)
    np.testing.assert_allclose(rho[:4], phi ** np.arange(4), atol=0.02)
    # Independent draws: ESS ~ N.
    assert bayes.effective_sample_size(eps) == pytest.approx(n, rel=0.1)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="successes <= trials"):
        bayes.beta_binomial_update(1.0, 1.0, 5, 3)
    with pytest.raises(ValueError, match="prior_var"):
        bayes.normal_normal_update(0.0, -1.0, [1.0], 1.0)
    with pytest.raises(ValueError, match="x0 must be a point"):
        bayes.metropolis_hastings(
            lambda t: -np.inf, [0.0], 10, step=0.1, rng=np.random.default_rng(0)
        )
    with pytest.raises(ValueError, match="step"):
        bayes.metropolis_hastings(lambda t: 0.0, [0.0], 10, step=0.0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="constant"):
        bayes.effective_sample_size(np.ones(10))
