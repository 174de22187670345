r"""# Learning-rate schedules

A fixed learning rate is a compromise: large enough to make progress early, small enough not to
bounce around the minimum late. A **schedule** makes $\eta$ a function of the step $t$. Here each
schedule is a pure function `schedule(step, *, base_lr, ...) -> float` of the (0-based) step
number: no optimizer object, no hidden counter, so it can be plotted, tested and resumed from any
step. Step $t$'s rate is the one used for the $(t+1)$-th update, the convention of
`torch.optim.lr_scheduler` (whose `get_last_lr()` after $t$ calls of `scheduler.step()` is our
`schedule(t)`).

| schedule | $\eta_t$ | used for |
|---|---|---|
| constant | $\eta$ | baselines, fine-tuning |
| step decay | $\eta\,\gamma^{\lfloor t/s\rfloor}$ | classic ImageNet training |
| exponential | $\eta\,\gamma^{t}$ | smooth version of step decay |
| cosine | $\eta_{\min} + \tfrac12(\eta-\eta_{\min})(1+\cos\pi t/T)$ | SGDR, most vision training |
| warmup + cosine | linear ramp, then cosine | GPT-style pretraining |
| one-cycle | ramp up to $\eta_{\max}$, anneal far below | fast "super-convergence" |
| warmup–stable–decay | ramp, flat, short final decay | MiniCPM, modern LLM pretraining |

![The schedules of this chapter over 1000 steps](figures/schedules.png)

**How much learning a schedule spends.** For SGD on a smooth loss the distance travelled is
governed by the sum of the rates, $\sum_t\eta_t$, and the noise left at the end by the last rates
(see `gradient_descent.py`). The cosine schedule spends, on average,
$\frac1T\int_0^T \bigl[\eta_{\min} + \tfrac12(\eta - \eta_{\min})(1 + \cos\tfrac{\pi t}{T})\bigr]dt
= \eta_{\min} + \tfrac12(\eta - \eta_{\min}) = \frac{\eta + \eta_{\min}}2$, since the cosine
integrates to zero over half a period: the same budget as a constant $\eta/2$, but front-loaded
while the loss is high and tapered to $\eta_{\min}$ where the noise matters. Its slope at both
ends, $-\frac{\pi}{2T}(\eta - \eta_{\min})\sin\frac{\pi t}{T}$, is zero, so it leaves the peak and
lands at the floor gently.

>>> T = 1000
>>> rates = [cosine(t, base_lr=1.0, total_steps=T, min_lr=0.1) for t in range(T)]
>>> round(sum(rates) / T, 3)  # (1.0 + 0.1) / 2
0.55

Why warm up? Adam's second-moment estimate is poor over the first steps and the network's
activations are far from their trained scale, so a full-size step early can diverge; a linear
ramp over the first few hundred or thousand steps avoids it. Why warmup–stable–decay? The flat
phase can be continued for as long as desired and branched into a short decay at any point,
which makes it easy to train for an unknown budget or to study scaling.

References: Loshchilov & Hutter (2017), *SGDR*; Goyal et al. (2017), *Accurate, large minibatch
SGD* (warmup); Smith & Topin (2019), *Super-convergence* (one-cycle); Hu et al. (2024), *MiniCPM*
(warmup–stable–decay).

Left out: schedules that react to the loss (`ReduceLROnPlateau`) since they are not functions of
the step, and cyclic restarts (SGDR's warm restarts are a cosine applied to `step % period`).

## Exercises

1. Write `step_decay(step, base_lr, step_size, gamma)`. Check it:
   `uv run pytest --exercise linalg.schedules`.
2. Write `cosine(step, base_lr, total_steps, min_lr)`: cosine annealing from `base_lr` at step 0
   to `min_lr` at step `total_steps`. Check it: `uv run pytest --exercise linalg.schedules`.
"""

from __future__ import annotations

import math

from masterclass.linalg._validation import _check_nonnegative, _check_positive


def _check_step(step: int) -> int:
    if isinstance(step, bool) or int(step) != step or step < 0:
        raise ValueError(f"step must be an integer >= 0, got {step!r}")
    return int(step)


def _check_steps(name: str, value: int, *, allow_zero: bool = False) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return value


def _cosine_anneal(start: float, end: float, fraction: float) -> float:
    # Half a cosine period from `start` (fraction 0) to `end` (fraction 1).
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * fraction))


# The simple schedules: a constant, a drop by `gamma` every `step_size` steps, and an exponential
# decay.
def constant(step: int, *, base_lr: float) -> float:
    r"""The constant schedule: $\eta_t = \eta$ for every step.

    >>> constant(100, base_lr=0.1)
    0.1
    """
    _check_step(step)
    return _check_nonnegative(base_lr, "base_lr")


def step_decay(step: int, *, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """Multiply the rate by `gamma` every `step_size` steps (`torch.optim.lr_scheduler.StepLR`).

    >>> step_decay(25, base_lr=1.0, step_size=10, gamma=0.5)
    0.25
    """
    step = _check_step(step)
    _check_nonnegative(base_lr, "base_lr")
    _check_steps("step_size", step_size)
    _check_positive(gamma, "gamma")
    return base_lr * gamma ** (step // step_size)


# Exponential decay is step decay with `step_size = 1`.
def exponential(step: int, *, base_lr: float, gamma: float) -> float:
    """Multiply the rate by `gamma` every step (`torch.optim.lr_scheduler.ExponentialLR`)."""
    step = _check_step(step)
    _check_nonnegative(base_lr, "base_lr")
    _check_positive(gamma, "gamma")
    return base_lr * gamma**step


# ## Cosine annealing
#
# Half a cosine period from $\eta$ down to $\eta_{\min}$ over $T$ steps:
#
# $$\eta_t = \eta_{\min} + \tfrac12(\eta - \eta_{\min})\left(1 + \cos\frac{\pi t}{T}\right).$$
#
# It stays near $\eta$ for a long time, falls fastest in the middle and flattens out at the end,
# where small steps settle into the minimum. After step $T$ we hold $\eta_{\min}$ (torch's
# `CosineAnnealingLR` would climb back up: it is a periodic function there).


def cosine(step: int, *, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    """Cosine annealing from `base_lr` to `min_lr` over `total_steps`, then `min_lr`.

    Matches `torch.optim.lr_scheduler.CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)` for
    `step <= total_steps`.

    >>> cosine(50, base_lr=1.0, total_steps=100)
    0.5
    """
    step = _check_step(step)
    _check_nonnegative(base_lr, "base_lr")
    _check_steps("total_steps", total_steps)
    _check_nonnegative(min_lr, "min_lr")
    return _cosine_anneal(base_lr, min_lr, min(step, total_steps) / total_steps)


# ## Linear warmup, then cosine
#
# The schedule of GPT-2/3 and most language-model pretraining: a linear ramp
# $\eta_t = \eta\,(t+1)/W$ over the first $W$ steps (so the first step already moves, with rate
# $\eta/W$, and step $W-1$ reaches $\eta$), then a cosine from $\eta$ at step $W$ down to
# $\eta_{\min}$ at step $T$, and $\eta_{\min}$ after that.


def linear_warmup_cosine(
    step: int, *, base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0
) -> float:
    """Linear warmup over `warmup_steps`, then cosine decay to `min_lr` at `total_steps`.

    Matches `SequentialLR([LinearLR(start_factor=1/W, total_iters=W-1),
    CosineAnnealingLR(T_max=total_steps-W, eta_min=min_lr)], milestones=[W])`.

    >>> [round(linear_warmup_cosine(t, base_lr=1.0, warmup_steps=4, total_steps=8), 3)
    ...  for t in range(9)]
    [0.25, 0.5, 0.75, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    # The warmup may be empty, but it must be shorter than the whole run.
    step = _check_step(step)
    _check_nonnegative(base_lr, "base_lr")
    _check_steps("warmup_steps", warmup_steps, allow_zero=True)
    _check_steps("total_steps", total_steps)
    _check_nonnegative(min_lr, "min_lr")
    if warmup_steps >= total_steps:
        raise ValueError(
            f"warmup_steps ({warmup_steps}) must be smaller than total_steps ({total_steps})"
        )
    # The ramp reaches `base_lr` at step $W - 1$; the cosine's fraction is capped at 1, so steps
    # past $T$ stay at `min_lr`.
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    fraction = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
    return _cosine_anneal(base_lr, min_lr, fraction)


# ## One-cycle
#
# Smith's one-cycle policy starts low, at $\eta_{\max}/d$ (`div_factor` $d$), climbs to
# $\eta_{\max}$ over the first fraction `pct_start` of training, then anneals to
# $\eta_{\max}/(d\,d_f)$, far below the start (`final_div_factor` $d_f$). Both phases are half
# cosines (or straight lines). The high rates in the middle act as a regulariser; the very low
# rate at the end settles the weights. The phase boundaries below are torch's: phase one ends at
# step $p\,T - 1$ and phase two at $T - 1$.


def one_cycle(
    step: int,
    *,
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal_strategy: str = "cos",
) -> float:
    """The one-cycle schedule of `torch.optim.lr_scheduler.OneCycleLR` (two phases).

    Args:
        step: 0-based step, at most `total_steps - 1`.
        max_lr: peak rate; total_steps: length of the cycle.
        pct_start: fraction of the cycle spent increasing.
        div_factor: initial rate is `max_lr / div_factor`.
        final_div_factor: final rate is `max_lr / (div_factor * final_div_factor)`.
        anneal_strategy: `"cos"` or `"linear"`.
    """
    # The step must fall inside the cycle, and `pct_start` strictly inside $(0, 1)$.
    step = _check_step(step)
    _check_positive(max_lr, "max_lr")
    _check_steps("total_steps", total_steps)
    if not 0.0 < pct_start < 1.0:
        raise ValueError(f"pct_start must lie in (0, 1), got {pct_start!r}")
    _check_positive(div_factor, "div_factor")
    _check_positive(final_div_factor, "final_div_factor")
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    if step >= total_steps:
        raise ValueError(f"step {step} is past the end of the cycle (total_steps={total_steps})")

    # Phase one climbs from the initial rate to the peak, phase two anneals from the peak to the
    # final rate; `fraction` is the progress within the current phase.
    initial_lr = max_lr / div_factor
    final_lr = initial_lr / final_div_factor
    warm_end = pct_start * total_steps - 1.0
    if step <= warm_end:
        start_step, end_step, start, end = 0.0, warm_end, initial_lr, max_lr
    else:
        start_step, end_step, start, end = warm_end, total_steps - 1.0, max_lr, final_lr
    fraction = (step - start_step) / (end_step - start_step)
    if anneal_strategy == "linear":
        return start + (end - start) * fraction
    return _cosine_anneal(start, end, fraction)


# ## Warmup–stable–decay
#
# A linear warmup to $\eta$ over $W$ steps (as above), a long flat phase at $\eta$, and a short
# decay over the last $D$ steps of the $T$, down to $\eta_{\min}$ at step $T$. The decay shape is
# linear (as in MiniCPM), cosine, or `"sqrt"`: $\eta_{\min} + (\eta - \eta_{\min})(1-\sqrt{f})$
# with $f$ the fraction of the decay done, which drops fast at first.


def warmup_stable_decay(
    step: int,
    *,
    base_lr: float,
    warmup_steps: int,
    decay_steps: int,
    total_steps: int,
    min_lr: float = 0.0,
    decay: str = "linear",
) -> float:
    """Warmup, a constant phase, and a final decay over the last `decay_steps` of `total_steps`.

    >>> [warmup_stable_decay(t, base_lr=1.0, warmup_steps=2, decay_steps=2, total_steps=6)
    ...  for t in range(7)]
    [0.5, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0]
    """
    # Warmup and decay must fit in the run together; the warmup may be empty.
    step = _check_step(step)
    _check_nonnegative(base_lr, "base_lr")
    _check_steps("warmup_steps", warmup_steps, allow_zero=True)
    _check_steps("decay_steps", decay_steps)
    _check_steps("total_steps", total_steps)
    _check_nonnegative(min_lr, "min_lr")
    if warmup_steps + decay_steps > total_steps:
        raise ValueError(
            f"warmup_steps + decay_steps ({warmup_steps} + {decay_steps}) must not exceed "
            f"total_steps ({total_steps})"
        )
    if decay not in ("linear", "cosine", "sqrt"):
        raise ValueError(f"decay must be 'linear', 'cosine' or 'sqrt', got {decay!r}")
    # Warmup climbs linearly to `base_lr`, reached at its last step; the stable phase holds it;
    # the decay follows the chosen shape down to `min_lr`.
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_start = total_steps - decay_steps
    if step < decay_start:
        return base_lr
    fraction = min(step - decay_start, decay_steps) / decay_steps
    if decay == "cosine":
        return _cosine_anneal(base_lr, min_lr, fraction)
    shape = fraction**0.5 if decay == "sqrt" else fraction
    return min_lr + (base_lr - min_lr) * (1.0 - shape)
