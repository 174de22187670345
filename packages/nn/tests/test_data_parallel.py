"""Data parallelism from scratch on gloo: equal to one process on the full batch and to DDP."""

import pytest
import torch

from masterclass.nn.data_parallel import (
    launch_data_parallel,
    max_weight_difference,
    train_single_process,
)


@pytest.mark.distributed
@pytest.mark.slow
def test_two_process_data_parallel_matches_single_process_and_ddp():
    # 2 processes, gloo, bounded by a 120 s timeout (a hang raises TimeoutError, never blocks CI).
    results = launch_data_parallel(world_size=2, steps=5, timeout=120)
    single = train_single_process(steps=5)
    # float64: the all-reduced mean of two shard gradients equals the full-batch gradient up to
    # summation order (~1e-16 per step); after 5 SGD steps 1e-12 is a safe bound, while a missing
    # division by P, or a missing broadcast, differs by > 1e-3.
    for r, states in enumerate(results):
        for k in single:
            torch.testing.assert_close(
                states["ours"][k], single[k], rtol=1e-12, atol=1e-12, msg=f"rank {r} {k}"
            )
            torch.testing.assert_close(
                states["ddp"][k], single[k], rtol=1e-12, atol=1e-12, msg=f"rank {r} {k}"
            )
    # Training moved the weights (the comparison is not between two untouched initializations).
    untouched = train_single_process(steps=0)
    assert max_weight_difference(single, untouched) > 1e-3


def test_launch_rejects_bad_world_size():
    with pytest.raises(ValueError, match="world_size"):
        launch_data_parallel(world_size=0)
    with pytest.raises(ValueError, match="divisible"):
        launch_data_parallel(world_size=3, batch=16)
