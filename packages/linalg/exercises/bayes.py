r"""# Exercises: Bayesian inference: conjugate updates, MAP versus MLE, and Metropolis–Hastings

The Normal–Normal posterior, checked against a posterior computed on a grid, and the
Metropolis acceptance rule, checked by the stationary distribution of the chain it defines."""

import math

import numpy as np
import scipy.stats


def solution_1_normal_posterior(
    mu0: float, tau0: float, sigma: float, x: np.ndarray
) -> tuple[float, float]:
    r"""Precisions add: $1/\tau_n^2 = 1/\tau_0^2 + n/\sigma^2$, and $\mu_n$ is the weighted mean."""
    precision = 1 / tau0**2 + len(x) / sigma**2
    mean = (mu0 / tau0**2 + np.sum(x) / sigma**2) / precision
    return float(mean), float(1 / math.sqrt(precision))


def check_1_normal_posterior(fn) -> None:
    """Compare with the mean and sd of prior x likelihood evaluated on a fine grid."""
    rng = np.random.default_rng(0)
    for mu0, tau0, sigma, n in [(0.0, 1.0, 1.0, 5), (2.0, 0.5, 3.0, 20), (-1.0, 10.0, 0.5, 3)]:
        x = rng.normal(1.0, sigma, size=n)
        grid = np.linspace(-15, 15, 300_001)
        log_post = scipy.stats.norm(mu0, tau0).logpdf(grid)
        log_post += scipy.stats.norm(grid[:, None], sigma).logpdf(x[None, :]).sum(axis=1)
        w = np.exp(log_post - log_post.max())
        w /= w.sum()
        mean = float(w @ grid)
        sd = float(np.sqrt(w @ (grid - mean) ** 2))
        got_mean, got_sd = fn(mu0, tau0, sigma, x.copy())
        # The grid step is 1e-4, far below every posterior sd here: grid moments match to ~1e-8.
        assert abs(got_mean - mean) < 1e-6 and abs(got_sd - sd) < 1e-6, (
            f"prior N({mu0}, {tau0}^2), sigma {sigma}, n {n}: got ({got_mean:.6f}, {got_sd:.6f}), "
            f"the grid posterior has mean {mean:.6f} and sd {sd:.6f}"
        )


def solution_2_acceptance_probability(log_p_current: float, log_p_proposal: float) -> float:
    r"""$\min(1, \tilde p(\theta')/\tilde p(\theta))$, computed from log densities."""
    return math.exp(min(0.0, log_p_proposal - log_p_current))


def check_2_acceptance_probability(fn) -> None:
    """Build the chain's transition matrix on a ring of states; the target must be stationary."""
    rng = np.random.default_rng(1)
    for k in (3, 5, 8):
        target = rng.dirichlet(np.ones(k))
        log_p = np.log(target) + 7.0  # unnormalised: only ratios may matter
        trans = np.zeros((k, k))
        for i in range(k):
            for j in ((i - 1) % k, (i + 1) % k):  # symmetric proposal: a neighbour, 1/2 each
                a = fn(float(log_p[i]), float(log_p[j]))
                assert 0.0 <= a <= 1.0, f"acceptance probability {a} is not in [0, 1]"
                trans[i, j] += 0.5 * a
            trans[i, i] = 1.0 - trans[i].sum()
        drift = np.abs(target @ trans - target).max()
        assert drift < 1e-12, (
            f"{k} states: the target is not stationary under the chain (|pi P - pi| = {drift:.1e});"
            " accept with min(1, p(proposal) / p(current))"
        )
