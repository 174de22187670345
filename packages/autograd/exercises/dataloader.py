r"""# Exercises: Dataset and DataLoader, rebuilt batch for batch

The three things a `DataLoader` decides, each checked against `torch.utils.data` itself: which
indices go in which batch (and which random draws pick them), how samples are merged into a batch,
and in what order the batches of an iterable dataset's workers arrive."""

import collections.abc

import numpy as np
import torch
import torch.utils.data as tud


def solution_1_shuffled_batches(n: int, batch_size: int, drop_last: bool, seed: int) -> list:
    """The index batches of `DataLoader(range(n), batch_size, shuffle=True, generator=g)`.

    `g = torch.Generator().manual_seed(seed)`. Creating the iterator draws one 64-bit base seed
    from `g` first; only then does the sampler draw its permutation from the same generator.
    """
    g = torch.Generator().manual_seed(seed)
    torch.empty((), dtype=torch.int64).random_(generator=g)  # the iterator's base seed
    order = torch.randperm(n, generator=g).tolist()
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def check_1_shuffled_batches(fn) -> None:
    """Compare with the batches `torch.utils.data.DataLoader` yields for the same seed."""
    for n, batch_size, drop_last, seed in [
        (10, 3, False, 0),
        (10, 3, True, 0),
        (12, 4, True, 1),
        (7, 10, False, 2),
        (7, 10, True, 2),
        (25, 6, False, 123),
    ]:
        loader = tud.DataLoader(
            range(n),
            batch_size,
            shuffle=True,
            drop_last=drop_last,
            generator=torch.Generator().manual_seed(seed),
        )
        want = [batch.tolist() for batch in loader]
        got = [list(map(int, batch)) for batch in fn(n, batch_size, drop_last, seed)]
        hint = ""
        flat_got, flat_want = sorted(i for b in got for i in b), sorted(i for b in want for i in b)
        if got != want and flat_got == flat_want:
            hint = (
                " (same indices, other order: draw the iterator's base seed from the generator "
                "before the permutation)"
            )
        assert got == want, (
            f"n={n}, batch_size={batch_size}, drop_last={drop_last}, seed={seed}: got {got}, "
            f"torch's DataLoader yields {want}{hint}"
        )


def solution_2_collate(batch: list) -> object:
    """Merge samples the way `default_collate` does: stack tensors and arrays, turn ints into
    int64 and floats into float64 tensors, keep strings as lists, recurse into dicts and tuples."""
    elem = batch[0]
    if isinstance(elem, torch.Tensor):
        return torch.stack(batch)  # (B, *elem.shape)
    if isinstance(elem, np.ndarray):
        return torch.stack([torch.as_tensor(b) for b in batch])
    if isinstance(elem, bool | int):
        return torch.tensor(batch)
    if isinstance(elem, float):
        return torch.tensor(batch, dtype=torch.float64)
    if isinstance(elem, str):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: solution_2_collate([sample[key] for sample in batch]) for key in elem}
    return [solution_2_collate(list(column)) for column in zip(*batch, strict=True)]


def _same(got: object, want: object, where: str) -> None:
    # Exact equality, dtype included: collation copies values, it never computes.
    if isinstance(want, torch.Tensor):
        assert isinstance(got, torch.Tensor), f"{where}: got {type(got).__name__}, want a tensor"
        assert got.dtype == want.dtype, f"{where}: dtype {got.dtype}, want {want.dtype}"
        assert got.shape == want.shape, (
            f"{where}: shape {tuple(got.shape)}, want {tuple(want.shape)}"
        )
        assert torch.equal(got, want), f"{where}: values {got}, want {want}"
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), (
            f"{where}: keys {list(got) if isinstance(got, dict) else got}, want {list(want)}"
        )
        for key in want:
            _same(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, list) and want and not isinstance(want[0], str):
        assert isinstance(got, list | tuple) and len(got) == len(want), (
            f"{where}: got {got!r}, want a list of {len(want)} fields"
        )
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            _same(a, b, f"{where}[{i}]")
    else:
        assert list(got) == want, f"{where}: got {got!r}, want {want!r}"


def check_2_collate(fn) -> None:
    """Compare with `torch.utils.data.default_collate` on mixed, nested, random samples."""
    rng = np.random.default_rng(0)
    for trial in range(4):
        b = int(rng.integers(1, 5))
        samples = [
            (
                torch.tensor(rng.normal(size=(2, 3)), dtype=torch.float32),
                rng.normal(size=3),
                int(rng.integers(0, 10)),
                float(rng.normal()),
                {"name": f"s{i}", "label": bool(rng.integers(0, 2)), "w": [float(i), i]},
            )
            for i in range(b)
        ]
        want = tud.default_collate(samples)
        _same(fn(samples), want, f"batch {trial} of {b} samples")
    plain = [{"x": 1, "y": 2.5}, {"x": 3, "y": 4.0}]
    _same(fn(plain), tud.default_collate(plain), "batch of dicts")


class _Sharded(tud.IterableDataset):
    """range(n), split between workers by striding: worker w yields w, w + W, w + 2W, ..."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        info = tud.get_worker_info()
        return iter(range(info.id, self.n, info.num_workers))


def solution_3_worker_batches(n: int, batch_size: int, num_workers: int) -> list:
    """The batches a DataLoader with `num_workers` yields for `_Sharded(n)`, in order.

    Each worker batches its own stream; the loader takes one batch from each worker in turn,
    and a worker whose stream has ended drops out of the rotation.
    """
    streams = []
    for w in range(num_workers):
        shard = list(range(w, n, num_workers))
        streams.append(iter([shard[i : i + batch_size] for i in range(0, len(shard), batch_size)]))
    out, active = [], list(range(num_workers))
    while active:
        for w in list(active):
            batch = next(streams[w], None)
            if batch is None:
                active.remove(w)
            else:
                out.append(batch)
    return out


def check_3_worker_batches(fn) -> None:
    """Compare with `torch.utils.data.DataLoader` running real worker processes."""
    # Two workers (more would only start more processes): shards of uneven length, so that one
    # worker runs out of batches before the other.
    for n, batch_size, num_workers in [(9, 2, 2), (13, 3, 2), (4, 3, 2)]:
        # "fork": the workers inherit `_Sharded` from this file, which a spawned process (the
        # default on macOS, and on Linux from Python 3.14) could not import by name.
        loader = tud.DataLoader(
            _Sharded(n), batch_size, num_workers=num_workers, multiprocessing_context="fork"
        )
        want = [batch.tolist() for batch in loader]
        got = [list(map(int, batch)) for batch in fn(n, batch_size, num_workers)]
        assert got == want, (
            f"n={n}, batch_size={batch_size}, num_workers={num_workers}: got {got}, torch's "
            f"DataLoader yields {want} (one batch per worker in turn; a finished worker drops out)"
        )
