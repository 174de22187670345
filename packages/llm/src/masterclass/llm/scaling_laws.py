"""# Scaling laws

How good can a language model get for a given amount of compute, and should that compute buy
more parameters or more data? Kaplan et al. (2020) and Hoffmann et al. (2022, *Chinchilla*)
answered empirically: the loss of well-trained models is a smooth function of the parameter count
$N$ and the number of training tokens $D$,

$$ L(N, D) = E + \\frac{A}{N^{\\alpha}} + \\frac{B}{D^{\\beta}}, $$

where $E$ is the irreducible entropy of the text, and the two power laws are what a finite model
and a finite sample cost. Training costs $C \\approx 6ND$ FLOPs (`LanguageModel.flops_per_token`:
a forward pass is $2N$ per token, the backward twice that).

**Compute-optimal allocation.** Minimizing $L$ subject to $6ND = C$ (a Lagrange multiplier, or
substituting $D = C / 6N$ and setting $\\partial L / \\partial N = 0$) gives

$$ N_{opt} = G \\left(\\frac{C}{6}\\right)^{\\frac{\\beta}{\\alpha+\\beta}}, \\quad
   D_{opt} = G^{-1} \\left(\\frac{C}{6}\\right)^{\\frac{\\alpha}{\\alpha+\\beta}}, \\quad
   G = \\left(\\frac{\\alpha A}{\\beta B}\\right)^{\\frac{1}{\\alpha+\\beta}}. $$

With Chinchilla's fit ($\\alpha = 0.34$, $\\beta = 0.28$) both exponents are near $\\tfrac12$: grow
parameters and tokens together. (The paper's headline of about 20 tokens per parameter comes from
its first two approaches; the approach-3 constants above give several times more, one of the
inconsistencies Besiroglu et al., 2024, point out.)

**Fitting.** `fit_scaling_law` follows Chinchilla's third approach: minimize the Huber loss
($\\delta = 10^{-3}$) between $\\log L$ and the log of the model,
$\\operatorname{LSE}(a - \\alpha \\log N,\\ b - \\beta \\log D,\\ e)$ with $A = e^a, B = e^b, E = e^e$,
from a grid of starting points, keeping the best. The test recovers known parameters from
synthetic losses.

**Our grid.** `bench/studies.py` trains byte-level models of four widths for four budgets each on
the standard-library corpus (`tiny_runs.py`) and fits the law:

| | $E$ | $A$ | $\\alpha$ | $B$ | $\\beta$ |
|---|---|---|---|---|---|
| Chinchilla (tokens, 70M-16B params) | 1.69 | 406.4 | 0.34 | 410.7 | 0.28 |
| this grid (bytes, 10k-200k params) | see `bench/studies.py` output below | | | | |

RESULTS_PLACEHOLDER

The exponents differ, and should: our runs are five orders of magnitude smaller than Chinchilla's,
far from convergence, on bytes rather than tokens (the loss is per byte, and a byte model spends
capacity on spelling), on one narrow domain (Python source), with one learning-rate schedule not
retuned per size; small-scale fits are known to be noisy and biased (Besiroglu et al., 2024, on
refitting Chinchilla). What transfers is the method, not the constants.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

# Hoffmann et al. (2022), approach 3.
CHINCHILLA = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}


def training_flops(n_params: float, n_tokens: float) -> float:
    """Training compute $C \\approx 6ND$.

    >>> training_flops(1e9, 2e10)
    1.2e+20
    """
    return 6.0 * n_params * n_tokens


@dataclass
class ScalingLaw:
    """Parameters of $L(N, D) = E + A N^{-\\alpha} + B D^{-\\beta}$."""

    # Irreducible loss.
    E: float
    # Coefficient of the parameter term.
    A: float
    # Parameter exponent.
    alpha: float
    # Coefficient of the data term.
    B: float
    # Data exponent.
    beta: float

    def loss(self, n_params: Tensor | float, n_tokens: Tensor | float) -> Tensor | float:
        """Predicted loss at `n_params`, `n_tokens`."""
        return self.E + self.A / n_params**self.alpha + self.B / n_tokens**self.beta

    def compute_optimal(self, flops: float) -> tuple[float, float]:
        """$(N_{opt}, D_{opt})$ minimizing the loss at `flops` = $6ND$ (closed form above)."""
        a, b = self.alpha, self.beta
        g = (a * self.A / (b * self.B)) ** (1 / (a + b))
        return g * (flops / 6) ** (b / (a + b)), (flops / 6) ** (a / (a + b)) / g


def _huber(x: Tensor, delta: float) -> Tensor:
    return torch.where(x.abs() <= delta, 0.5 * x**2, delta * (x.abs() - 0.5 * delta))


def fit_scaling_law(
    n_params: Tensor, n_tokens: Tensor, losses: Tensor, delta: float = 1e-3
) -> ScalingLaw:
    """Fit `ScalingLaw` to observed `losses` at `(n_params, n_tokens)` (1-D tensors) by
    Chinchilla's Huber-on-log-loss objective, L-BFGS from a grid of initializations."""
    log_n, log_d, log_l = (t.double().log() for t in (n_params, n_tokens, losses))
    best, best_obj = None, math.inf
    grid = itertools.product((0.0, 5.0, 10.0), (0.0, 5.0, 10.0), (-1.0, 0.5), (0.3,), (0.3,))
    for a0, b0, e0, alpha0, beta0 in grid:
        theta = torch.tensor([a0, b0, e0, alpha0, beta0], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

        def objective(theta: Tensor = theta) -> Tensor:
            a, b, e, alpha, beta = theta
            terms = torch.stack([a - alpha * log_n, b - beta * log_d, e.expand_as(log_n)])  # (3, R)
            return _huber(torch.logsumexp(terms, dim=0) - log_l, delta).sum()

        def closure(theta: Tensor = theta, opt: torch.optim.Optimizer = opt) -> Tensor:
            opt.zero_grad()
            obj = objective(theta)
            obj.backward()
            return obj

        opt.step(closure)
        with torch.no_grad():
            obj = objective(theta).item()
        if math.isfinite(obj) and obj < best_obj:
            best, best_obj = theta.detach().clone(), obj
    if best is None:
        raise RuntimeError("the scaling-law fit diverged from every starting point; check the data")
    a, b, e, alpha, beta = best.tolist()
    return ScalingLaw(E=math.exp(e), A=math.exp(a), alpha=alpha, B=math.exp(b), beta=beta)
