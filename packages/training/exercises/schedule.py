r"""# Exercises: Learning-rate scheduling in the training loop

The two schedules of the loop, warmup + cosine and warmup–stable–decay, as functions of the step
alone, checked step by step against `torch.optim.lr_scheduler` driving a real optimizer; then the
learning a WSD run spends, $\sum_t \eta_t$, in closed form."""

import math
import warnings

import torch

from masterclass.training.schedule import make_schedule

_sched = torch.optim.lr_scheduler


def solution_1_warmup_cosine(
    step: int, base_lr: float, warmup_steps: int, total_steps: int, min_lr: float
) -> float:
    r"""$\eta (t+1)/W$ for $t < W$; then $\eta_{\min} + \tfrac12(\eta - \eta_{\min})(1 + \cos\pi f)$
    with $f = \min(t - W, T - W)/(T - W)$."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    f = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * f))


def solution_2_wsd(
    step: int, base_lr: float, warmup_steps: int, decay_steps: int, total_steps: int, min_lr: float
) -> float:
    r"""Ramp $\eta (t+1)/W$; flat $\eta$ until $T - D$; a straight line to $\eta_{\min}$ at $T$."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    f = min(max(step - (total_steps - decay_steps), 0), decay_steps) / decay_steps
    return base_lr + (min_lr - base_lr) * f


def _torch_rates(build, base_lr: float, steps: int) -> list[float]:
    # The rate optimizer step t uses: the group's `lr` after t calls of `scheduler.step()`, as
    # the loop's `LRSchedule.apply(t)` sets it. The optimizer never steps (its parameter has no
    # gradient): only its groups' rates are read.
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    with warnings.catch_warnings():
        # torch warns about a scheduler stepped before its optimizer, and about the epoch that
        # SequentialLR passes to its children at each milestone: both are expected here.
        warnings.simplefilter("ignore", UserWarning)
        scheduler = build(opt)
        rates = []
        for _ in range(steps):
            rates.append(opt.param_groups[0]["lr"])
            scheduler.step()
    return rates


def check_1_warmup_cosine(fn) -> None:
    """Compare with `SequentialLR([LinearLR(1/W, 1, W - 1), CosineAnnealingLR(T - W, min)],
    milestones=[W])` at every step to `T + 3` (the rate holds at `min_lr` after `T`)."""
    for base, warm, total, floor in [(1.0, 4, 8, 0.0), (3e-3, 10, 100, 3e-4), (0.1, 1, 20, 0.01)]:

        def build(opt, warm=warm, total=total, floor=floor):
            ramp = _sched.LinearLR(opt, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1)
            decay = _sched.CosineAnnealingLR(opt, T_max=total - warm, eta_min=floor)
            return _sched.SequentialLR(opt, [ramp, decay], milestones=[warm])

        want = _torch_rates(build, base, total + 1)
        for t in range(total + 4):
            w = want[min(t, total)]
            got = fn(t, base, warm, total, floor)
            # torch updates the cosine recursively from the previous rate: ~1e-16 relative drift.
            assert math.isclose(got, w, rel_tol=1e-9, abs_tol=1e-15), (
                f"base {base}, W {warm}, T {total}, min {floor}, step {t}: got {got}, torch {w} "
                "(step 0 uses base/W, step W-1 reaches base, step T reaches min_lr)"
            )


def check_2_wsd(fn) -> None:
    """Compare with `SequentialLR([LinearLR(1/W, 1, W - 1), ConstantLR(1), LinearLR(1, min/base,
    D)], milestones=[W, T - D])`, and with the loop's own `make_schedule("wsd")`."""
    cases = [
        (1.0, 2, 2, 6, 0.0),
        (3e-3, 10, 20, 100, 3e-4),
        (0.5, 3, 17, 20, 0.05),
        (0.2, 5, 1, 9, 0.0),
    ]
    for base, warm, decay, total, floor in cases:

        def build(opt, warm=warm, decay=decay, total=total, floor=floor, base=base):
            ramp = _sched.LinearLR(opt, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1)
            flat = _sched.ConstantLR(opt, factor=1.0, total_iters=0)
            down = _sched.LinearLR(
                opt, start_factor=1.0, end_factor=floor / base, total_iters=decay
            )
            return _sched.SequentialLR(opt, [ramp, flat, down], milestones=[warm, total - decay])

        want = _torch_rates(build, base, total + 4)
        ours = make_schedule(
            "wsd",
            base_lr=base,
            warmup_steps=warm,
            decay_steps=decay,
            total_steps=total,
            min_lr=floor,
        )
        for t, w in enumerate(want):
            got = fn(t, base, warm, decay, total, floor)
            for name, ref in (("torch", w), ("make_schedule('wsd')", ours(t))):
                assert math.isclose(got, ref, rel_tol=1e-9, abs_tol=1e-15), (
                    f"base {base}, W {warm}, D {decay}, T {total}, min {floor}, step {t}: "
                    f"got {got}, {name} gives {ref} (the decay starts at step T - D)"
                )


def solution_3_wsd_budget(
    base_lr: float, warmup_steps: int, decay_steps: int, total_steps: int, min_lr: float
) -> float:
    r"""$\sum_{t=0}^{T-1}\eta_t = \eta\frac{W+1}{2} + \eta(T - W - D) + D\eta_{\min}
    + (\eta - \eta_{\min})\frac{D+1}{2}$.

    The ramp sums $\eta\sum_{t<W}(t+1)/W$; the flat phase is $T - W - D$ steps at $\eta$; the
    decay's steps $u = 0 .. D-1$ have $\eta_{\min} + (\eta - \eta_{\min})(1 - u/D)$.
    """
    ramp = base_lr * (warmup_steps + 1) / 2 if warmup_steps else 0.0
    flat = base_lr * (total_steps - warmup_steps - decay_steps)
    down = decay_steps * min_lr + (base_lr - min_lr) * (decay_steps + 1) / 2
    return ramp + flat + down


def check_3_wsd_budget(fn) -> None:
    """Compare with the sum of the rates the loop's `make_schedule("wsd")` sets on steps
    `0 .. T-1`, over random settings."""
    import random

    rng = random.Random(0)
    cases = [(1.0, 2, 2, 6, 0.0), (3e-3, 100, 200, 2000, 3e-4)]
    for _ in range(8):
        total = rng.randint(5, 400)
        warm = rng.randint(0, total // 3)
        decay = rng.randint(1, total - warm)
        cases.append((rng.uniform(0.01, 1.0), warm, decay, total, rng.uniform(0.0, 0.01)))
    for base, warm, decay, total, floor in cases:
        rate = make_schedule(
            "wsd",
            base_lr=base,
            warmup_steps=warm,
            decay_steps=decay,
            total_steps=total,
            min_lr=floor,
        )
        want = math.fsum(rate(t) for t in range(total))
        got = fn(base, warm, decay, total, floor)
        # A sum of at most 2000 rates against a closed form: rounding only, 1e-9 relative.
        assert math.isclose(got, want, rel_tol=1e-9), (
            f"base {base:.4g}, W {warm}, D {decay}, T {total}, min {floor:.4g}: got {got}, "
            f"the rates sum to {want}"
        )
