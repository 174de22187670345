"""Data parallelism on 2 gloo processes: ranks that start from different weights end up with rank
0's after the broadcast (each rank is seeded differently, so a broken broadcast is caught)."""

import pytest
import torch


@pytest.mark.distributed
def test_broadcast_makes_differently_seeded_ranks_equal(launch):
    r0, r1 = launch("broadcast", 2)
    # The premise: different seeds gave different weights before the broadcast.
    assert any(not torch.equal(r0["before"][k], r1["before"][k]) for k in r0["before"])
    for name in r0["before"]:
        # Rank 0 keeps its own weights; rank 1 receives them exactly (a copy, no arithmetic).
        assert torch.equal(r0["after"][name], r0["before"][name]), name
        assert torch.equal(r1["after"][name], r0["before"][name]), name
