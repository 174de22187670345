"""Shared test settings for masterclass.training."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    # Small models train ~10-50x slower when torch's intra-op pool oversubscribes a shared 2-core
    # runner; one thread per test keeps the RL and fine-tuning loops fast and their timings
    # stable. The previous setting is restored afterwards.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
