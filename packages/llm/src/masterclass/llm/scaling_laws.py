r"""# Scaling laws

How good can a language model get for a given amount of compute, and should that compute buy
more parameters or more data? Kaplan et al. (2020) and Hoffmann et al. (2022, *Chinchilla*)
answered empirically: the loss of well-trained models is a smooth function of the parameter count
$N$ and the number of training tokens $D$,

$$ L(N, D) = E + \frac{A}{N^{\alpha}} + \frac{B}{D^{\beta}}, $$

where $E$ is the irreducible entropy of the text, and the two power laws are what a finite model
and a finite sample cost. Training costs $C \approx 6ND$ FLOPs (`LanguageModel.flops_per_token`:
a forward pass is $2N$ per token, the backward twice that).

**Compute-optimal allocation.** Minimizing $L$ subject to $6ND = C$ (a Lagrange multiplier, or
substituting $D = C / 6N$ and setting $\partial L / \partial N = 0$) gives

$$ N_{opt} = G \left(\frac{C}{6}\right)^{\frac{\beta}{\alpha+\beta}}, \quad
   D_{opt} = G^{-1} \left(\frac{C}{6}\right)^{\frac{\alpha}{\alpha+\beta}}, \quad
   G = \left(\frac{\alpha A}{\beta B}\right)^{\frac{1}{\alpha+\beta}}. $$

With Chinchilla's fit ($\alpha = 0.34$, $\beta = 0.28$) both exponents are near $\tfrac12$: grow
parameters and tokens together. (The paper's headline of about 20 tokens per parameter comes from
its first two approaches; the approach-3 constants above give several times more, one of the
inconsistencies Besiroglu et al., 2024, point out.)

**Fitting.** `fit_scaling_law` follows Chinchilla's third approach: minimize the Huber loss
($\delta = 10^{-3}$) between $\log L$ and the log of the model,
$\operatorname{LSE}(a - \alpha \log N,\ b - \beta \log D,\ e)$ with $A = e^a, B = e^b, E = e^e$,
from a grid of starting points, keeping the best. The test recovers known parameters from
synthetic losses.

**Our grid.** `bench/studies.py` trains byte-level models of four widths (2 layers; 12k to 68k
non-embedding parameters) for three budgets each (0.1M to 0.4M bytes) on the standard-library
corpus (`tiny_runs.py`), and fits the law to the twelve validation losses (nats per byte). The
figure is drawn from the committed output of `bench/studies.py --only scaling`
(`bench/results/studies_scaling.txt`, whose first line is the command that made it): the points
are the measured losses, the curves the fitted $L(N, D)$, and the box the fitted constants beside
Chinchilla's ($E = 1.69$, $A = 406.4$, $\alpha = 0.34$, $B = 410.7$, $\beta = 0.28$, fitted on
tokens for 70M to 16B parameters) and the allocation the fit would choose at $10^{13}$ FLOPs.

![Validation loss of the twelve grid runs against training bytes, with the fitted scaling law](figures/study_scaling.png)

The data exponent $\beta$ lands in Chinchilla's range; the rest does not, and should not be
expected to. Every run here is far from convergence (at most 400 steps), so the loss is dominated
by the data term and the parameter term is barely identified: twelve points pin $\alpha$ and $E$
only loosely, and the fit trades one against the other (its $E$ is far below any plausible
entropy of Python source). The models are five orders of magnitude smaller, the loss is per byte
rather than per token (a byte model spends capacity on spelling), the corpus is one narrow
domain, and the learning rate is not retuned per size; small-scale fits are known to be noisy and
biased (Besiroglu et al., 2024, refitting Chinchilla's own data). What transfers is the method
(the $6ND$ accounting, the functional form, the Huber fit, the closed-form allocation), not the
constants: fitted at this scale, the law would put $10^{13}$ FLOPs into a model of tens of
thousands of parameters trained on far more bytes per parameter than Chinchilla's twenty tokens
(the box's last line).

## Exercises

1. Write `compute_optimal(E, A, alpha, B, beta, flops)`: $(N_{opt}, D_{opt})$ in closed form,
   derived as above. With Chinchilla's constants at its own budget ($5.76 \times 10^{23}$ FLOPs),
   how many tokens per parameter does approach 3 give? Check it:
   `uv run pytest --exercise llm.scaling_laws`.
2. Write `fit_power_law(x, y)`: fit $y = A x^{-\alpha}$ by least squares on $\log y$ against
   $\log x$, returning $(A, \alpha)$. Why does adding the constant $E$ make the fit nonlinear,
   which is what `fit_scaling_law`'s log-sum-exp form handles? Check it:
   `uv run pytest --exercise llm.scaling_laws`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from masterclass.llm.config import LMConfig
from masterclass.llm.tiny_runs import BYTE_VOCAB, train_tiny

# Hoffmann et al. (2022), approach 3.
CHINCHILLA = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}


def training_flops(n_params: float, n_tokens: float) -> float:
    r"""Training compute $C \approx 6ND$.

    >>> training_flops(1e9, 2e10)
    1.2e+20
    """
    return 6.0 * n_params * n_tokens


@dataclass
class ScalingLaw:
    r"""Parameters of $L(N, D) = E + A N^{-\alpha} + B D^{-\beta}$."""

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

    # Minimizing the loss under the constraint $6ND = C$ makes both optima powers of $C$.
    def compute_optimal(self, flops: float) -> tuple[float, float]:
        """$(N_{opt}, D_{opt})$ minimizing the loss at `flops` = $6ND$ (closed form above)."""
        a, b = self.alpha, self.beta
        g = (a * self.A / (b * self.B)) ** (1 / (a + b))
        return g * (flops / 6) ** (b / (a + b)), (flops / 6) ** (a / (a + b)) / g


# The Huber loss: quadratic near zero and linear beyond `delta`, so a few bad runs cannot dominate
# the fit.
def _huber(x: Tensor, delta: float) -> Tensor:
    return torch.where(x.abs() <= delta, 0.5 * x**2, delta * (x.abs() - 0.5 * delta))


# Chinchilla's fit (Hoffmann et al., 2022, approach 3): L-BFGS from each point of a small grid of
# starts, keeping the best.
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

        # In log space, $\log L = \operatorname{LSE}(a - \alpha \log N, b - \beta \log D, e)$ with
        # $A = e^a$, $B = e^b$, $E = e^e$, so the coefficients stay positive; the Huber loss acts on
        # the log residuals.
        def objective(theta: Tensor = theta) -> Tensor:
            a, b, e, alpha, beta = theta
            terms = torch.stack([a - alpha * log_n, b - beta * log_d, e.expand_as(log_n)])  # (3, R)
            return _huber(torch.logsumexp(terms, dim=0) - log_l, delta).sum()

        def closure(theta: Tensor = theta, opt: torch.optim.Optimizer = opt) -> Tensor:
            opt.zero_grad()
            obj = objective(theta)
            obj.backward()
            return obj

        # Keep the start whose fit ends lowest; a start that diverges (a non-finite objective) is
        # ignored.
        opt.step(closure)
        with torch.no_grad():
            obj = objective(theta).item()
        if math.isfinite(obj) and obj < best_obj:
            best, best_obj = theta.detach().clone(), obj
    if best is None:
        raise RuntimeError("the scaling-law fit diverged from every starting point; check the data")
    a, b, e, alpha, beta = best.tolist()
    return ScalingLaw(E=math.exp(e), A=math.exp(a), alpha=alpha, B=math.exp(b), beta=beta)


# The data for the fit: a grid of tiny LLaMA-style byte models, each width trained for each number
# of steps.
def run_grid(
    data: tuple[Tensor, Tensor],
    widths: tuple[int, ...] = (16, 24, 32, 48),
    steps: tuple[int, ...] = (100, 200, 400),
    *,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Train a 2-layer byte model of each width for each number of steps; rows of
    `d_model, steps, N` (non-embedding parameters), `D` (training bytes) and `val_loss`."""
    rows = []
    for d_model in widths:
        for n_steps in steps:
            config = LMConfig.llama(
                vocab_size=BYTE_VOCAB, d_model=d_model, n_layers=2, n_heads=4, max_seq_len=64
            )
            # Each run gives one point of the fit: its size N, its data D and its held-out loss.
            r = train_tiny(config, data, steps=n_steps, seed=seed)
            rows.append(
                {
                    "d_model": d_model,
                    "steps": n_steps,
                    "N": r.n_params,
                    "D": r.n_tokens,
                    "val_loss": r.val_loss,
                }
            )
    return rows
