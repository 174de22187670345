r"""# Learning-rate scheduling in the training loop

The learning rate $\eta_t$ is the most sensitive hyper-parameter of pretraining, and it is not
a constant. Language models are trained with a **warmup** followed by a **decay**:

- *Warmup* ($\eta_t$ rising linearly from about 0 to $\eta$ over the first $W$ steps): at
  initialisation Adam's second-moment estimate $v_t$ rests on a handful of gradients and is
  noisy, and the network sits in a sharp region where large steps diverge; a short ramp lets
  both settle (Goyal et al., 2017; Liu et al., 2020, *On the Variance of the Adaptive Learning
  Rate*).
- *Decay* to a small $\eta_{\min}$ at the end: with a constant rate the loss plateaus at a
  level set by gradient noise, $\propto \eta$; annealing the rate removes that noise floor,
  which is where most of the final gain of a cosine schedule comes from (Loshchilov & Hutter,
  2017, *SGDR*).

The schedules themselves are pure functions of the step written once in Module 1
(`masterclass.linalg.schedules`): linear warmup + cosine (GPT-3, LLaMA), warmup–stable–decay
(MiniCPM; lets a run be extended without restarting the decay), one-cycle, step and exponential
decay. This file connects them to an optimizer:

$$\text{group}.\text{lr} \leftarrow \eta_t \cdot s_{\text{group}},$$

set *before* each optimizer step from the step counter alone. Because $\eta_t$ depends only on
$t$, resuming from a checkpoint needs no scheduler state: the counter restored from the
checkpoint gives the same rate (unlike `torch.optim.lr_scheduler`, whose objects carry state
that must be saved too). $s_{\text{group}}$ is an optional per-group `lr_scale` (for
layer-wise rates); it defaults to 1.

![the four schedules over a short run](figures/lr_schedules.png)

Left out: schedules that react to the loss (`ReduceLROnPlateau`) and learning-rate range tests.

## Exercises

1. Write `warmup_cosine(step, base_lr, warmup_steps, total_steps, min_lr)`, the loop's default
   schedule: step 0 already moves at $\eta/W$, step $W-1$ reaches $\eta$, a cosine takes it to
   $\eta_{\min}$ at step $T$, where it stays. The checker drives torch's `SequentialLR` of a
   `LinearLR` and a `CosineAnnealingLR` on an optimizer and compares every step. Check it:
   `uv run pytest --exercise training.schedule`
2. Write `wsd(step, base_lr, warmup_steps, decay_steps, total_steps, min_lr)`: the same ramp, a
   flat phase, and a straight line to $\eta_{\min}$ over the last $D$ steps (`schedule="wsd"`),
   equal to torch's three-phase `SequentialLR` and to `make_schedule("wsd", ...)`. Check it:
   `uv run pytest --exercise training.schedule`
3. Derive, then write, `wsd_budget(base_lr, warmup_steps, decay_steps, total_steps, min_lr)`:
   the sum of the rates of steps $0 .. T-1$ in closed form (the measure of how much learning a
   schedule spends, from Module 1's [schedules chapter](../linalg/schedules.md)). A cosine run
   spends about $\tfrac12(\eta + \eta_{\min})T$; a WSD run with a short decay spends nearly
   $\eta T$. Check it: `uv run pytest --exercise training.schedule`
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from masterclass.linalg import schedules

__all__ = ["SCHEDULES", "LRSchedule", "make_schedule"]

# The schedule names a config may use, and the Module 1 function behind each.
SCHEDULES: dict[str, Callable[..., float]] = {
    "cosine": schedules.linear_warmup_cosine,
    "wsd": schedules.warmup_stable_decay,
    "one_cycle": schedules.one_cycle,
    "constant": schedules.constant,
    "step": schedules.step_decay,
    "exponential": schedules.exponential,
}


# A schedule is a pure function of the step: binding its arguments with `partial` leaves `step ->
# lr`, and calling it once at step 0 surfaces bad arguments immediately.
def make_schedule(name: str, **kwargs: float | int | str) -> Callable[[int], float]:
    """The function `step -> lr` of the named schedule, with its keyword arguments bound.

    >>> f = make_schedule("cosine", base_lr=1.0, warmup_steps=2, total_steps=4)
    >>> [round(f(t), 3) for t in range(5)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
    """
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}")
    fn = functools.partial(SCHEDULES[name], **kwargs)
    fn(0)  # validates the arguments now, with the schedule's own error messages
    return fn


# The adapter between pure schedules and a PyTorch optimizer: a group's optional `lr_scale`
# multiplies the shared rate, so groups can run at fixed ratios of one schedule.
class LRSchedule:
    """Sets an optimizer's learning rates from a pure schedule `step -> lr`.

    Call `apply(step)` before `optimizer.step()` of step `step` (0-based); it returns the rate
    it set. There is no other state, so nothing needs checkpointing.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: Callable[[int], float]) -> None:
        self.optimizer = optimizer
        self.schedule = schedule

    def apply(self, step: int) -> float:
        """Set every group's `lr` to `schedule(step) * group.get("lr_scale", 1)`; return the rate."""
        lr = float(self.schedule(step))
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        return lr
