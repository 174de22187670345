"""Shared test settings for masterclass.nn."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    # The tests use small tensors, where torch's intra-op thread pool costs more than it gains
    # and, on a shared 2-core CI runner, oversubscription makes small training loops ~10x slower.
    # One thread per test keeps timings stable; the previous setting is restored afterwards.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
