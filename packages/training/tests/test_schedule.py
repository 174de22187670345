"""The LR setter against torch.optim.lr_scheduler driving torch's own optimizer."""

import pytest
import torch

from masterclass.training.schedule import LRSchedule, make_schedule


def _opt() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)


def test_warmup_cosine_matches_torch_schedulers():
    # Reference: SequentialLR(LinearLR, CosineAnnealingLR), the composition that linalg's schedule
    # documents. torch computes cosine recursively, so agreement is to float rounding (1e-12).
    base, warm, total, floor = 0.3, 10, 60, 0.03
    ref_opt = _opt()
    ref = torch.optim.lr_scheduler.SequentialLR(
        ref_opt,
        [
            torch.optim.lr_scheduler.LinearLR(ref_opt, start_factor=1 / warm, total_iters=warm - 1),
            torch.optim.lr_scheduler.CosineAnnealingLR(ref_opt, T_max=total - warm, eta_min=floor),
        ],
        milestones=[warm],
    )
    opt = _opt()
    ours = LRSchedule(
        opt,
        make_schedule("cosine", base_lr=base, warmup_steps=warm, total_steps=total, min_lr=floor),
    )
    for step in range(total):
        lr = ours.apply(step)
        assert opt.param_groups[0]["lr"] == lr
        assert lr == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12, abs=1e-12)
        ref_opt.step()
        ref.step()


def test_one_cycle_matches_torch_and_group_scales_apply():
    total = 40
    ref_opt = _opt()
    ref = torch.optim.lr_scheduler.OneCycleLR(
        ref_opt, max_lr=0.3, total_steps=total, cycle_momentum=False
    )
    opt = torch.optim.SGD(
        [
            {"params": [torch.nn.Parameter(torch.zeros(1))]},
            {"params": [torch.nn.Parameter(torch.zeros(1))], "lr_scale": 0.5},
        ],
        lr=1.0,
    )
    ours = LRSchedule(opt, make_schedule("one_cycle", max_lr=0.3, total_steps=total))
    for step in range(total):
        lr = ours.apply(step)
        # Tolerance: torch evaluates the same closed form; 1e-12 allows for operation order.
        assert lr == pytest.approx(ref_opt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
        assert opt.param_groups[1]["lr"] == pytest.approx(0.5 * lr)
        ref_opt.step()
        ref.step()


def test_bad_schedule_arguments_are_reported_early():
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("linear-ish", base_lr=1.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        make_schedule("cosine", base_lr=1.0, warmup_steps=10, total_steps=5)
