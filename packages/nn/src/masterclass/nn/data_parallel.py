r"""# Data-parallel training from scratch

Data parallelism splits each batch across $P$ workers that each hold a full copy of the model.
Worker $r$ computes the gradient $g_r$ of the loss on its shard; if the global loss is the mean
over the full batch and the shards are the same size, its gradient is the mean of the shard
gradients,

$$\nabla L = \frac{1}{P} \sum_{r=1}^{P} g_r,$$

so after an **all-reduce** (every worker ends with the sum of everyone's tensors) divided by $P$,
every worker holds the same full-batch gradient, takes the same optimizer step, and the replicas
stay identical. Two collective operations make up the whole algorithm:

1. **broadcast** the initial weights from rank 0, so the replicas start equal (each process may
   have initialized its model from a different random state);
2. **all-reduce** the gradients after every backward pass.

Why the mean of shard gradients is the full gradient, in one line: with
$L = \frac1B\sum_{i=1}^B \ell_i$ and shards $S_r$ of $B/P$ rows each,
$\nabla L = \frac1B\sum_r\sum_{i\in S_r}\nabla\ell_i = \frac1P\sum_r\bigl(\frac{P}{B}\sum_{i\in S_r}
\nabla\ell_i\bigr) = \frac1P\sum_r g_r$. With unequal shards of $n_r$ rows the weights are
$n_r/B$ instead of $1/P$ (exercise 2).

**What an all-reduce costs.** The *ring* algorithm (Patarasuk & Yuan, 2009; the one NCCL and
gloo use for large tensors) cuts each worker's $N$ values into $P$ chunks. In $P-1$ steps of
*reduce-scatter* every worker sends one chunk to its right neighbour, which adds it to its own;
afterwards worker $r$ holds the complete sum of one chunk. In $P-1$ steps of *all-gather* the
finished chunks travel once more around the ring. Each worker sends $2(P-1)$ chunks of $N/P$
values,

$$2\,\frac{P-1}{P}\,N \;<\; 2N,$$

so the traffic per worker is nearly independent of $P$: doubling the workers does not double the
communication time of a step, which is why data parallelism scales.

A worked example without processes: the mean of two half-batch gradients is the full-batch
gradient.

>>> x, y = make_data(batch=8)
>>> model = make_model(seed=0)
>>> def grad(xs, ys):
...     model.zero_grad()
...     nn.functional.mse_loss(model(xs), ys).backward()
...     return torch.cat([p.grad.flatten() for p in model.parameters()])
>>> full, halves = grad(x, y), (grad(x[:4], y[:4]) + grad(x[4:], y[4:])) / 2
>>> torch.allclose(full, halves, atol=1e-14)
True

`torch.nn.parallel.DistributedDataParallel` (DDP) does the same, overlapping the all-reduce with
the backward pass by grouping gradients into buckets. The test launches 2 processes with the
`gloo` backend (CPU; on GPUs the same code runs with `nccl`) and checks that the from-scratch
version, DDP, and one process training on the combined batch end with equal weights.

Launch: `launch_data_parallel()` spawns the workers with `torch.multiprocessing` on a free
localhost port and bounds the wait with a timeout; the same worker also runs under
`torchrun --nproc_per_node 2 -m masterclass.nn.data_parallel`.

Reference: Li et al., *PyTorch Distributed: Experiences on Accelerating Data Parallel Training*
(VLDB 2020). Left out: gradient bucketing and overlap, ZeRO/FSDP sharding (Module 9), and
uneven shards.

## Exercises

1. Write `ring_allreduce(tensors)`: given one 1-D tensor per worker, simulate the ring
   algorithm above (reduce-scatter, then all-gather, chunk by chunk) and return what each worker
   holds at the end. Count the chunks each worker sends. Check it:
   `uv run pytest --exercise nn.data_parallel`.
2. Write `combine_shard_gradients(grads, sizes)`: the full-batch gradient from per-shard mean
   gradients when the shards have `sizes` rows. Check it:
   `uv run pytest --exercise nn.data_parallel`.
"""

from __future__ import annotations

import datetime
import os
import socket
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn

# ## The two collectives


@torch.no_grad()
def broadcast_parameters(model: nn.Module, src: int = 0) -> None:
    """Overwrite every parameter and buffer with rank `src`'s copy."""
    for t in [*model.parameters(), *model.buffers()]:
        dist.broadcast(t.data, src=src)


@torch.no_grad()
def allreduce_gradients(model: nn.Module) -> None:
    """Replace every gradient by its mean over all ranks: all-reduce (sum), then divide by $P$."""
    world = dist.get_world_size()
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(world)


# ## The experiment
#
# A small regression MLP in float64, a fixed data set of `batch` rows, and plain SGD. Rank `r`
# trains on the contiguous shard of rows $[rB/P, (r+1)B/P)$ of the combined batch.


def make_model(seed: int) -> nn.Module:
    """The model every run trains: a 2-layer tanh MLP in float64, initialized from `seed`."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2)).double()


def make_data(batch: int = 16, seed: int = 123) -> tuple[Tensor, Tensor]:
    """The combined batch: inputs `(batch, 4)` and targets `(batch, 2)`."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 4, generator=g, dtype=torch.float64)
    return x, torch.sin(x[:, :2]) + 0.1 * torch.randn(batch, 2, generator=g, dtype=torch.float64)


# The reference run: one process, the whole batch. Both data-parallel runs must land on its
# weights.
def train_single_process(steps: int = 5, lr: float = 0.1, batch: int = 16) -> dict[str, Tensor]:
    """Reference: one process, the full batch, the same SGD steps; returns the final state dict."""
    model = make_model(seed=0)
    x, y = make_data(batch)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# One replica's loop. `sync` runs between backward and the step, where gradients are averaged
# across ranks; DDP averages inside backward, so it gets a no-op.
def _train_replica(model: nn.Module, x: Tensor, y: Tensor, steps: int, lr: float, sync) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        sync(model)
        opt.step()


# A rank joins the gloo group, takes its contiguous shard of the batch, and trains twice: once
# with our broadcast and all-reduce, once with DDP.
def worker(
    rank: int, world_size: int, init_method: str, out_dir: str, steps: int, lr: float, batch: int
) -> None:
    """One rank: join the group, train from scratch and with DDP, save rank 0's weights."""
    dist.init_process_group(
        "gloo",
        init_method=init_method,
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        # One intra-op thread per rank, so that ranks sharing a machine do not oversubscribe it.
        torch.set_num_threads(1)
        x, y = make_data(batch)
        if batch % world_size:
            raise ValueError(f"batch {batch} must be divisible by world_size {world_size}")
        shard = batch // world_size
        xs, ys = x[rank * shard : (rank + 1) * shard], y[rank * shard : (rank + 1) * shard]
        # Each rank initializes differently on purpose: only the broadcast makes them equal.
        ours = make_model(seed=rank)
        broadcast_parameters(ours)
        _train_replica(ours, xs, ys, steps, lr, allreduce_gradients)
        # DDP broadcasts rank 0's weights in its constructor and averages gradients in backward.
        ddp = nn.parallel.DistributedDataParallel(make_model(seed=rank))
        _train_replica(ddp, xs, ys, steps, lr, lambda m: None)
        states = {"ours": ours.state_dict(), "ddp": ddp.module.state_dict()}
        torch.save(states, Path(out_dir) / f"rank{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


# The launcher: gloo workers meet over TCP on a free local port and write their weights to a
# temporary directory, which the parent reads back.
def free_port() -> int:
    """A TCP port on localhost that was free a moment ago (bind to port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_data_parallel(
    world_size: int = 2, steps: int = 5, lr: float = 0.1, batch: int = 16, timeout: float = 120.0
) -> list[dict[str, dict[str, Tensor]]]:
    """Spawn `world_size` gloo workers; return each rank's `{"ours": ..., "ddp": ...}` weights.

    Raises `TimeoutError` (after terminating the workers) if they do not finish in `timeout` s.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    if batch % world_size:
        raise ValueError(
            f"batch {batch} must be divisible by world_size {world_size}: shards are equal"
        )
    # Spawn without joining, then poll, so that a stuck worker becomes a `TimeoutError` rather
    # than a hang.
    with tempfile.TemporaryDirectory() as out_dir:
        init = f"tcp://127.0.0.1:{free_port()}"
        ctx = mp.spawn(
            worker,
            args=(world_size, init, out_dir, steps, lr, batch),
            nprocs=world_size,
            join=False,
        )
        # Poll once a second; past the deadline, terminate the live workers and raise.
        deadline = time.monotonic() + timeout
        while not ctx.join(timeout=1.0):
            if time.monotonic() > deadline:
                for p in ctx.processes:
                    if p.is_alive():
                        p.terminate()
                raise TimeoutError(f"data-parallel workers did not finish within {timeout} s")
        return [
            torch.load(Path(out_dir) / f"rank{r}.pt", weights_only=True) for r in range(world_size)
        ]


def max_weight_difference(a: dict[str, Tensor], b: dict[str, Tensor]) -> float:
    """Largest absolute difference between two state dicts with the same keys."""
    return max((a[k] - b[k]).abs().max().item() for k in a)


if __name__ == "__main__":
    # Under torchrun: RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT come from the environment.
    rank = int(os.environ["RANK"])
    with tempfile.TemporaryDirectory() as d:
        worker(rank, int(os.environ["WORLD_SIZE"]), "env://", d, 5, 0.1, 16)
        if rank == 0:
            got = torch.load(Path(d) / "rank0.pt", weights_only=True)
            ref = train_single_process()
            print("max |ours - single| =", max_weight_difference(got["ours"], ref))
            print("max |ours - DDP|    =", max_weight_difference(got["ours"], got["ddp"]))
