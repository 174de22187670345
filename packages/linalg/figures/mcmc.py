"""# Figure: a Metropolis–Hastings chain and the posterior it samples

The trace and histogram of a random-walk chain on a Beta–Binomial posterior, with the exact
conjugate density for comparison."""

import matplotlib.figure
import numpy as np

from masterclass.linalg.bayes import (
    beta_binomial_update,
    effective_sample_size,
    metropolis_hastings,
)
from masterclass.linalg.distributions import Beta


def figure() -> matplotlib.figure.Figure:
    """13 successes in 40 trials under a Beta(2, 2) prior; 20 000 draws after 500 of burn-in."""
    a, b, k, n = 2.0, 2.0, 13, 40
    posterior = Beta(*beta_binomial_update(a, b, k, n))

    def log_post(theta: np.ndarray) -> float:
        return float(posterior.log_prob(theta[0]))

    result = metropolis_hastings(
        log_post, [0.5], 20_000, step=0.15, rng=np.random.default_rng(1), burn_in=500
    )
    chain = result.samples[:, 0]
    ess = effective_sample_size(chain)
    fig = matplotlib.figure.Figure(figsize=(10, 3.8))
    trace, hist = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    trace.plot(chain[:2000], lw=0.6)
    trace.set_xlabel("step")
    trace.set_ylabel("p")
    trace.set_title(
        f"first 2000 steps (acceptance {result.acceptance_rate:.0%}, ESS {ess:.0f} of 20000)"
    )
    grid = np.linspace(0.01, 0.8, 300)
    hist.hist(chain, bins=60, density=True, alpha=0.5, label="MCMC samples")
    hist.plot(grid, np.exp(posterior.log_prob(grid)), "k", lw=2, label="exact Beta(15, 29)")
    hist.set_xlabel("p")
    hist.legend(fontsize=8)
    fig.tight_layout()
    return fig
