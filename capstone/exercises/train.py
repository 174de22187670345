r"""# Exercises: Stage 4 · Training: the loop, a time plan, and resume

The time plan's arithmetic: how many steps a budget buys, and where the decay of a warmup-stable-decay schedule starts."""

from masterclass.capstone.train import plan_steps
from masterclass.linalg.schedules import warmup_stable_decay


def solution_1_plan_steps(budget_s, spent_s, seconds_per_step, seconds_per_eval, eval_every, done):
    per_step = seconds_per_step + seconds_per_eval / max(eval_every, 1)
    return done + max(int((budget_s - spent_s) / per_step), 0)


def check_1_plan_steps(fn) -> None:
    # Against a simulated clock: take steps one by one while the next one (and its share of an
    # evaluation) still fits in the budget; and against the chapter's own `plan_steps`.
    cases = [
        (100.0, 40.0, 0.5, 2.0, 10, 50),
        (480.0, 12.3, 0.34, 3.1, 100, 0),
        (10.0, 11.0, 0.1, 0.0, 5, 7),
    ]
    for budget, spent, step, ev, every, done in cases:
        clock, n, cost = spent, done, step + ev / every
        while clock + cost <= budget + 1e-9:
            clock, n = clock + cost, n + 1
        got = fn(budget, spent, step, ev, every, done)
        assert got == n, f"plan_steps{(budget, spent, step, ev, every, done)} = {got}, expected {n}"
        assert got == plan_steps(budget, spent, step, ev, every, done=done)


def solution_2_decay_start(steps, decay_fraction, now):
    decay = max(1, round(decay_fraction * steps))
    return max(now, steps - decay)


def check_2_decay_start(fn) -> None:
    # Against the schedule itself (Module 1's warmup_stable_decay): the decay starts at the last
    # step whose rate is still the peak, found by scanning the rates; never before `now`.
    for steps, fraction, now in [(200, 0.2, 0), (130, 0.2, 80), (130, 0.2, 120), (50, 0.5, 3)]:
        decay = max(1, round(fraction * steps))
        lrs = [
            warmup_stable_decay(
                t, base_lr=1.0, warmup_steps=2, decay_steps=decay, total_steps=steps
            )
            for t in range(steps)
        ]
        start = max(t for t in range(2, steps) if lrs[t] == 1.0)
        want = max(now, start)
        got = fn(steps, fraction, now)
        assert got == want, f"decay_start({steps}, {fraction}, {now}) = {got}, expected {want}"
