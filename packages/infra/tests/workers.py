"""Worker functions run on real gloo processes by the `launch` fixture (see conftest.py).

Run as `python workers.py <name> <out_dir> [args]` with torchrun's environment variables; each
rank saves its results to `<out_dir>/rank<r>.pt`. The shared models and data live here so that
the tests' single-process references build exactly the same ones.
"""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

STEPS, B = 10, 3  # steps of training, rows per rank per step


def mlp(seed: int = 0) -> nn.Module:
    # Row counts 10 and 3 do not divide by 4 (or 3 by 2): the shards need padding.
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 10), nn.LayerNorm(10), nn.Tanh(), nn.Linear(10, 3))


def batch(step: int, world: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The combined batch of one step, `(W * B, 6)` inputs and `(W * B,)` class labels."""
    g = torch.Generator().manual_seed(1000 + step)
    return torch.randn(world * B, 6, generator=g), torch.randint(0, 3, (world * B,), generator=g)


def groups(params):
    params = list(params)
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def _local(step, rank, world):
    x, y = batch(step, world)
    return x[rank * B : (rank + 1) * B], y[rank * B : (rank + 1) * B]


def sharding(out: Path) -> None:
    from torch.distributed.optim import ZeroRedundancyOptimizer

    from masterclass.infra.sharding import (
        FullyShardedModule,
        ZeroOptimizer,
        optimizer_state_bytes,
    )

    rank, world = dist.get_rank(), dist.get_world_size()
    loss_fn = nn.functional.cross_entropy
    results = {}
    for stage in (1, 2):
        model = mlp()
        opt = ZeroOptimizer(groups(model.parameters()), torch.optim.AdamW, stage=stage, lr=1e-2)
        for step in range(STEPS):
            x, y = _local(step, rank, world)
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        results[f"zero{stage}"] = {k: v.clone() for k, v in model.state_dict().items()}
        results[f"zero{stage}_state_bytes"] = optimizer_state_bytes(opt.optimizer)
    fsdp = FullyShardedModule(mlp())
    opt = torch.optim.AdamW(groups(fsdp.parameters()), lr=1e-2)
    for step in range(STEPS):
        x, y = _local(step, rank, world)
        opt.zero_grad()
        loss_fn(fsdp(x), y).backward()
        opt.step()
    results["zero3"] = fsdp.full_state_dict()
    results["zero3_state_bytes"] = optimizer_state_bytes(opt)
    results["zero3_param_bytes"] = sum(p.numel() * p.element_size() for p in fsdp.parameters())
    # PyTorch's ZeroRedundancyOptimizer (ZeRO-1), gradients all-reduced by hand.
    model = mlp()
    g = groups(model.parameters())
    zro = ZeroRedundancyOptimizer(g[0]["params"], torch.optim.AdamW, lr=1e-2, weight_decay=0.1)
    zro.add_param_group(g[1])
    for step in range(STEPS):
        x, y = _local(step, rank, world)
        zro.zero_grad()
        loss_fn(model(x), y).backward()
        for p in model.parameters():
            dist.all_reduce(p.grad)
            p.grad /= world
        zro.step()
    results["torch_zero"] = {k: v.clone() for k, v in model.state_dict().items()}
    # PyTorch's FSDP2.
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    model = mlp()
    fully_shard(model, mesh=init_device_mesh("cpu", (world,)))
    opt = torch.optim.AdamW(groups(model.parameters()), lr=1e-2)
    for step in range(STEPS):
        x, y = _local(step, rank, world)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    results["fsdp2"] = {k: v.full_tensor().clone() for k, v in model.state_dict().items()}
    torch.save(results, out / f"rank{rank}.pt")


def broadcast(out: Path) -> None:
    from masterclass.infra.data_parallel import broadcast_parameters, init_distributed

    ctx = init_distributed()
    model = mlp(seed=100 + ctx.rank)  # every rank starts from different weights
    before = {k: v.clone() for k, v in model.state_dict().items()}
    broadcast_parameters(model, ctx)
    torch.save({"before": before, "after": model.state_dict()}, out / f"rank{ctx.rank}.pt")


if __name__ == "__main__":
    torch.set_num_threads(1)
    name, out = sys.argv[1], Path(sys.argv[2])
    dist.init_process_group("gloo")
    try:
        globals()[name](out, *sys.argv[3:])
    finally:
        dist.destroy_process_group()
