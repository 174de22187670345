"""Pipeline parallelism: GPipe and 1F1B on 2 gloo processes give one process's loss and
gradients; the simulated bubble is (p - 1) / (m + p - 1); torch.distributed.pipelining agrees."""

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import workers

from masterclass.infra.pipeline import gpipe_schedule, one_f_one_b_schedule, simulate


@pytest.mark.distributed
@pytest.mark.slow
def test_two_stage_schedules_equal_one_process(launch):
    ranks = launch("pipeline", 2)
    stages = workers.pipeline_stages()
    x, y = workers.pipeline_batch()
    loss = nn.functional.cross_entropy(stages[1](stages[0](x)), y)
    loss.backward()
    loss = loss.detach()
    for name in ("gpipe", "1f1b", "torch_gpipe", "torch_1f1b"):
        # float64; the batch mean becomes a sum of 4 micro-batch means / 4: rounding only.
        assert float(ranks[1][name]["loss"]) == pytest.approx(loss.item(), rel=1e-12)
        for rank, stage in enumerate(stages):
            for k, p in stage.named_parameters():
                torch.testing.assert_close(
                    ranks[rank][name]["grads"][k], p.grad, rtol=1e-12, atol=1e-14, msg=(name, k)
                )


@pytest.mark.parametrize("p, m", [(2, 1), (2, 4), (2, 8), (3, 5), (4, 16)])
@pytest.mark.parametrize("schedule", [gpipe_schedule, one_f_one_b_schedule])
def test_simulated_bubble_matches_the_formula(schedule, p, m):
    for t_b in (1.0, 2.0):
        makespan, idle = simulate(schedule(p, m), t_backward=t_b)
        want = (p - 1) / (m + p - 1)
        # The simulation is exact (the issue allows 10%); every stage idles the same share.
        assert all(abs(b - want) < 1e-12 for b in idle), (idle, want)
        assert makespan == pytest.approx((m + p - 1) * (1 + t_b))


def test_1f1b_bounds_in_flight_micro_batches():
    p, m = 4, 8
    for s, acts in enumerate(one_f_one_b_schedule(p, m)):
        alive = peak = 0
        for kind, _ in acts:
            alive += 1 if kind == "F" else -1
            peak = max(peak, alive)
        assert peak == p - s  # GPipe: m on every stage
    assert sorted(one_f_one_b_schedule(3, 4)[0]) == sorted(gpipe_schedule(3, 4)[0])


def test_bad_schedules_are_reported():
    with pytest.raises(ValueError, match="n_micro >= 1"):
        gpipe_schedule(2, 0)
    with pytest.raises(ValueError, match="deadlocks"):
        simulate([[("B", 0), ("F", 0)], [("F", 0), ("B", 0)]])
