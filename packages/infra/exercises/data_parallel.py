r"""# Exercises: Data parallelism: the same model on every process, different data

Combining per-rank gradients when the ranks hold different numbers of examples, and the traffic
of a ring all-reduce, checked against autograd on the whole batch and a simulated ring."""

import random

import numpy as np
import torch


def solution_1_combine_gradients(grads: list[torch.Tensor], counts: list[int]) -> torch.Tensor:
    """The gradient of the mean loss over all examples, from each rank's mean-loss gradient."""
    total = sum(counts)
    return sum(g * (n / total) for g, n in zip(grads, counts))


def _gradient(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # The gradient of the mean squared error of a linear model, by autograd.
    w = w.detach().clone().requires_grad_(True)
    ((x @ w - y) ** 2).mean().backward()
    return w.grad


def check_1_combine_gradients(fn) -> None:
    """Compare with autograd's gradient of the mean loss over the whole batch (float64)."""
    gen = torch.Generator().manual_seed(0)
    rng = random.Random(0)
    splits = [[2, 2, 2, 2], [5, 1], [3, 1, 4, 1, 5], [7], *[None] * 6]
    for counts in splits:
        if counts is None:
            counts = [rng.randint(1, 6) for _ in range(rng.randint(2, 6))]
        x = torch.randn(sum(counts), 3, generator=gen, dtype=torch.float64)
        y = torch.randn(sum(counts), generator=gen, dtype=torch.float64)
        w = torch.randn(3, generator=gen, dtype=torch.float64)
        want = _gradient(w, x, y)
        grads = [_gradient(w, xb, yb) for xb, yb in zip(x.split(counts), y.split(counts))]
        got = torch.as_tensor(fn([g.clone() for g in grads], list(counts)), dtype=torch.float64)
        # float64 and at most a handful of terms: only rounding separates the two sums.
        assert got.shape == want.shape and torch.allclose(got, want, rtol=1e-10, atol=1e-12), (
            f"ranks with {counts} examples: combined gradient {got.tolist()}, the whole batch's "
            f"is {want.tolist()} (a plain mean weighs a rank of 1 example like one of 5)"
        )


def solution_2_ring_traffic(n: int, world_size: int) -> list[int]:
    """Elements each rank sends in a ring all-reduce of `n` elements cut by `np.array_split`."""
    sizes = [len(c) for c in np.array_split(np.arange(n), world_size)]
    # Reduce-scatter: rank r sends every chunk but chunk r; all-gather: every chunk but r + 1.
    return [2 * n - sizes[r] - sizes[(r + 1) % world_size] for r in range(world_size)]


def _simulate_ring(n: int, world: int) -> tuple[list[np.ndarray], list[int]]:
    # W ranks hold random vectors cut into W chunks. Reduce-scatter: at step s rank r sends its
    # running sum of chunk (r - s - 1) mod W to rank r + 1, which adds its own. All-gather: rank r
    # first sends chunk r (complete after the reduce-scatter), then forwards what it received.
    rng = np.random.default_rng(n * 31 + world)
    data = [rng.integers(-9, 9, size=n) for _ in range(world)]
    bounds = np.cumsum([0] + [len(c) for c in np.array_split(np.arange(n), world)])
    chunk = [[d[bounds[c] : bounds[c + 1]].copy() for c in range(world)] for d in data]
    sent = [0] * world
    for s in range(world - 1):
        messages = [(r, (r - s - 1) % world, chunk[r][(r - s - 1) % world]) for r in range(world)]
        for r, c, payload in messages:
            sent[r] += len(payload)
            chunk[(r + 1) % world][c] = chunk[(r + 1) % world][c] + payload
    for s in range(world - 1):
        messages = [(r, (r - s) % world, chunk[r][(r - s) % world]) for r in range(world)]
        for r, c, payload in messages:
            sent[r] += len(payload)
            chunk[(r + 1) % world][c] = payload.copy()
    total = sum(data)
    results = [np.concatenate(chunk[r]) for r in range(world)]
    assert all(np.array_equal(res, total) for res in results), "the simulated ring is wrong"
    return results, sent


def check_2_ring_traffic(fn) -> None:
    """Count the elements each rank sends in a simulated ring (which must also sum correctly)."""
    for n, world in [(12, 4), (10, 4), (7, 3), (5, 1), (3, 2), (100, 8), (1000, 7), (2, 4)]:
        _, want = _simulate_ring(n, world)
        got = [int(v) for v in fn(n, world)]
        assert got == want, (
            f"ring_traffic({n}, {world}) = {got}, the ring's ranks send {want} elements "
            f"(2 (W - 1) / W n = {2 * (world - 1) / world * n:g} only when W divides n)"
        )
