"""# Tests: cross-entropy and KL divergence

Reference tests for log-sum-exp, log-softmax, cross-entropy and KL (scipy and torch).

All comparisons are in float64. Closed-form quantities computed with a handful of operations agree
with scipy/torch to `rtol = 1e-12` (a few hundred ulps: different summation orders). Gradients are
checked against torch autograd to the same tolerance.
"""

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from masterclass.linalg.cross_entropy import (
    cross_entropy,
    cross_entropy_dist,
    cross_entropy_grad,
    kl_divergence,
    kl_mvn,
    kl_normal,
    log_softmax,
    logsumexp,
    softmax,
)

TOL = {"rtol": 1e-12, "atol": 1e-12}
finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=finite)
)
def test_logsumexp_and_log_softmax_match_scipy_and_torch(x):
    for axis in range(x.ndim):
        np.testing.assert_allclose(
            logsumexp(x, axis=axis), scipy.special.logsumexp(x, axis=axis), **TOL
        )
        ref = F.log_softmax(torch.from_numpy(x), dim=axis).numpy()
        np.testing.assert_allclose(log_softmax(x, axis=axis), ref, **TOL)
        # Property: softmax rows are probability vectors.
        np.testing.assert_allclose(softmax(x, axis=axis).sum(axis=axis), 1.0, rtol=1e-13)


def test_logsumexp_is_stable_for_huge_and_tiny_logits():
    # The naive formula overflows (1e4) or gives log(0) (-1e4); the shifted one is exact here.
    x = np.array([[1e4, 1e4 - 1.0], [-1e4, -1e4 - 1.0]])
    expected = np.array([1e4, -1e4]) + np.log1p(np.exp(-1.0))
    np.testing.assert_allclose(logsumexp(x), expected, rtol=1e-15)
    assert np.all(np.isfinite(log_softmax(x)))


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.7])
def test_cross_entropy_and_grad_match_torch(smoothing):
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(7, 11))
    targets = rng.integers(0, 11, size=7)
    z = torch.tensor(logits, requires_grad=True)
    ref = F.cross_entropy(z, torch.from_numpy(targets), label_smoothing=smoothing)
    ref.backward()
    ours = cross_entropy(logits, targets, label_smoothing=smoothing)
    assert ours == pytest.approx(ref.item(), rel=1e-12)
    grad = cross_entropy_grad(logits, targets, label_smoothing=smoothing)
    np.testing.assert_allclose(grad, z.grad.numpy(), **TOL)


def _dists(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(k), size=n), rng.dirichlet(np.ones(k), size=n)


def test_kl_and_cross_entropy_between_distributions_match_scipy_and_torch():
    p, q = _dists(6, 5, seed=1)
    kl = kl_divergence(p, q)
    np.testing.assert_allclose(kl, scipy.stats.entropy(p, q, axis=-1), **TOL)
    torch_kl = F.kl_div(torch.from_numpy(np.log(q)), torch.from_numpy(p), reduction="none")
    np.testing.assert_allclose(kl, torch_kl.sum(-1).numpy(), **TOL)
    # The decomposition H(p, q) = H(p) + KL(p||q).
    np.testing.assert_allclose(
        cross_entropy_dist(p, q), scipy.stats.entropy(p, axis=-1) + kl, **TOL
    )


def test_kl_conventions_for_zeros():
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2.0), rel=1e-15)
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 8), st.integers(0, 10_000))
def test_gibbs_inequality(k, seed):
    # KL(p||q) >= 0 with equality at p = q.
    p, q = _dists(1, k, seed)
    assert kl_divergence(p, q)[0] >= 0
    assert abs(kl_divergence(p, p)[0]) < 1e-15


def test_kl_normal_matches_torch_distributions():
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.2, 3, size=5), rng.uniform(0.2, 3, size=5)
    N = torch.distributions.Normal
    ref = torch.distributions.kl_divergence(
        N(torch.tensor(mu1), torch.tensor(s1)), N(torch.tensor(mu2), torch.tensor(s2))
    )
    np.testing.assert_allclose(kl_normal(mu1, s1, mu2, s2), ref.numpy(), **TOL)


def test_kl_mvn_matches_torch_distributions():
    rng = np.random.default_rng(3)
    k = 4
    a, b = rng.normal(size=(k, k)), rng.normal(size=(k, k))
    c0, c1 = a @ a.T + 0.5 * np.eye(k), b @ b.T + 0.5 * np.eye(k)
    m0, m1 = rng.normal(size=k), rng.normal(size=k)
    MVN = torch.distributions.MultivariateNormal
    ref = torch.distributions.kl_divergence(
        MVN(torch.tensor(m0), torch.tensor(c0)), MVN(torch.tensor(m1), torch.tensor(c1))
    )
    # Cholesky solves in two libraries: 1e-10 covers their different condition-dependent rounding.
    assert kl_mvn(m0, c0, m1, c1) == pytest.approx(ref.item(), rel=1e-10)
    # The univariate formula is the k = 1 case.
    one = kl_mvn([0.3], [[2.0]], [-1.0], [[0.5]])
    assert one == pytest.approx(float(kl_normal(0.3, 2.0**0.5, -1.0, 0.5**0.5)), rel=1e-13)


def test_logsumexp_accepts_log_zero_entries():
    # -inf is the log of a zero probability. scipy agrees to float64 rounding (1e-15 relative: the
    # two sum in different orders), and both give exactly -inf for a slice of only -inf.
    x = np.array([[-np.inf, 0.0, np.log(3.0)], [-np.inf, -np.inf, -np.inf]])
    np.testing.assert_allclose(logsumexp(x, axis=1), scipy.special.logsumexp(x, axis=1), rtol=1e-15)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="NaN or \\+infinity"):
        logsumexp(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="NaN or \\+infinity"):
        logsumexp(np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="targets must lie in"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="targets must have shape"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="integer class indices"):
        cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="sum to 1"):
        kl_divergence([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="negative"):
        kl_divergence([1.5, -0.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="sigma"):
        kl_normal(0.0, -1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="positive definite"):
        kl_mvn([0, 0], [[1, 2], [2, 1]], [0, 0], np.eye(2))
