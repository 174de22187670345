"""Speedups from vectorisation, intra-op threads, inter-op threads and DataLoader workers.

    uv run python packages/perf/bench/parallel.py [--repeat 5]

Every ratio is against the sequential version measured in the same run, after checking that
both give the same result.
"""

import argparse
import os
import statistics
import time

import torch

from masterclass.autograd.dataloader import DataLoader as OurLoader
from masterclass.perf.parallel import (
    num_threads,
    pairwise_sq_distances,
    pairwise_sq_distances_loop,
    run_concurrently,
)
from masterclass.perf.profiling import time_step


class PythonHeavy(torch.utils.data.Dataset):
    """Samples that cost Python time (a pure-Python loop), like decoding or tokenizing."""

    def __len__(self):
        return 64

    def __getitem__(self, i):
        total = 0
        for k in range(60_000):
            total += (i * k) % 7
        return torch.tensor([float(total)])


def _median(fn, repeat, number=1):
    # Seconds per call: the median over `repeat` timings of `number` calls each (fast calls are
    # repeated so that one timing is long against the scheduler's time slice).
    def many():
        for _ in range(number):
            fn()

    return statistics.median(time_step(many, warmup=0, repeat=1) for _ in range(repeat)) / number


def _epoch(loader_cls, workers):
    t0 = time.perf_counter()
    batches = list(loader_cls(PythonHeavy(), batch_size=8, num_workers=workers))
    return time.perf_counter() - t0, torch.cat(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    # Other processes share the cores: the load average says how much, and threads suffer most.
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    cores = torch.get_num_threads()
    print(f"intra-op threads available: {cores}")

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(60, 16, generator=g), torch.randn(60, 16, generator=g)
    assert torch.allclose(pairwise_sq_distances(x, y), pairwise_sq_distances_loop(x, y), atol=1e-4)
    loop = _median(lambda: pairwise_sq_distances_loop(x, y), args.repeat)
    vec = _median(lambda: pairwise_sq_distances(x, y), args.repeat, number=200)
    print(f"vectorised vs Python loops (60x60 distances): {loop / vec:8.1f}x")

    a = torch.randn(1024, 1024, generator=g)
    with num_threads(1):
        one = _median(lambda: a @ a, args.repeat)
    with num_threads(cores):
        many = _median(lambda: a @ a, args.repeat)
    print(f"intra-op threads {cores} vs 1 (1024^2 matmul):     {one / many:8.2f}x")

    mats = [torch.randn(512, 512, generator=g) for _ in range(4)]
    fns = [lambda m=m: m @ m for m in mats]
    with num_threads(1):
        seq = _median(lambda: [f() for f in fns], args.repeat)
        par = _median(lambda: run_concurrently(fns, threads=cores), args.repeat)
    print(f"inter-op: {cores} Python threads vs 1 (4 matmuls): {seq / par:8.2f}x")

    for name, cls in (
        ("torch DataLoader", torch.utils.data.DataLoader),
        ("autograd DataLoader", OurLoader),
    ):
        t0, b0 = _epoch(cls, 0)
        t2, b2 = _epoch(cls, 2)
        assert torch.equal(b0, b2)
        print(f"{name}: 2 workers vs 0 (Python-heavy samples): {t0 / t2:8.2f}x")


if __name__ == "__main__":
    main()
