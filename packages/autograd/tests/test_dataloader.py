"""Our DataLoader against torch.utils.data.DataLoader: the same batches, tensor for tensor and
bit for bit (same seeds, same random draws), in one process and with two worker processes."""

import math

import numpy as np
import pytest
import torch
import torch.utils.data as tud

from masterclass.autograd.dataloader import (
    DataLoader,
    IterableDataset,
    TensorDataset,
    default_collate,
    get_worker_info,
)


def _assert_same_batches(ours, theirs):
    ours, theirs = list(ours), list(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        _assert_same(a, b)


def _assert_same(a, b):
    # Exact equality: the same samples collated the same way are bitwise identical.
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        assert a == b


class _Records(tud.Dataset):
    """Samples of mixed types, to exercise collation: (array, int, float, dict)."""

    def __len__(self):
        return 11

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), i, i / 2, {"id": i, "name": f"s{i}"}


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_shuffled_batches_match_torch_with_generator(batch_size, drop_last):
    data = _Records()
    for epoch_seed in (0, 1):
        ours = DataLoader(
            data,
            batch_size,
            shuffle=True,
            drop_last=drop_last,
            generator=torch.Generator().manual_seed(epoch_seed),
        )
        theirs = tud.DataLoader(
            data,
            batch_size,
            shuffle=True,
            drop_last=drop_last,
            generator=torch.Generator().manual_seed(epoch_seed),
        )
        assert len(ours) == len(theirs)
        _assert_same_batches(ours, theirs)


def test_global_rng_draws_match_torch_over_two_epochs():
    x = torch.arange(10.0).reshape(5, 2)
    ours_loader = DataLoader(TensorDataset(x, torch.arange(5)), batch_size=2, shuffle=True)
    theirs_loader = tud.DataLoader(
        tud.TensorDataset(x, torch.arange(5)), batch_size=2, shuffle=True
    )
    torch.manual_seed(7)
    ours = [b for _ in range(2) for b in ours_loader] + [torch.rand(3)]
    torch.manual_seed(7)
    theirs = [b for _ in range(2) for b in theirs_loader] + [torch.rand(3)]
    # The trailing torch.rand shows the loaders consumed the global RNG identically.
    _assert_same_batches(ours, theirs)


def test_default_collate_matches_torch():
    samples = [_Records()[i] for i in range(3)]
    _assert_same(default_collate(samples), tud.default_collate(samples))
    with pytest.raises(ValueError, match=r"different lengths \[2, 3\]"):
        default_collate([[1, 2], [1, 2, 3]])


class _Noisy(tud.Dataset):
    """An 'augmenting' dataset: every sample draws random noise, so worker seeding matters."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return torch.tensor([float(i)]) + torch.rand(1), int(np.random.randint(0, 1000))


@pytest.mark.distributed
def test_two_workers_match_torch_including_random_augmentation():
    kwargs = {"batch_size": 3, "shuffle": True, "num_workers": 2}
    ours = DataLoader(_Noisy(), generator=torch.Generator().manual_seed(3), **kwargs)
    theirs = tud.DataLoader(_Noisy(), generator=torch.Generator().manual_seed(3), **kwargs)
    _assert_same_batches(ours, theirs)


class _Shards(tud.IterableDataset, IterableDataset):
    """A stream of 0..n-1, split between workers by each loader's own get_worker_info()."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info() or tud.get_worker_info()
        if info is None:
            return iter(range(self.n))
        per = math.ceil(self.n / info.num_workers)
        return iter(range(info.id * per, min(self.n, (info.id + 1) * per)))


@pytest.mark.distributed
@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset_with_two_workers_matches_torch(drop_last):
    # 11 items over 2 workers = shards of 6 and 5: uneven, so one worker retires first.
    for workers in (0, 2):
        kwargs = {"batch_size": 2, "drop_last": drop_last, "num_workers": workers}
        _assert_same_batches(
            DataLoader(_Shards(11), **kwargs), tud.DataLoader(_Shards(11), **kwargs)
        )


class _Broken(tud.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise KeyError("sample 2 is corrupt")
        return i


@pytest.mark.distributed
def test_worker_error_is_reported_with_its_traceback():
    with pytest.raises(
        RuntimeError, match=r"(?s)worker \d failed on batch \d.*sample 2 is corrupt"
    ):
        list(DataLoader(_Broken(), batch_size=1, num_workers=2))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        DataLoader(_Records(), batch_size=0)
    with pytest.raises(ValueError, match="shuffle=True needs a map-style dataset"):
        DataLoader(_Shards(3), shuffle=True)
