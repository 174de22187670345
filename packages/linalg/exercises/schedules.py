r"""# Exercises: Learning-rate schedules

Step decay and cosine annealing as pure functions of the step, checked against
`torch.optim.lr_scheduler` step by step."""

import math

import torch


def solution_1_step_decay(step: int, base_lr: float, step_size: int, gamma: float) -> float:
    r"""$\eta\,\gamma^{\lfloor t/s\rfloor}$."""
    return base_lr * gamma ** (step // step_size)


def solution_2_cosine(step: int, base_lr: float, total_steps: int, min_lr: float) -> float:
    r"""$\eta_{\min} + \tfrac12(\eta - \eta_{\min})(1 + \cos(\pi t/T))$ for $t \le T$."""
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * step / total_steps))


def _torch_rates(make_scheduler, base_lr: float, steps: int) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = make_scheduler(opt)
    rates = []
    for _ in range(steps):
        rates.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return rates


def check_1_step_decay(fn) -> None:
    """Compare with `torch.optim.lr_scheduler.StepLR` over every step."""
    for base_lr, size, gamma in [(1.0, 10, 0.5), (0.1, 3, 0.1), (0.3, 1, 0.9)]:
        want = _torch_rates(
            lambda o, size=size, gamma=gamma: torch.optim.lr_scheduler.StepLR(o, size, gamma),
            base_lr,
            40,
        )
        for t, w in enumerate(want):
            got = fn(t, base_lr, size, gamma)
            assert math.isclose(got, w, rel_tol=1e-9), (
                f"base {base_lr}, step_size {size}, gamma {gamma}, step {t}: got {got}, StepLR {w}"
            )


def check_2_cosine(fn) -> None:
    """Compare with `torch.optim.lr_scheduler.CosineAnnealingLR` over every step to `T`."""
    for base_lr, total, min_lr in [(1.0, 10, 0.0), (0.1, 50, 0.01), (3e-4, 7, 1e-5)]:
        want = _torch_rates(
            lambda o, total=total, min_lr=min_lr: torch.optim.lr_scheduler.CosineAnnealingLR(
                o, total, min_lr
            ),
            base_lr,
            total + 1,
        )
        for t, w in enumerate(want):
            got = fn(t, base_lr, total, min_lr)
            # torch computes the rate recursively from the previous one: ~1e-15 drift.
            assert math.isclose(got, w, rel_tol=1e-9, abs_tol=1e-15), (
                f"base {base_lr}, T {total}, min {min_lr}, step {t}: got {got}, torch {w}"
            )
