"""# Tests: learning-rate schedules against torch.optim.lr_scheduler

Reference tests for the learning-rate schedules against `torch.optim.lr_scheduler`.

Our `schedule(t)` must equal torch's `get_last_lr()` after `t` calls of `scheduler.step()`. torch
computes most schedules *recursively* (each rate from the previous one), we in closed form, so the
two differ by accumulated rounding: `rtol = 1e-10` allows ~1e6 ulps over a few hundred steps, far
below any formula error (which would show at the 1e-3 level).
"""

import math
from itertools import pairwise

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.linalg import schedules as sch

RTOL, ATOL = 1e-10, 1e-14


def _torch_rates(make_scheduler, base_lr: float, n_steps: int) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=base_lr, momentum=0.9)
    scheduler = make_scheduler(opt)
    rates = []
    for _ in range(n_steps):
        rates.append(scheduler.get_last_lr()[0])
        opt.step()
        scheduler.step()
    return rates


def _assert_close(ours, ref):
    assert len(ours) == len(ref)
    for t, (a, b) in enumerate(zip(ours, ref)):
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL), f"step {t}: {a} != {b}"


def test_constant_matches_torch():
    ref = _torch_rates(lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=1.0), 0.3, 50)
    _assert_close([sch.constant(t, base_lr=0.3) for t in range(50)], ref)


def test_step_decay_matches_torch():
    ref = _torch_rates(
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5), 0.2, 60
    )
    _assert_close([sch.step_decay(t, base_lr=0.2, step_size=7, gamma=0.5) for t in range(60)], ref)


def test_exponential_matches_torch():
    ref = _torch_rates(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.97), 0.1, 200)
    _assert_close([sch.exponential(t, base_lr=0.1, gamma=0.97) for t in range(200)], ref)


@pytest.mark.parametrize("min_lr", [0.0, 0.01])
def test_cosine_matches_torch(min_lr):
    total = 150

    def make(o):
        return torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total, eta_min=min_lr)

    ref = _torch_rates(make, 0.1, total + 1)
    ours = [sch.cosine(t, base_lr=0.1, total_steps=total, min_lr=min_lr) for t in range(total + 1)]
    _assert_close(ours, ref)


@pytest.mark.parametrize(("warmup", "total", "min_lr"), [(10, 100, 0.0), (25, 200, 1e-3)])
def test_linear_warmup_cosine_matches_torch(warmup, total, min_lr):
    base = 3e-3

    def make(o):
        warm = torch.optim.lr_scheduler.LinearLR(
            o, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1
        )
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total - warmup, eta_min=min_lr)
        return torch.optim.lr_scheduler.SequentialLR(o, [warm, cos], milestones=[warmup])

    ref = _torch_rates(make, base, total + 1)
    ours = [
        sch.linear_warmup_cosine(
            t, base_lr=base, warmup_steps=warmup, total_steps=total, min_lr=min_lr
        )
        for t in range(total + 1)
    ]
    _assert_close(ours, ref)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize(("total", "pct"), [(100, 0.3), (57, 0.25)])
def test_one_cycle_matches_torch(strategy, total, pct):
    def make(o):
        return torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=0.5, total_steps=total, pct_start=pct, anneal_strategy=strategy
        )

    ref = _torch_rates(make, 0.5, total)
    ours = [
        sch.one_cycle(t, max_lr=0.5, total_steps=total, pct_start=pct, anneal_strategy=strategy)
        for t in range(total)
    ]
    _assert_close(ours, ref)


def test_warmup_stable_decay_matches_torch_composition():
    # torch has no WSD class, but chaining LinearLR (warmup), ConstantLR (stable) and LinearLR
    # (decay) with SequentialLR builds the linear-decay variant from torch's own pieces.
    base, warmup, decay, total, min_lr = 0.01, 10, 30, 120, 1e-3

    def make(o):
        lr = torch.optim.lr_scheduler
        return lr.SequentialLR(
            o,
            [
                lr.LinearLR(o, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1),
                lr.ConstantLR(o, factor=1.0, total_iters=0),
                lr.LinearLR(o, start_factor=1.0, end_factor=min_lr / base, total_iters=decay),
            ],
            milestones=[warmup, total - decay],
        )

    ref = _torch_rates(make, base, total + 1)
    ours = [
        sch.warmup_stable_decay(
            t,
            base_lr=base,
            warmup_steps=warmup,
            decay_steps=decay,
            total_steps=total,
            min_lr=min_lr,
        )
        for t in range(total + 1)
    ]
    _assert_close(ours, ref)


@settings(max_examples=30, deadline=None)
@given(
    base=st.floats(1e-5, 1.0),
    warmup=st.integers(0, 50),
    decay=st.integers(1, 50),
    extra=st.integers(0, 100),
    shape=st.sampled_from(["linear", "cosine", "sqrt"]),
    frac=st.floats(0.0, 0.5),
)
def test_wsd_properties(base, warmup, decay, extra, shape, frac):
    # Properties: never above base_lr, never below min_lr, flat in the stable phase, ends at
    # min_lr, and non-increasing after the warmup.
    total = warmup + decay + extra
    min_lr = base * frac
    kw = {
        "base_lr": base,
        "warmup_steps": warmup,
        "decay_steps": decay,
        "total_steps": total,
        "min_lr": min_lr,
        "decay": shape,
    }
    rates = [sch.warmup_stable_decay(t, **kw) for t in range(total + 5)]
    assert all(min_lr - 1e-15 <= r <= base + 1e-15 for r in rates[warmup:])
    assert all(math.isclose(r, base, rel_tol=1e-14) for r in rates[warmup : total - decay + 1])
    assert math.isclose(rates[total], min_lr, rel_tol=1e-12, abs_tol=1e-15)
    assert all(a >= b - 1e-15 for a, b in pairwise(rates[warmup:]))


@settings(max_examples=30, deadline=None)
@given(
    base=st.floats(1e-5, 1.0),
    warmup=st.integers(1, 50),
    extra=st.integers(1, 200),
    frac=st.floats(0.0, 0.9),
)
def test_warmup_cosine_properties(base, warmup, extra, frac):
    # Warmup is strictly increasing and reaches base_lr; the cosine is non-increasing to min_lr.
    total = warmup + extra
    min_lr = base * frac
    kw = {"base_lr": base, "warmup_steps": warmup, "total_steps": total, "min_lr": min_lr}
    rates = [sch.linear_warmup_cosine(t, **kw) for t in range(total + 3)]
    assert all(a < b for a, b in pairwise(rates[:warmup]))
    assert math.isclose(rates[warmup - 1], base, rel_tol=1e-12)
    assert all(a >= b - 1e-15 for a, b in pairwise(rates[warmup - 1 :]))
    assert math.isclose(rates[-1], min_lr, rel_tol=1e-12, abs_tol=1e-15)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="step must be an integer"):
        sch.constant(-1, base_lr=0.1)
    with pytest.raises(ValueError, match="base_lr"):
        sch.cosine(0, base_lr=float("nan"), total_steps=10)
    with pytest.raises(ValueError, match="warmup_steps"):
        sch.linear_warmup_cosine(0, base_lr=0.1, warmup_steps=10, total_steps=10)
    with pytest.raises(ValueError, match="total_steps"):
        sch.warmup_stable_decay(0, base_lr=0.1, warmup_steps=5, decay_steps=6, total_steps=10)
    with pytest.raises(ValueError, match="past the end"):
        sch.one_cycle(10, max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="decay must be"):
        sch.warmup_stable_decay(
            0, base_lr=0.1, warmup_steps=1, decay_steps=1, total_steps=3, decay="step"
        )
