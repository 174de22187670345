"""# Dataset and DataLoader, rebuilt batch for batch

A **map-style dataset** is anything with `__len__` and `__getitem__(i)`; an **iterable dataset**
is a stream (`__iter__`), for data that cannot be indexed (a file being read, a generator). The
`DataLoader` turns either into mini-batches:

1. a *sampler* produces indices: `0..N-1` in order, or a permutation drawn from a
   `torch.Generator` when `shuffle=True`;
2. a *batch sampler* groups them `batch_size` at a time (dropping a short last batch if
   `drop_last`);
3. a *fetcher* reads the samples and `collate_fn` merges them into one batch (`default_collate`
   stacks tensors and arrays, turns numbers into tensors and recurses into tuples and dicts);
4. with `num_workers > 0`, worker *processes* do step 3 in parallel while the main process hands
   out index batches round robin and yields results **in order**.

This file reproduces `torch.utils.data.DataLoader` exactly, including its use of randomness, so
that for the same seed and settings it yields the same batches (the tests compare them tensor for
tensor). The random draws, in PyTorch's order, are:

- when the iterator is created, a 64-bit `base_seed` is drawn from the loader's generator (or the
  global RNG);
- at the first batch, a shuffling sampler without a generator draws a seed from the global RNG for
  a private generator; then the permutation is `torch.randperm(N, generator=...)`;
- worker $w$ seeds `random` and `torch` with `base_seed + w`, and numpy with
  `SeedSequence([w, base_seed mod 2^32, base_seed >> 32, 0])`, so augmentations that draw random
  numbers inside workers are reproducible too.

For an iterable dataset every worker iterates its own copy; the dataset must shard itself with
`get_worker_info()` (or each sample appears once per worker). A worker whose stream ends is retired
and the others carry on, which fixes the order in which batches of uneven shards interleave.

Left out: `batch_size=None` (no automatic batching), custom samplers, pin memory, persistent
workers, timeouts and `in_order=False`.

## Exercises

1. Write `shuffled_batches(n, batch_size, drop_last, seed)`: the index batches (lists of ints) that
   `torch.utils.data.DataLoader(range(n), batch_size, shuffle=True, drop_last=drop_last,
   generator=torch.Generator().manual_seed(seed))` yields in its first epoch. Mind the order of
   the random draws listed above. Check it: `uv run pytest --exercise autograd.dataloader`.
2. Write `collate(batch)`: merge a list of samples into a batch as `default_collate` does (stack
   tensors and arrays, ints to int64 and floats to float64 tensors, strings kept as a list,
   recursing into dicts, tuples and lists). Check it (against `torch.utils.data.default_collate`):
   `uv run pytest --exercise autograd.dataloader`.
3. Write `worker_batches(n, batch_size, num_workers)`: the batches, as lists of ints, that a
   loader with `num_workers` workers yields for an iterable dataset over `range(n)` that worker
   `w` shards as `range(w, n, num_workers)`. Check it (against real worker processes):
   `uv run pytest --exercise autograd.dataloader`.
"""

from __future__ import annotations

import collections.abc
import itertools
import multiprocessing
import queue
import random
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch


# The two dataset protocols: indexable with a length, or a stream. The base classes only say what
# a subclass must define.
class Dataset:
    """Map-style dataset: subclasses define `__len__` and `__getitem__(index)`."""

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> object:
        raise TypeError(f"{type(self).__name__} must define __getitem__")


class IterableDataset:
    """Iterable-style dataset: subclasses define `__iter__`."""

    def __iter__(self) -> Iterator[object]:
        raise TypeError(f"{type(self).__name__} must define __iter__")


# The simplest map-style dataset: rows of tensors that share their first dimension.
class TensorDataset(Dataset):
    """Samples are the `i`-th rows of equally long tensors: `(x[i], y[i], ...)`."""

    def __init__(self, *tensors: torch.Tensor) -> None:
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError(
                f"TensorDataset: tensors must be non-empty and equally long, got lengths "
                f"{[len(t) for t in tensors]}"
            )
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return tuple(t[index] for t in self.tensors)


# What a worker knows about itself, for datasets that shard their work by worker.
@dataclass(frozen=True)
class WorkerInfo:
    """What a worker process knows about itself (`get_worker_info()` inside a worker)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


# Set once per worker process, as PyTorch does; None in the main process.
_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The current worker's `WorkerInfo`, or None in the main process."""
    return _worker_info


# Collation follows the structure of the first sample: tensors and arrays stack on a new leading
# dim, and Python numbers become tensors.
def default_collate(batch: Sequence[object]) -> object:
    """Merge a list of samples into a batch, the way `torch.utils.data.default_collate` does.

    >>> default_collate([(1, 2.0), (3, 4.0)])
    [tensor([1, 3]), tensor([2., 4.], dtype=torch.float64)]
    """
    elem = batch[0]
    if isinstance(elem, torch.Tensor):
        return torch.stack(list(batch), 0)  # (B, *elem.shape)
    if isinstance(elem, np.ndarray):
        return torch.stack([torch.as_tensor(b) for b in batch], 0)
    if isinstance(elem, np.generic):
        return torch.as_tensor(np.array(batch))
    if isinstance(elem, int):
        return torch.tensor(batch)  # int64 (bool for bools)
    if isinstance(elem, float):
        return torch.tensor(batch, dtype=torch.float64)
    # Containers: collate each field across the batch, keeping mappings and namedtuples as they
    # are; strings stay a list.
    if isinstance(elem, str | bytes):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple keeps its type
        return type(elem)(*(default_collate(s) for s in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise ValueError(
                f"default_collate: samples have different lengths {[len(b) for b in batch]}"
            )
        return [default_collate(samples) for samples in zip(*batch, strict=True)]
    raise TypeError(f"default_collate: cannot collate samples of type {type(elem).__name__}")


def _draw_seed(generator: torch.Generator | None) -> int:
    # One 64-bit draw, exactly `torch.empty((), dtype=torch.int64).random_(generator=...)`.
    return int(torch.empty((), dtype=torch.int64).random_(generator=generator).item())


def _index_batches(
    n: int, batch_size: int, shuffle: bool, drop_last: bool, generator: torch.Generator | None
) -> Iterator[list[int]]:
    # A generator function: nothing is drawn until the first batch is requested, as in PyTorch.
    if shuffle:
        if generator is None:
            generator = torch.Generator()
            generator.manual_seed(_draw_seed(None))
        order = iter(torch.randperm(n, generator=generator).tolist())
    else:
        order = iter(range(n))
    while batch := list(itertools.islice(order, batch_size)):
        if len(batch) < batch_size and drop_last:
            return
        yield batch


# An iterable dataset ends by running dry: its worker then sends `_StreamEnd` once and ignores
# the tasks still queued for it.
class _StreamEnd:
    """Sent by a worker whose iterable dataset is exhausted."""


def _fetch_stream(stream: Iterator[object], batch_size: int, drop_last: bool) -> list | None:
    samples = list(itertools.islice(stream, batch_size))
    if not samples or (drop_last and len(samples) < batch_size):
        return None
    return samples


# Each worker seeds Python, torch and NumPy from the base seed and its id, so workers draw
# different random streams and a run is reproducible.
def _seed_worker(base_seed: int, worker_id: int) -> int:
    seed = base_seed + worker_id
    random.seed(seed)
    torch.manual_seed(seed)
    entropy = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    np.random.seed(np.random.SeedSequence(entropy).generate_state(4))
    return seed


def _worker_loop(loader: DataLoader, worker_id: int, base_seed: int, tasks, results) -> None:
    global _worker_info
    # Let this process exit without flushing results nobody will read (the main loop stopped).
    results.cancel_join_thread()
    # One thread per worker: two workers on two cores must not each spawn intra-op threads.
    torch.set_num_threads(1)
    seed = _seed_worker(base_seed, worker_id)
    _worker_info = WorkerInfo(worker_id, loader.num_workers, seed, loader.dataset)
    ended = False
    try:
        if loader.worker_init_fn is not None:
            loader.worker_init_fn(worker_id)
        stream = iter(loader.dataset) if loader._iterable else None
    except Exception:
        results.put(
            (-1, RuntimeError(f"worker {worker_id} failed to start:\n" + traceback.format_exc()))
        )
        return
    # Serve tasks until the `None` sentinel. A failure is sent back as an exception carrying the
    # worker's traceback, which the main process raises.
    while (task := tasks.get()) is not None:
        idx, indices = task
        if ended:
            continue  # an exhausted stream ignores the tasks already queued for it
        try:
            if stream is not None:
                samples = _fetch_stream(stream, loader.batch_size, loader.drop_last)
                if samples is None:
                    ended = True
                    results.put((idx, _StreamEnd()))
                    continue
            else:
                samples = [loader.dataset[i] for i in indices]
            results.put((idx, loader.collate_fn(samples)))
        except Exception:
            message = f"DataLoader worker {worker_id} failed on batch {idx}:\n"
            results.put((idx, RuntimeError(message + traceback.format_exc())))


# The loader checks its arguments up front; `__iter__` then takes the single- or multi-process
# path.
class DataLoader:
    """Mini-batches from a dataset; the same batches as `torch.utils.data.DataLoader`.

    Args:
        dataset: a map-style (`__getitem__`, `__len__`) or iterable (`__iter__`) dataset.
        batch_size: samples per batch (>= 1).
        shuffle: draw a fresh permutation each epoch (map-style only).
        drop_last: drop the last batch if it is short.
        collate_fn: merges a list of samples into a batch (default `default_collate`).
        num_workers: worker processes (0 loads in the main process).
        generator: the `torch.Generator` for the shuffling permutation and the workers' base seed.
        worker_init_fn: called as `fn(worker_id)` in each worker after seeding.
        prefetch_factor: index batches queued per worker ahead of consumption.
    """

    def __init__(
        self,
        dataset: object,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable[[list], object] | None = None,
        num_workers: int = 0,
        generator: torch.Generator | None = None,
        worker_init_fn: Callable[[int], None] | None = None,
        prefetch_factor: int = 2,
    ) -> None:
        # Reject here what would otherwise fail later, inside a worker or mid-epoch.
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if num_workers < 0 or prefetch_factor < 1:
            raise ValueError(
                f"DataLoader: need num_workers >= 0 and prefetch_factor >= 1, got "
                f"{num_workers} and {prefetch_factor}"
            )
        self._iterable = isinstance(dataset, IterableDataset | torch.utils.data.IterableDataset)
        if self._iterable and shuffle:
            raise ValueError(
                "DataLoader: shuffle=True needs a map-style dataset, not an iterable one"
            )
        if not self._iterable and not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: {type(dataset).__name__} is neither map-style nor iterable"
            )
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.drop_last, self.num_workers, self.generator = drop_last, num_workers, generator
        self.collate_fn = collate_fn or default_collate
        self.worker_init_fn, self.prefetch_factor = worker_init_fn, prefetch_factor

    # Only a map-style dataset has a length: the number of batches, rounding up unless `drop_last`.
    def __len__(self) -> int:
        if self._iterable:
            raise TypeError("DataLoader: an iterable dataset has no length")
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _index_batches(self) -> Iterator[list]:
        if self._iterable:  # workers ignore the indices; the list only sets the batch size
            return iter(lambda: [None] * self.batch_size, None)
        return _index_batches(
            len(self.dataset), self.batch_size, self.shuffle, self.drop_last, self.generator
        )

    # Each `iter()` is one epoch: the workers' base seed is drawn at once, the shuffle only when
    # the first batch is requested.
    def __iter__(self) -> Iterator[object]:
        # Drawn eagerly, when the iterator is created, even if no worker will use it: PyTorch
        # does, and skipping it would shift every later random number.
        base_seed = _draw_seed(self.generator)
        batches = self._index_batches()
        if self.num_workers == 0:
            return self._single_process(batches)
        return self._multi_process(batches, base_seed)

    def _single_process(self, batches: Iterator[list]) -> Iterator[object]:
        if self._iterable:
            stream = iter(self.dataset)
            while (samples := _fetch_stream(stream, self.batch_size, self.drop_last)) is not None:
                yield self.collate_fn(samples)
            return
        for indices in batches:
            yield self.collate_fn([self.dataset[i] for i in indices])

    # The main loop mirrors PyTorch's `_MultiProcessingDataLoaderIter`: keep
    # `prefetch_factor * num_workers` index batches in flight, assign each to the next *active*
    # worker round robin, and yield results strictly by task number, buffering any that arrive
    # early. A task whose worker has retired (its stream ended) is skipped.
    def _multi_process(self, batches: Iterator[list], base_seed: int) -> Iterator[object]:
        ctx = multiprocessing.get_context()
        results = ctx.Queue()
        task_queues = [ctx.Queue() for _ in range(self.num_workers)]
        workers = [
            ctx.Process(
                target=_worker_loop,
                args=(self, w, base_seed, task_queues[w], results),
                daemon=True,
            )
            for w in range(self.num_workers)
        ]
        for w in workers:
            w.start()
        # Bookkeeping: which workers still have data, whose turn is next, which worker owns each
        # task, and which results wait for their turn.
        active = [True] * self.num_workers
        cycle = itertools.cycle(range(self.num_workers))
        owner: dict[int, int] = {}  # task number -> worker
        ready: dict[int, object] = {}  # results that arrived before their turn
        sent = received = 0

        def _put_next() -> None:
            nonlocal sent
            indices = next(batches, None)
            if indices is None:
                return
            for _ in range(self.num_workers):
                w = next(cycle)
                if active[w]:
                    break
            else:
                return
            task_queues[w].put((sent, indices))
            owner[sent] = w
            sent += 1

        # Prime the queues, then yield in task order: skip the tasks of retired workers, yield a
        # buffered result when its turn comes, and otherwise wait for the next one to arrive.
        try:
            for _ in range(self.prefetch_factor * self.num_workers):
                _put_next()
            while True:
                while received < sent and received not in ready and not active[owner[received]]:
                    received += 1  # its worker retired before producing it
                if received >= sent:
                    return
                if received in ready:
                    data = ready.pop(received)
                    received += 1
                    _put_next()
                    yield data
                    continue
                # Otherwise wait for the next result: an error is raised here, a stream end retires
                # its worker, and a batch waits in `ready` for its turn.
                idx, data = self._get(results, workers)
                if isinstance(data, Exception):
                    raise data
                if isinstance(data, _StreamEnd):
                    active[owner[idx]] = False
                    _put_next()
                    continue
                ready[idx] = data
        # However the loop ends, send every worker its sentinel and reap it, forcibly if it does
        # not exit in time.
        finally:
            for q in task_queues:
                q.put(None)
            for w in workers:
                w.join(timeout=5)
                if w.is_alive():
                    w.terminate()

    @staticmethod
    def _get(results, workers) -> tuple[int, object]:
        # Poll so that a worker killed by the OS (out of memory) raises instead of hanging.
        while True:
            try:
                return results.get(timeout=1.0)
            except queue.Empty:
                dead = [i for i, w in enumerate(workers) if not w.is_alive()]
                if dead:
                    raise RuntimeError(
                        f"DataLoader: worker(s) {dead} exited unexpectedly"
                    ) from None
