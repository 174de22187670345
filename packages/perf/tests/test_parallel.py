"""Vectorised against looped against scipy; threads; autograd's DataLoader against torch's with workers."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from masterclass.autograd.dataloader import DataLoader as OurLoader
from masterclass.perf.parallel import (
    num_threads,
    pairwise_sq_distances,
    pairwise_sq_distances_loop,
    run_concurrently,
)


def test_vectorised_and_looped_distances_match_scipy():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 5, generator=g, dtype=torch.float64)
    y = torch.randn(4, 5, generator=g, dtype=torch.float64)
    want = cdist(x.numpy(), y.numpy(), "sqeuclidean")
    # float64: the expanded square loses ~ 1e-15 relative to |x|^2 + |y|^2 ~ 10 by cancellation.
    np.testing.assert_allclose(pairwise_sq_distances(x, y).numpy(), want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pairwise_sq_distances_loop(x, y).numpy(), want, rtol=0, atol=1e-12)


def test_num_threads_sets_and_restores():
    before = torch.get_num_threads()
    with num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), num_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_concurrent_matmuls_equal_sequential_ones():
    g = torch.Generator().manual_seed(0)
    mats = [torch.randn(64, 64, generator=g) for _ in range(4)]
    fns = [lambda m=m: m @ m for m in mats]
    for got, m in zip(run_concurrently(fns, threads=2), mats, strict=True):
        assert torch.equal(got, m @ m)  # the same kernel on the same data: bitwise equal


class _Squares(torch.utils.data.Dataset):
    def __len__(self):
        return 20

    def __getitem__(self, i):
        # Random augmentation inside the worker: equal batches need equal worker seeding too.
        return torch.tensor([float(i * i)]) + torch.rand(1)


@pytest.mark.distributed
def test_autograd_loader_with_workers_yields_torch_batches():
    def batches(loader_cls):
        loader = loader_cls(
            _Squares(),
            batch_size=3,
            shuffle=True,
            num_workers=2,
            generator=torch.Generator().manual_seed(7),
        )
        return list(loader)

    ours, torch_batches = batches(OurLoader), batches(torch.utils.data.DataLoader)
    assert len(ours) == len(torch_batches) == 7
    for a, b in zip(ours, torch_batches, strict=True):
        assert torch.equal(a, b)


def test_bad_input():
    with pytest.raises(ValueError, match="same C"):
        pairwise_sq_distances(torch.ones(2, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="n must be a positive int"), num_threads(0):
        pass
    with pytest.raises(TypeError, match="fns must be a sequence of callables"):
        run_concurrently([1, 2])
