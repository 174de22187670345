r"""# Exercises: Data-parallel training from scratch

A ring all-reduce simulated in one process, and the full-batch gradient from shards of unequal
size."""

import itertools

import torch
from torch import nn

from masterclass.nn.data_parallel import make_data, make_model


def solution_1_ring_allreduce(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Reduce-scatter then all-gather around a ring of P workers; each ends with the sum."""
    P = len(tensors)
    chunks = [list(t.clone().chunk(P)) for t in tensors]  # chunks[r][c]: worker r's chunk c
    # Reduce-scatter: at step s worker r sends chunk (r - s) mod P to worker r + 1, which adds it.
    for s in range(P - 1):
        sent = [chunks[r][(r - s) % P].clone() for r in range(P)]
        for r in range(P):
            chunks[(r + 1) % P][(r - s) % P] += sent[r]
    # Worker r now holds the full sum of chunk (r + 1) mod P; all-gather passes them around.
    for s in range(P - 1):
        sent = [chunks[r][(r + 1 - s) % P].clone() for r in range(P)]
        for r in range(P):
            chunks[(r + 1) % P][(r + 1 - s) % P] = sent[r]
    return [torch.cat(c) for c in chunks]


def check_1_ring_allreduce(fn) -> None:
    """Every worker must end with the elementwise sum over workers; the inputs must survive."""
    g = torch.Generator().manual_seed(0)
    for P, n in [(2, 6), (3, 9), (4, 10), (5, 5), (1, 3)]:
        tensors = [torch.randn(n, generator=g, dtype=torch.float64) for _ in range(P)]
        copies = [t.clone() for t in tensors]
        want = torch.stack(tensors).sum(0)
        got = fn(tensors)
        assert len(got) == P, f"P={P}: got {len(got)} results, want one per worker"
        for r, t in enumerate(got):
            # float64 sums of P numbers in another order: rounding only.
            assert torch.allclose(t, want, atol=1e-12), (
                f"P={P}, n={n}: worker {r} holds {t.tolist()}, the sum is {want.tolist()}"
            )
        assert all(torch.equal(a, b) for a, b in zip(tensors, copies, strict=True)), (
            "the inputs were modified in place; clone them first"
        )


def solution_2_combine_shard_gradients(grads: list[torch.Tensor], sizes: list[int]) -> torch.Tensor:
    r"""$\nabla L = \sum_r \frac{n_r}{\sum_s n_s} g_r$ when each $g_r$ is a mean over $n_r$ rows."""
    total = sum(sizes)
    return sum(n / total * g for g, n in zip(grads, sizes, strict=True))


def check_2_combine_shard_gradients(fn) -> None:
    """Shard the chapter's data unevenly; the combination must equal the full-batch gradient."""
    x, y = make_data(batch=16)
    model = make_model(seed=0)
    params = list(model.parameters())

    def flat_grad(xs, ys):
        loss = nn.functional.mse_loss(model(xs), ys)
        return torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])

    want = flat_grad(x, y)
    for sizes in [[8, 8], [3, 13], [1, 5, 10], [4, 4, 4, 4]]:
        bounds = torch.tensor([0, *sizes]).cumsum(0).tolist()
        grads = [flat_grad(x[a:b], y[a:b]) for a, b in itertools.pairwise(bounds)]
        got = fn(grads, list(sizes))
        assert torch.allclose(got, want, atol=1e-12), (
            f"shard sizes {sizes}: off by {(got - want).abs().max():.2e}; a plain mean of the "
            "shard gradients is right only for equal shards: weight each by its share of rows"
        )
