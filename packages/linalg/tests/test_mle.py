"""# Tests: maximum likelihood estimation

Reference tests for maximum likelihood: closed forms against scipy.stats' fitters and numpy;
logistic regression against scipy.optimize and its standard errors against the inverse of torch's
autograd Hessian of the negative log-likelihood.

Closed forms are one or two float64 reductions: `rtol = 1e-12`. The logistic fit stops at a
gradient norm of 1e-9 * ||X||, so the weights are within ~1e-9 of the optimum that BFGS (run to a
1e-10 gradient) finds: `atol = 1e-6` leaves room for BFGS's own stopping error. The Fisher
information is an exact Hessian in both implementations: `rtol = 1e-10` on the standard errors.
"""

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
import torch

from masterclass.linalg import mle


def test_closed_forms_match_scipy_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=500)
    est = mle.normal_mle(x)
    loc, scale = scipy.stats.norm.fit(x)
    np.testing.assert_allclose(est.value, [loc, scale], rtol=1e-12)
    np.testing.assert_allclose(
        est.stderr, [scale / np.sqrt(500), scale / np.sqrt(1000)], rtol=1e-12
    )

    counts = rng.poisson(4.0, size=300).astype(float)
    assert float(mle.poisson_mle(counts).value) == pytest.approx(counts.mean(), rel=1e-12)
    coins = (rng.random(400) < 0.3).astype(float)
    est = mle.bernoulli_mle(coins)
    p = coins.mean()
    assert float(est.value) == pytest.approx(p, rel=1e-12)
    assert float(est.stderr) == pytest.approx(np.sqrt(p * (1 - p) / 400), rel=1e-12)
    labels = rng.integers(0, 4, size=250)
    np.testing.assert_allclose(
        mle.categorical_mle(labels, 5).value, np.bincount(labels, minlength=5) / 250
    )

    data = rng.multivariate_normal([1.0, -1.0], [[2.0, 0.3], [0.3, 0.5]], size=400)
    mu, cov = mle.multivariate_normal_mle(data)
    np.testing.assert_allclose(mu, data.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(data, rowvar=False, bias=True), rtol=1e-12)


def test_normal_mle_is_the_likelihood_maximum():
    # The closed form beats any nearby parameter on the scipy.stats log-likelihood.
    x = np.random.default_rng(1).normal(size=50)
    mu, sigma = mle.normal_mle(x).value
    best = scipy.stats.norm(mu, sigma).logpdf(x).sum()
    for dmu, dsigma in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)]:
        assert scipy.stats.norm(mu + dmu, sigma + dsigma).logpdf(x).sum() < best


def _logistic_data(seed=2, n=400):
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, 3))])
    w = np.array([-0.5, 1.0, -2.0, 0.3])
    y = (rng.random(n) < 1 / (1 + np.exp(-x @ w))).astype(float)
    return x, y


def test_logistic_regression_matches_scipy_and_torch():
    x, y = _logistic_data()
    est = mle.fit_logistic_regression(x, y)
    ref = scipy.optimize.minimize(
        mle.logistic_nll,
        np.zeros(4),
        args=(x, y),
        jac=mle.logistic_nll_grad,
        method="BFGS",
        options={"gtol": 1e-10},
    )
    np.testing.assert_allclose(est.value, ref.x, atol=1e-6)

    xt, yt = torch.tensor(x), torch.tensor(y)

    def nll(w):
        return torch.nn.functional.binary_cross_entropy_with_logits(xt @ w, yt, reduction="sum")

    hess = torch.autograd.functional.hessian(nll, torch.tensor(est.value)).numpy()
    np.testing.assert_allclose(est.stderr, np.sqrt(np.diag(np.linalg.inv(hess))), rtol=1e-10)
    assert mle.logistic_nll(est.value, x, y) == pytest.approx(
        nll(torch.tensor(est.value)).item(), rel=1e-12
    )


def test_standard_errors_shrink_like_one_over_sqrt_n():
    small = mle.fit_logistic_regression(*_logistic_data(3, n=400)).stderr
    large = mle.fit_logistic_regression(*_logistic_data(3, n=1600)).stderr
    np.testing.assert_allclose(large / small, 0.5, rtol=0.2)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="only 0 and 1"):
        mle.bernoulli_mle([0.0, 2.0])
    with pytest.raises(ValueError, match="at least 2"):
        mle.normal_mle([1.0])
    with pytest.raises(ValueError, match="integer counts"):
        mle.poisson_mle([1.5])
    with pytest.raises(ValueError, match="labels must lie"):
        mle.categorical_mle(np.array([0, 3]), 3)
    x = np.column_stack([np.ones(4), [-2.0, -1.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="separable"):
        mle.fit_logistic_regression(x, np.array([0.0, 0.0, 1.0, 1.0]), max_steps=2000)
