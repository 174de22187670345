r"""# Bayesian inference: conjugate updates, MAP versus MLE, and Metropolis–Hastings

Maximum likelihood returns one parameter value. Bayesian inference returns a distribution over
parameters that combines a **prior** $p(\theta)$ with the **likelihood** of the data:

$$p(\theta\mid x) = \frac{p(x\mid\theta)\,p(\theta)}{p(x)} \propto p(x\mid\theta)\,p(\theta).$$

**Conjugate priors** make the posterior belong to the prior's family, so updating is arithmetic:

- *Beta–Binomial*: with prior $\text{Beta}(a, b)$ on a success probability and $k$ successes in
  $n$ trials, the posterior is $\text{Beta}(a + k,\ b + n - k)$: the prior acts as $a$ earlier
  successes and $b$ earlier failures ("pseudo-counts").
- *Normal–Normal*: with prior $\mathcal N(\mu_0, \tau_0^2)$ on the mean of $\mathcal N(\mu,
  \sigma^2)$ data (known $\sigma$), precisions add and the posterior mean is the
  precision-weighted average:
  $$\frac1{\tau_n^2} = \frac1{\tau_0^2} + \frac n{\sigma^2}, \qquad
    \mu_n = \tau_n^2\Big(\frac{\mu_0}{\tau_0^2} + \frac{n\bar x}{\sigma^2}\Big).$$

**MAP versus MLE.** The maximum a posteriori estimate maximises $\log p(x\mid\theta) + \log
p(\theta)$: the MLE plus a penalty. For Beta–Binomial, $\hat p_{\text{MAP}} = (k + a - 1)/(n + a +
b - 2)$ against $\hat p_{\text{MLE}} = k/n$; a Gaussian prior on weights gives L2 weight decay. As
$n$ grows the likelihood dominates and the two agree; for small $n$ the prior keeps estimates away
from the extremes (no $\hat p = 0$ after three failures).

**Markov chain Monte Carlo.** Without conjugacy the normaliser $p(x)$ is an intractable integral,
but **Metropolis–Hastings** samples the posterior knowing it only up to a constant. From the
current $\theta$, propose $\theta' = \theta + \epsilon$ with symmetric noise
$\epsilon\sim\mathcal N(0, s^2I)$, and accept with probability
$\min\big(1, \tilde p(\theta')/\tilde p(\theta)\big)$, otherwise stay. The chain's stationary
distribution is the posterior (detailed balance): for $\theta \ne \theta'$ the probability flow
from $\theta$ to $\theta'$ is $\tilde p(\theta)\,q(\theta'\mid\theta)\min(1, \tilde p(\theta')/\tilde
p(\theta)) = q(\theta'\mid\theta)\min(\tilde p(\theta), \tilde p(\theta'))$, which is symmetric in
the two points when $q$ is, so the flows balance pairwise and $\tilde p$ (normalised or not) is
left unchanged by a step. Two diagnostics matter: the **acceptance rate**
(too high: tiny steps; too low: stuck; about 0.44 is optimal in 1-D, 0.23 in high dimensions),
and the **effective sample size** $\text{ESS} = N/(1 + 2\sum_{t\ge1}\rho_t)$, which discounts the
$N$ correlated draws by their autocorrelations $\rho_t$. We sum the autocorrelations in pairs and
stop at the first negative pair (Geyer's initial positive sequence), because far-lag estimates are
pure noise. The Monte Carlo standard error of a posterior mean is $\text{sd}/\sqrt{\text{ESS}}$.

![A Metropolis–Hastings chain on a Beta–Binomial posterior: its trace, and its histogram against the exact conjugate density](figures/mcmc.png)

References: Gelman et al., *Bayesian Data Analysis* (3rd ed.), ch. 2–3 and 11; Bishop, *Pattern
Recognition and Machine Learning*, §2.1–2.3; Metropolis et al. (1953); Hastings (1970); Geyer
(1992), *Practical Markov chain Monte Carlo*.

The Normal–Normal update, derived by completing the square. As a function of $\mu$,
$\log p(\mu\mid x) = -\frac{(\mu - \mu_0)^2}{2\tau_0^2} - \sum_i\frac{(x_i - \mu)^2}{2\sigma^2} +
\text{const} = -\frac12\Big(\frac1{\tau_0^2} + \frac n{\sigma^2}\Big)\mu^2 +
\Big(\frac{\mu_0}{\tau_0^2} + \frac{n\bar x}{\sigma^2}\Big)\mu + \text{const}$, a quadratic,
so the posterior is Gaussian; matching it with $-\frac{\mu^2}{2\tau_n^2} + \frac{\mu_n\mu}{\tau_n^2}$
reads off the two formulas above.

>>> mu_n, tau_n2 = normal_normal_update(0.0, 1.0, np.array([2.0, 2.0, 2.0]), 1.0)
>>> round(float(mu_n), 12), round(float(tau_n2), 12)  # precision 1 + 3 = 4; mean (0 + 6) / 4
(1.5, 0.25)

Left out: Gibbs sampling, Hamiltonian Monte Carlo, variational inference, and multi-chain
diagnostics ($\hat R$).

## Exercises

1. Write `normal_posterior(mu0, tau0, sigma, x)`: the posterior mean and standard deviation of a
   normal mean with known $\sigma$ and prior $\mathcal N(\mu_0, \tau_0^2)$. Check it:
   `uv run pytest --exercise linalg.bayes`.
2. Write `acceptance_probability(log_p_current, log_p_proposal)`: the Metropolis acceptance
   probability for a symmetric proposal, from unnormalised log densities. Check it:
   `uv run pytest --exercise linalg.bayes`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_vector, _check_positive

# ## Conjugate updates


def beta_binomial_update(a: float, b: float, successes: int, trials: int) -> tuple[float, float]:
    r"""Posterior $\text{Beta}(a + k, b + n - k)$ after `successes` $k$ in `trials` $n$.

    >>> beta_binomial_update(1.0, 1.0, 7, 10)
    (8.0, 4.0)
    """
    a, b = _check_positive(a, "a"), _check_positive(b, "b")
    if not (isinstance(successes, int | np.integer) and isinstance(trials, int | np.integer)):
        raise ValueError("successes and trials must be integers")
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} and {trials}")
    return a + successes, b + trials - successes


# Normal-normal: precisions add, $1/\tau_n^2 = 1/\tau_0^2 + n/\sigma^2$, and the posterior mean
# is the precision-weighted average of the prior mean and the data.
def normal_normal_update(
    prior_mean: float, prior_var: float, data: ArrayLike, noise_var: float
) -> tuple[float, float]:
    r"""Posterior (mean, variance) of a Gaussian mean with prior $\mathcal N(\mu_0, \tau_0^2)$,
    given `data` `(n,)` from $\mathcal N(\mu, \sigma^2)$ with known `noise_var` $\sigma^2$."""
    tau0 = _check_positive(prior_var, "prior_var")
    sigma2 = _check_positive(noise_var, "noise_var")
    x = _as_vector(data, "data")
    precision = 1.0 / tau0 + x.size / sigma2
    post_var = 1.0 / precision
    post_mean = post_var * (prior_mean / tau0 + x.sum() / sigma2)
    return float(post_mean), float(post_var)


# The MAP estimate is the posterior's mode, which exists and is unique only when both posterior
# parameters are at least 1 and not both equal to 1.
def beta_binomial_map(a: float, b: float, successes: int, trials: int) -> float:
    r"""MAP estimate $(k + a - 1)/(n + a + b - 2)$, the mode of the posterior (needs $a, b \ge 1$
    unless the data move the posterior's parameters above 1)."""
    post_a, post_b = beta_binomial_update(a, b, successes, trials)
    if post_a < 1 or post_b < 1:
        raise ValueError("the posterior has no interior mode when a + k < 1 or b + n - k < 1")
    if post_a == 1 and post_b == 1:
        raise ValueError("the posterior is uniform: every p is a mode")
    return (post_a - 1) / (post_a + post_b - 2)


# ## Metropolis–Hastings with a Gaussian random-walk proposal


@dataclass(frozen=True)
class MCMCResult:
    """The chain `samples` `(N, d)` after burn-in and the fraction of proposals accepted."""

    samples: np.ndarray
    acceptance_rate: float


# Random-walk Metropolis: propose $x' = x + \epsilon$, $\epsilon \sim \mathcal N(0,
# \text{step}^2 I)$, and accept with probability $\min(1, p(x')/p(x))$; the proposal is
# symmetric, so its density cancels from the ratio.
def metropolis_hastings(
    log_density: Callable[[np.ndarray], float],
    x0: ArrayLike,
    n_samples: int,
    *,
    step: float,
    rng: np.random.Generator,
    burn_in: int = 1000,
) -> MCMCResult:
    r"""Sample from the density $\propto e^{\text{log\_density}(x)}$ on $\mathbb R^d$.

    `log_density` may return `-inf` outside the support; `x0` `(d,)` must have finite density.
    """
    # A start outside the support is refused: the acceptance ratio there is undefined.
    x = _as_vector(x0, "x0").copy()
    step = _check_positive(step, "step")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator, e.g. np.random.default_rng(0)")
    if not isinstance(n_samples, int) or n_samples < 1 or burn_in < 0:
        raise ValueError("n_samples must be an integer >= 1 and burn_in >= 0")
    logp = float(log_density(x))
    if not np.isfinite(logp):
        raise ValueError("x0 must be a point where log_density is finite")
    total = burn_in + n_samples
    # Draw all proposal noise and acceptance uniforms up front: one call each, same stream.
    noise = rng.normal(scale=step, size=(total, x.size))
    log_u = np.log(1.0 - rng.random(total))
    samples = np.empty((n_samples, x.size))
    accepted = 0
    # The chain: propose, then accept or stay; after burn-in every step records the current state,
    # so a rejection repeats the old one.
    for t in range(total):
        proposal = x + noise[t]
        logp_new = float(log_density(proposal))
        # Accept with probability min(1, p(x')/p(x)), compared in log space.
        if log_u[t] < logp_new - logp:
            x, logp = proposal, logp_new
            accepted += t >= burn_in
        if t >= burn_in:
            samples[t - burn_in] = x
    return MCMCResult(samples, accepted / n_samples)


def autocorrelation(chain: ArrayLike) -> np.ndarray:
    r"""Autocorrelations $\rho_0..\rho_{N-1}$ of a 1-D chain `(N,)`, via the FFT in $O(N\log N)$."""
    x = _as_vector(chain, "chain")
    x = x - x.mean()
    n = x.size
    # Zero-pad to avoid the circular wrap-around of the FFT's convolution.
    f = np.fft.rfft(x, n=2 * n)
    acov = np.fft.irfft(f * np.conj(f))[:n] / n
    if acov[0] == 0:
        raise ValueError("the chain is constant; its autocorrelation is undefined")
    return acov / acov[0]


def effective_sample_size(chain: ArrayLike) -> float:
    r"""ESS $= N/(1 + 2\sum_t\rho_t)$ of a 1-D chain `(N,)`, summing autocorrelation pairs
    $\rho_{2m} + \rho_{2m+1}$ while they stay positive (Geyer's initial positive sequence)."""
    rho = autocorrelation(chain)
    n = rho.size
    total = 0.0  # sum of rho_t for t >= 1
    for m in range(0, n - 1, 2):
        pair = rho[m] + rho[m + 1]
        if pair < 0:
            break
        total += pair
    # The pairs summed from $\rho_0 = 1$, so $\tau = 1 + 2\sum_{t\ge1}\rho_t = 2\,\text{total} - 1$.
    # Anti-correlated chains can make $\tau < 1$ (ESS > N); like Stan, we cap ESS at $N\log_{10}N$.
    tau = max(2.0 * total - 1.0, 1.0 / np.log10(max(n, 10)))
    return float(n / tau)
