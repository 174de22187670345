r"""# Privacy: DP-SGD, the RDP accountant, membership inference and canaries

A trained model is a function of its training set, so it can leak it. Two attacks make the leak
measurable. A **membership inference** attack (Shokri et al., 2017; Yeom et al., 2018) guesses
whether a given example was in the training set; the simplest one thresholds the loss, because an
over-fit model has a much smaller loss on what it saw. A **canary** (Carlini et al., 2019, *The
Secret Sharer*) is a random secret planted in the training data; its *exposure* says how much more
likely the model finds it than the other secrets it could have been.

**Differential privacy** bounds every such attack at once. A randomised training algorithm $M$ is
$(\varepsilon, \delta)$-DP if for any two data sets $D, D'$ that differ in one example and any set
of outcomes $S$, $P[M(D) \in S] \le e^{\varepsilon} P[M(D') \in S] + \delta$. For membership
inference this caps the attacker's true-positive rate at $e^\varepsilon \cdot \text{FPR} + \delta$:
with $\varepsilon = 1$ the ROC curve stays near the diagonal.

## DP-SGD

Abadi et al. (2016) make SGD private in three moves per step:

1. sample a batch by including each example independently with probability $q$ (Poisson sampling);
2. clip each example's gradient to norm $C$: $\bar g_i = g_i \min(1, C / \lVert g_i \rVert_2)$, so one
   example moves the sum by at most $C$ (the *sensitivity*);
3. add Gaussian noise and average: $\tilde g = \frac{1}{qN}\left(\sum_i \bar g_i + \mathcal N(0,
   \sigma^2 C^2 I)\right)$.

Each step is then a *sampled Gaussian mechanism* with noise multiplier $\sigma$.

## Rényi DP and the accountant

Composition over thousands of steps is tight in Rényi DP (Mironov, 2017): $M$ is $(\alpha,
\rho)$-RDP if the Rényi divergence of order $\alpha$ between $M(D)$ and $M(D')$ is at most $\rho$.
RDP adds up over steps, $\rho_{total}(\alpha) = \sum_t \rho_t(\alpha)$, and converts to
$(\varepsilon, \delta)$-DP (Balle et al., 2020, Thm. 21):

$$ \varepsilon = \min_\alpha \; \rho(\alpha) + \log\frac{\alpha - 1}{\alpha}
   - \frac{\log \delta + \log \alpha}{\alpha - 1}. $$

**The sampled Gaussian mechanism** (Mironov, Talwar and Zhang, 2019). Neighbouring outputs are
$\mu_0 = \mathcal N(0, \sigma^2)$ and the mixture $\mu = (1-q)\mu_0 + q\,\mathcal N(1, \sigma^2)$
(sensitivity 1 after dividing by $C$). The RDP is $\rho(\alpha) = \frac{1}{\alpha - 1} \log A_\alpha$
with $A_\alpha = \mathbb E_{z\sim\mu_0}[(\mu(z)/\mu_0(z))^\alpha]$. Write the ratio as
$1 - q + q\,e^{(2z - 1)/(2\sigma^2)}$ and expand the $\alpha$-th power binomially; the Gaussian moment
$\mathbb E_{\mu_0}[e^{k(2z-1)/(2\sigma^2)}] = e^{(k^2 - k)/(2\sigma^2)}$ gives, for integer $\alpha$,

$$ A_\alpha = \sum_{k=0}^{\alpha} \binom{\alpha}{k} (1-q)^{\alpha-k} q^k
   \exp\!\left(\frac{k^2 - k}{2\sigma^2}\right). $$

For fractional $\alpha$ the binomial series does not terminate and its terms change sign; splitting
the integral at $z_0 = \sigma^2 \log(1/q - 1) + \tfrac12$, where the two mixture terms are equal,
makes each half an absolutely convergent series whose terms carry a Gaussian tail factor
$\tfrac12\operatorname{erfc}$. Both series are summed in log space here, so nothing overflows.

## References

- M. Abadi et al., *Deep Learning with Differential Privacy*, CCS 2016, [arXiv:1607.00133](https://arxiv.org/abs/1607.00133).
- I. Mironov, *Rényi Differential Privacy*, 2017, [arXiv:1702.07476](https://arxiv.org/abs/1702.07476);
  I. Mironov, K. Talwar, L. Zhang, *Rényi DP of the Sampled Gaussian Mechanism*, 2019,
  [arXiv:1908.10530](https://arxiv.org/abs/1908.10530).
- B. Balle et al., *Hypothesis Testing Interpretations and Rényi DP*, AISTATS 2020, [arXiv:1905.09982](https://arxiv.org/abs/1905.09982).
- S. Yeom et al., *Privacy Risk in Machine Learning*, CSF 2018, [arXiv:1709.01604](https://arxiv.org/abs/1709.01604).
- N. Carlini et al., *The Secret Sharer*, USENIX Security 2019, [arXiv:1802.08232](https://arxiv.org/abs/1802.08232).

Left out: the PRV / GDP accountants (tighter), per-layer clipping, ghost clipping for memory, and
the secure random number generator a real deployment needs (we use `torch.Generator`).

>>> acc = RDPAccountant()
>>> acc.step(noise_multiplier=1.1, sample_rate=0.01, steps=1000)
>>> round(acc.epsilon(delta=1e-5)[0], 3)
1.712
>>> exposure(0.5, [0.5, 1.0, 2.0, 3.0])  # the canary ranks first of 4 candidates: log2(4) - log2(1)
2.0

## Exercises

1. Write `solution_1_clip(grads, max_norm)`: given per-sample gradients `(B, P)`, return them
   clipped to L2 norm at most `max_norm` each. Check it: `uv run pytest --exercise safety.privacy`.
2. Write `solution_2_gaussian_rdp(sigma, alpha)`: the RDP of the plain (un-sampled, $q = 1$) Gaussian
   mechanism, $\alpha / (2\sigma^2)$, and compare with `rdp_sampled_gaussian(1.0, sigma, alpha)`.
3. Write `solution_3_exposure(canary, candidates)`: the exposure of a canary from log-perplexities,
   computed by sorting rather than counting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

# The RDP orders searched when converting to $(\varepsilon, \delta)$: opacus' default grid.
DEFAULT_ORDERS: tuple[float, ...] = tuple(
    [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
)

LossFn = Callable[[Tensor, Tensor], Tensor]


# ## Per-sample gradients
#
# Autograd sums the gradient over the batch; clipping needs each example's gradient before the sum.
# `torch.func` computes them by writing the loss of *one* example as a function of the parameters,
# taking its gradient with `grad`, and mapping that over the batch with `vmap`: one vectorised
# backward pass, not $B$ of them. (Opacus does the same with hooks: a linear layer's per-sample
# gradient is the outer product of its input and its output gradient.)


def per_sample_grads(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Gradient of `loss_fn(model(x_i), y_i)` for each example: `{name: (B, *param.shape)}`.

    `loss_fn` takes outputs `(B, ...)` and targets `(B, ...)` and returns per-example losses `(B,)`.
    """
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def one_loss(p: dict[str, Tensor], xi: Tensor, yi: Tensor) -> Tensor:
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))  # (1, ...)
        return loss_fn(out, yi.unsqueeze(0)).sum()

    return vmap(grad(one_loss), in_dims=(None, 0, 0))(params, x, y)


def clip_factors(grads: dict[str, Tensor], max_grad_norm: float) -> Tensor:
    r"""Per-example factors $\min(1, C / \lVert g_i \rVert_2)$, `(B,)`, the norm over all parameters."""
    if not max_grad_norm > 0:
        raise ValueError(f"max_grad_norm must be > 0 (math.inf: no clipping), got {max_grad_norm}")
    sq = sum(g.flatten(1).pow(2).sum(1) for g in grads.values())  # (B,)
    # $C / 0 = \infty$ and $\infty / n = \infty$ both clamp to 1: no clipping, no special case.
    return torch.clamp(max_grad_norm / sq.sqrt(), max=1.0)


# ## One DP-SGD step
#
# The clipped sum $\sum_i w_i g_i$ with $w_i = \min(1, C / \lVert g_i \rVert)$ is the gradient of the
# *reweighted* loss $\sum_i w_i \ell_i$ with the $w_i$ held constant. So the step computes the
# per-sample gradients once to get the norms, then runs one ordinary backward pass on
# $\sum_i (w_i / n)\,\ell_i$. With $w_i = 1$ that backward pass receives $1/n$ for every loss, exactly
# what the backward pass of `mean()` receives, so $\sigma = 0$, $C = \infty$ reproduces plain SGD
# bit for bit. The noise $\mathcal N(0, \sigma^2 C^2)$ is added to the sum, hence $\sigma C / n$ after
# the division by the expected batch size $n = qN$.


@torch.no_grad()
def _sgd_update(model: nn.Module, lr: float) -> None:
    for p in model.parameters():
        if p.grad is not None:
            p.add_(p.grad, alpha=-lr)


# With Poisson sampling the batch size varies, so the step divides by the *expected* size $qN$
# when given: dividing by the actual size would leak how many examples were drawn.
def dp_sgd_step(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    *,
    lr: float,
    noise_multiplier: float,
    max_grad_norm: float,
    expected_batch_size: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Update `model` in place by one DP-SGD step on the batch `x` `(B, ...)`, `y` `(B, ...)`.

    Leaves the privatised gradient in `p.grad` and returns the clip factors `(B,)`.
    """
    # The divisor n: the expected batch size if given, else the batch actually drawn.
    if noise_multiplier < 0:
        raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    n = float(expected_batch_size if expected_batch_size is not None else len(x))
    if n <= 0:
        raise ValueError(f"expected_batch_size must be > 0, got {n}")
    # Clip factors from the per-sample norms, then one backward pass of the reweighted loss;
    # Gaussian noise of std $\sigma C / n$ goes into every gradient before the plain SGD update.
    weights = clip_factors(per_sample_grads(model, loss_fn, x, y), max_grad_norm)  # (B,)
    model.zero_grad(set_to_none=True)
    (loss_fn(model(x), y) * (weights / n)).sum().backward()
    if noise_multiplier > 0:
        std = noise_multiplier * max_grad_norm / n
        for p in model.parameters():
            if p.grad is not None:
                noise = torch.randn(p.shape, generator=generator, dtype=p.dtype, device=p.device)
                p.grad.add_(noise * std)
    _sgd_update(model, lr)
    return weights


# The accountant's analysis assumes each example joins each batch independently with probability
# $q$; fixed-size shuffled batches would be a different mechanism.
def poisson_batches(
    n: int, sample_rate: float, steps: int, generator: torch.Generator
) -> Iterator[Tensor]:
    """Index tensors of `steps` Poisson-sampled batches: each example joins with `sample_rate`."""
    if not 0 < sample_rate <= 1:
        raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")
    for _ in range(steps):
        yield torch.nonzero(torch.rand(n, generator=generator) < sample_rate).flatten()


# ## The RDP of the sampled Gaussian mechanism, in log space
#
# `_log_add` and `_log_sub` combine $\log a$ and $\log b$ into $\log(a \pm b)$ without leaving log
# space; the terms of $A_\alpha$ reach $e^{1000}$ for small $\sigma$ and large $\alpha$.


def _log_add(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _log_sub(a: float, b: float) -> float:
    if b == -math.inf:
        return a
    if a <= b:
        return -math.inf  # the partial sums of a convergent series never go negative
    return a + math.log1p(-math.exp(b - a))


def _log_erfc(x: float) -> float:
    # $\log \operatorname{erfc}(x)$; for large $x$ the asymptotic series avoids $\log 0$.
    if x < 20:
        return math.log(math.erfc(x))
    return -x * x - math.log(x) - 0.5 * math.log(math.pi) + math.log1p(-0.5 / (x * x))


def _log_a_int(q: float, sigma: float, alpha: int) -> float:
    # The finite binomial sum of the derivation, term $k$ in log space.
    log_a = -math.inf
    for k in range(alpha + 1):
        log_binom = math.lgamma(alpha + 1) - math.lgamma(k + 1) - math.lgamma(alpha - k + 1)
        term = log_binom + k * math.log(q) + (alpha - k) * math.log1p(-q)
        log_a = _log_add(log_a, term + (k * k - k) / (2 * sigma**2))
    return log_a


def _log_a_frac(q: float, sigma: float, alpha: float) -> float:
    # Two series, for $z < z_0$ and $z \ge z_0$; the sign of $\binom{\alpha}{k}$ alternates for
    # $k > \alpha$, so a term is added or subtracted. Stop when both terms fall below $e^{-30}$.
    log_a0, log_a1 = -math.inf, -math.inf
    z0 = sigma**2 * math.log(1 / q - 1) + 0.5
    k = 0
    while True:
        # $\binom{\alpha}{k} = \prod_{i<k} (\alpha - i) / k!$ has $k - \lceil\alpha\rceil$ negative factors.
        log_coef = math.lgamma(alpha + 1) - math.lgamma(k + 1) - math.lgamma(alpha - k + 1)
        positive = max(0, k - math.ceil(alpha)) % 2 == 0
        # The order-$k$ term of each series: $j = \alpha - k$ swaps the roles of $q$ and $1 - q$;
        # each term has its Gaussian factor and its erfc tail on its side of $z_0$.
        j = alpha - k
        log_t0 = log_coef + k * math.log(q) + j * math.log1p(-q)
        log_t1 = log_coef + j * math.log(q) + k * math.log1p(-q)
        log_e0 = math.log(0.5) + _log_erfc((k - z0) / (math.sqrt(2) * sigma))
        log_e1 = math.log(0.5) + _log_erfc((z0 - j) / (math.sqrt(2) * sigma))
        log_s0 = log_t0 + (k * k - k) / (2 * sigma**2) + log_e0
        log_s1 = log_t1 + (j * j - j) / (2 * sigma**2) + log_e1
        # Accumulate with the coefficient's sign, until both terms are negligible.
        if positive:
            log_a0, log_a1 = _log_add(log_a0, log_s0), _log_add(log_a1, log_s1)
        else:
            log_a0, log_a1 = _log_sub(log_a0, log_s0), _log_sub(log_a1, log_s1)
        k += 1
        if max(log_s0, log_s1) < -30:
            return _log_add(log_a0, log_a1)


# The edge cases have closed forms: no sampling leaks nothing, full sampling is the plain Gaussian
# mechanism; otherwise $\rho(\alpha) = \log A_\alpha / (\alpha - 1)$, by the integer or the
# fractional series.
def rdp_sampled_gaussian(q: float, sigma: float, alpha: float) -> float:
    r"""RDP $\rho(\alpha)$ of one step of the sampled Gaussian mechanism (rate `q`, multiplier `sigma`)."""
    if not 0 <= q <= 1:
        raise ValueError(f"sample rate q must be in [0, 1], got {q}")
    if not sigma > 0:
        raise ValueError(f"noise multiplier sigma must be > 0 for a finite epsilon, got {sigma}")
    if not alpha > 1:
        raise ValueError(f"RDP order alpha must be > 1, got {alpha}")
    if q == 0:
        return 0.0
    if q == 1:
        return alpha / (2 * sigma**2)  # the plain Gaussian mechanism
    if math.isinf(alpha):
        return math.inf
    if float(alpha).is_integer():
        return _log_a_int(q, sigma, int(alpha)) / (alpha - 1)
    return _log_a_frac(q, sigma, alpha) / (alpha - 1)


# Every order gives a valid $\varepsilon$ at the same $\delta$, so the smallest is the bound, and
# its order is reported with it.
def rdp_to_epsilon(
    orders: Sequence[float], rdp: Sequence[float], delta: float
) -> tuple[float, float]:
    r"""Balle et al.'s conversion: $(\varepsilon, \alpha^*)$ minimising over the given orders."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    # $\varepsilon(\alpha) = \rho(\alpha) + \log\frac{\alpha - 1}{\alpha} - \frac{\log \delta +
    # \log \alpha}{\alpha - 1}$, at every order at once.
    a = np.asarray(orders, dtype=np.float64)
    r = np.asarray(rdp, dtype=np.float64)
    eps = r - (math.log(delta) + np.log(a)) / (a - 1) + np.log((a - 1) / a)
    best = int(np.nanargmin(eps))
    return float(eps[best]), float(a[best])


# RDP composes by addition at each order, so the accountant is a vector of running sums, one
# per order; the conversion to $(\varepsilon, \delta)$ happens only when asked.
class RDPAccountant:
    r"""Tracks the RDP of a sequence of sampled Gaussian steps and reports $(\varepsilon, \delta)$."""

    def __init__(self, orders: Sequence[float] = DEFAULT_ORDERS) -> None:
        self.orders = tuple(orders)
        self.rdp = np.zeros(len(self.orders))

    def step(self, *, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        """Account `steps` steps with the given noise multiplier and sampling rate (RDP adds up)."""
        per_step = [rdp_sampled_gaussian(sample_rate, noise_multiplier, a) for a in self.orders]
        self.rdp = self.rdp + steps * np.asarray(per_step)

    def epsilon(self, delta: float) -> tuple[float, float]:
        r"""The smallest $\varepsilon$ over the orders at this `delta`, and the order achieving it."""
        return rdp_to_epsilon(self.orders, self.rdp, delta)


# The inverse question, for planning a run: how much noise buys a given budget.
def noise_for_epsilon(
    target_epsilon: float, sample_rate: float, steps: int, delta: float, *, tol: float = 1e-3
) -> float:
    """The noise multiplier whose `steps` steps at `sample_rate` spend `target_epsilon` (bisection)."""
    if target_epsilon <= 0:
        raise ValueError(f"target_epsilon must be > 0, got {target_epsilon}")

    def eps(sigma: float) -> float:
        acc = RDPAccountant()
        acc.step(noise_multiplier=sigma, sample_rate=sample_rate, steps=steps)
        return acc.epsilon(delta)[0]

    # epsilon falls as sigma grows: double until below the target, then bisect.
    lo, hi = 0.0, 1.0
    while eps(hi) > target_epsilon:
        lo, hi = hi, 2 * hi
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if eps(mid) > target_epsilon else (lo, mid)
    return hi


# ## Membership inference by a loss threshold
#
# The attacker predicts "member" when the loss is below a threshold $\tau$. Sweeping $\tau$ traces a
# ROC curve, and its area is the probability that a random member has a *smaller* loss than a random
# non-member (ties count half), the Mann-Whitney statistic. AUC 0.5 means no leak; DP with small
# $\varepsilon$ keeps it near 0.5.


def roc_auc(positive_scores: Tensor, negative_scores: Tensor) -> float:
    """P(score of a random positive > score of a random negative), ties counted half."""
    pos = torch.as_tensor(positive_scores, dtype=torch.float64).flatten()
    neg = torch.as_tensor(negative_scores, dtype=torch.float64).flatten()
    if pos.numel() == 0 or neg.numel() == 0:
        raise ValueError("roc_auc needs at least one positive and one negative score")
    diff = pos[:, None] - neg[None, :]  # (P, N)
    return float(((diff > 0).double() + 0.5 * (diff == 0).double()).mean())


def loss_threshold_auc(member_losses: Tensor, nonmember_losses: Tensor) -> float:
    """AUC of the loss-threshold membership attack (a lower loss says "member")."""
    return roc_auc(-torch.as_tensor(member_losses), -torch.as_tensor(nonmember_losses))


def per_example_losses(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> Tensor:
    """The attacker's signal: `loss_fn(model(x), y)` `(B,)` without gradients."""
    with torch.no_grad():
        return loss_fn(model(x), y)


# ## Canaries and exposure
#
# Plant a random secret $s[r]$, with $r$ drawn from a space $\mathcal R$, in the training data. After
# training, rank every candidate $s[r']$ by its log-perplexity under the model (rank 1 = the most
# likely). The exposure is
#
# $$ \text{exposure}(r) = \log_2 |\mathcal R| - \log_2 \text{rank}(r). $$
#
# An unmemorised canary sits at a random rank (expected exposure about 1 bit); a memorised one
# ranks first, reaching the maximum $\log_2 |\mathcal R|$.


def exposure(canary_log_perplexity: float, candidate_log_perplexities: Sequence[float]) -> float:
    """Exposure in bits; the candidates must include the canary itself."""
    scores = torch.as_tensor(candidate_log_perplexities, dtype=torch.float64)
    if scores.numel() == 0:
        raise ValueError("candidate_log_perplexities is empty; include the canary among them")
    rank = 1 + int((scores < canary_log_perplexity).sum())
    return math.log2(scores.numel()) - math.log2(rank)


def sequence_log_perplexity(model: nn.Module, prefix: Tensor, suffixes: Tensor) -> Tensor:
    r"""$-\sum_t \log p(s_t \mid \text{prefix}, s_{<t})$ for each suffix, `(N,)`.

    `prefix` `(T_p,)`, `suffixes` `(N, T_s)` token ids; `model` maps `(B, T)` ids to `(B, T, V)` logits.
    """
    n, t_s = suffixes.shape
    ids = torch.cat([prefix.expand(n, -1), suffixes], dim=1)  # (N, T_p + T_s)
    with torch.no_grad():
        logp = torch.log_softmax(model(ids[:, :-1]).double(), dim=-1)  # (N, T - 1, V)
    targets = ids[:, 1:]  # (N, T - 1)
    tok = logp.gather(-1, targets[..., None]).squeeze(-1)  # (N, T - 1)
    return -tok[:, -t_s:].sum(1)
