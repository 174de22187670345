r"""# Data parallelism: the same model on every process, different data

The simplest way to train on $W$ devices is to give each a full copy of the model and a different
slice of every batch. Rank $r$ computes the gradient $g^{(r)}$ of its mean loss over its $B$
examples; averaging over ranks,
$$\bar g = \frac{1}{W}\sum_{r=0}^{W-1} g^{(r)}
         = \nabla_\theta \frac{1}{WB}\sum_{i=1}^{WB} \ell_i ,$$
is exactly the gradient of the mean loss over the combined batch of $WB$ examples. If every rank
starts from the same weights and applies the same optimizer step to the same $\bar g$, the
copies stay identical forever, and the run is equivalent to one process with a $W$ times larger
batch (up to the order of floating-point sums).

The average is an **all-reduce**: a collective after which every rank holds the sum of every
rank's tensor. Ring all-reduce moves $2\frac{W-1}{W}N$ numbers per rank for $N$ parameters,
independent of $W$, which is why data parallelism scales. `torch.distributed` provides it over
*gloo* (CPUs, TCP) and *NCCL* (GPUs, NVLink/InfiniBand); the code is the same.

`torchrun --nproc_per_node=W script.py` starts $W$ processes and sets `RANK`, `WORLD_SIZE`,
`LOCAL_RANK`, `MASTER_ADDR` and `MASTER_PORT` in each; `init_distributed` reads them.

**The arithmetic on one process.** A global batch of 8 examples split over $W = 4$ ranks gives
each rank 2; the mean of the four per-rank gradients (what the all-reduce computes, a sum
divided by $W$) is the gradient of the whole batch, up to float64 rounding. Alone, a process
needs no collective: its context has `world_size == 1` and averaging is the identity. The ring's
traffic per rank, $2\frac{W-1}{W}N$, approaches $2N$ and never exceeds it:

>>> _ = torch.manual_seed(0)
>>> model = nn.Linear(3, 1, dtype=torch.float64)
>>> x, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64)
>>> def gradient(xb, yb):
...     model.zero_grad()
...     nn.functional.mse_loss(model(xb), yb).backward()
...     return torch.cat([p.grad.reshape(-1) for p in model.parameters()])
>>> whole = gradient(x, y)  # one process, batch 8
>>> per_rank = [gradient(xb, yb) for xb, yb in zip(x.chunk(4), y.chunk(4))]  # 4 ranks, batch 2
>>> torch.allclose(sum(per_rank) / 4, whole, rtol=1e-12, atol=0)
True
>>> alone = DistributedContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"),
...                            backend="")
>>> alone.is_main, torch.equal(all_reduce_mean(whole, alone), whole)
(True, True)
>>> [2 * (w - 1) / w for w in (2, 4, 8, 64)]  # elements sent per rank, in units of N
[1.0, 1.5, 1.75, 1.96875]

The average is the big batch's gradient only when every rank holds as many examples; exercise 1
is the general case.

Left out: PyTorch's `DistributedDataParallel`, which does the same all-reduce in buckets that
overlap with the backward pass (faster, same result), sharded data parallelism (ZeRO/FSDP:
optimizer state, gradients and weights split across ranks, the [next chapter](sharding.md)), and
tensor/pipeline parallelism. Module 3's [data-parallel chapter](../nn/data_parallel.md) has the
per-tensor version of the collective.

## Exercises

1. Write `combine_gradients(grads, counts)`: rank $r$ holds `counts[r]` examples and `grads[r]`,
   the gradient of its *mean* loss; return the gradient of the mean loss over all the examples
   (the plain average is right only when the counts are equal). Check it (against autograd on
   the whole batch): `uv run pytest --exercise infra.data_parallel`.
2. Write `ring_traffic(n, world_size)`: the number of elements each rank sends in a ring
   all-reduce (a reduce-scatter, then an all-gather) of `n` elements cut into `world_size` chunks
   by `np.array_split`, as a list indexed by rank. Check it (against a simulated ring):
   `uv run pytest --exercise infra.data_parallel`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from masterclass.nn.data_parallel import broadcast_parameters as _nn_broadcast_parameters

__all__ = [
    "DistributedContext",
    "all_reduce_gradients",
    "all_reduce_mean",
    "broadcast_parameters",
    "init_distributed",
]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in a (possibly single-process) run."""

    # This process's index in [0, world_size).
    rank: int
    # Number of processes.
    world_size: int
    # Index of this process on its machine (selects the GPU).
    local_rank: int
    # The device this process computes on.
    device: torch.device
    # "gloo", "nccl" or "" when running alone.
    backend: str

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes files and logs."""
        return self.rank == 0


def init_distributed(device: str | torch.device | None = None) -> DistributedContext:
    """Join the process group described by torchrun's environment variables, if any.

    Without `WORLD_SIZE` (or with `WORLD_SIZE=1`) nothing is initialised and a single-process
    context is returned. With several processes, the backend is NCCL when the device is CUDA and
    gloo otherwise; on CUDA each process takes GPU `LOCAL_RANK`.
    """
    # On CUDA with several processes each one takes the GPU of its local rank; a single process
    # needs no process group at all.
    initialised = dist.is_available() and dist.is_initialized()
    world_size = dist.get_world_size() if initialised else int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and world_size > 1:
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if world_size == 1:
        return DistributedContext(0, 1, 0, dev, "")
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not initialised:
        dist.init_process_group(backend=backend)
    return DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, dev, backend)


# ## Keeping the copies identical
#
# Rank 0's initial weights are broadcast once (in case ranks initialised differently), with the
# collective of Module 3's data-parallel chapter, and after every backward pass the gradients are
# averaged. Parameters without a gradient are skipped on every rank alike; a tied weight appears once
# in `parameters()`, so it is reduced once.
def broadcast_parameters(model: nn.Module, ctx: DistributedContext) -> None:
    """Copy rank 0's parameters and buffers to every rank (nothing to do when running alone)."""
    if ctx.world_size > 1:
        _nn_broadcast_parameters(model, src=0)


# Module 3 all-reduces each gradient tensor on its own. Here the gradients are packed into one
# flat bucket first: one collective instead of one per tensor, which is what
# `DistributedDataParallel` does (in several buckets, overlapped with the backward pass).
def all_reduce_gradients(model: nn.Module, ctx: DistributedContext) -> None:
    """Replace every gradient by its mean over the ranks."""
    if ctx.world_size == 1:
        return
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    # One flat buffer, one collective: far fewer messages than one all-reduce per tensor.
    flat = torch.cat([g.reshape(-1) for g in grads])  # (N,)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= ctx.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def all_reduce_mean(value: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    """The mean of a tensor over the ranks (identity when running alone)."""
    if ctx.world_size == 1:
        return value
    out = value.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / ctx.world_size
