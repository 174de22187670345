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


def sharding(out: Path, compare: str = "yes") -> None:
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
    if compare != "yes":
        torch.save(results, out / f"rank{rank}.pt")
        return
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


# ## Tensor parallelism: a dense two-layer-norm transformer LM and its Megatron split
VOCAB, WIDTH, HEADS, SEQ = 13, 8, 4, 5  # 13 is divisible by neither 2 nor 4: padded vocabulary


class DenseLM(nn.Module):
    """One pre-norm block; the number of heads is inferred from the width of q (for DTensor)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        C = WIDTH
        self.head_dim = C // HEADS
        self.emb = nn.Embedding(VOCAB, C)
        self.ln1, self.ln2, self.ln_f = nn.LayerNorm(C), nn.LayerNorm(C), nn.LayerNorm(C)
        self.q, self.k, self.v, self.proj = (nn.Linear(C, C) for _ in range(4))
        self.fc, self.out = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
        self.head = nn.Linear(C, VOCAB, bias=False)
        self.double()

    def forward(self, idx):
        x = self.emb(idx)
        B, T, _ = x.shape
        h = self.ln1(x)
        q, k, v = (
            m(h).view(B, T, -1, self.head_dim).transpose(1, 2) for m in (self.q, self.k, self.v)
        )
        y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, -1))
        x = x + self.out(nn.functional.gelu(self.fc(self.ln2(x))))
        return self.head(self.ln_f(x))


def lm_batch(step: int, n: int):
    g = torch.Generator().manual_seed(2000 + step)
    return torch.randint(0, VOCAB, (n, SEQ + 1), generator=g)


# Dimension along which each parameter is split (None: replicated).
_SPLIT = {
    "emb.weight": 0,
    "attn.q.weight": 0,
    "attn.q.bias": 0,
    "attn.k.weight": 0,
    "attn.k.bias": 0,
    "attn.v.weight": 0,
    "attn.v.bias": 0,
    "attn.proj.weight": 1,
    "mlp.fc.weight": 0,
    "mlp.fc.bias": 0,
    "mlp.out.weight": 1,
    "head.weight": 0,
}
_DENSE_NAME = {
    "attn.q": "q",
    "attn.k": "k",
    "attn.v": "v",
    "attn.proj": "proj",
    "mlp.fc": "fc",
    "mlp.out": "out",
}


class TPLM(nn.Module):
    def __init__(self, dense: DenseLM, group=None) -> None:
        from masterclass.infra.tensor_parallel import (
            ColumnParallelLinear,
            ParallelAttention,
            ParallelMLP,
            VocabParallelEmbedding,
            padded_vocab_size,
        )

        super().__init__()
        world = dist.get_world_size(group)
        self.emb = VocabParallelEmbedding(dense.emb.weight, group)
        self.ln1, self.ln2, self.ln_f = (nn.LayerNorm(WIDTH).double() for _ in range(3))
        for mine, theirs in ((self.ln1, dense.ln1), (self.ln2, dense.ln2), (self.ln_f, dense.ln_f)):
            mine.load_state_dict(theirs.state_dict())
        self.attn = ParallelAttention(dense.q, dense.k, dense.v, dense.proj, HEADS, group)
        self.mlp = ParallelMLP(dense.fc, dense.out, group)
        w = dense.head.weight.detach()
        pad = w.new_zeros(padded_vocab_size(VOCAB, world) - VOCAB, WIDTH)
        self.head = ColumnParallelLinear(torch.cat([w, pad]), None, group)

    def forward(self, idx):
        x = self.emb(idx)
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return self.head(self.ln_f(x))  # (B, T, V_p / T) local slice

    def dense_state(self, group=None) -> dict:
        out = {}
        world = dist.get_world_size(group)
        for name, p in self.named_parameters():
            dim = _SPLIT.get(name)
            t = p.detach()
            if dim is not None:
                parts = [torch.empty_like(t) for _ in range(world)]
                dist.all_gather(parts, t.contiguous(), group=group)
                t = torch.cat(parts, dim=dim)
                if name in ("emb.weight", "head.weight"):
                    t = t[:VOCAB]
            prefix, _, leaf = name.rpartition(".")
            out[f"{_DENSE_NAME.get(prefix, prefix)}.{leaf}"] = t.clone()
        return out


def tensor_parallel(out: Path, steps: str = "10") -> None:
    """TP over the whole world (W = 2), or DP x TP with TP = 2 when W = 4."""
    from masterclass.infra.tensor_parallel import gather_last_dim, vocab_parallel_cross_entropy

    rank, world = dist.get_rank(), dist.get_world_size()
    tp = 2
    tp_groups = [dist.new_group(list(range(i, i + tp))) for i in range(0, world, tp)]
    dp_groups = [dist.new_group(list(range(j, world, tp))) for j in range(tp)]
    tp_group, dp_group = tp_groups[rank // tp], dp_groups[rank % tp]
    dp, dp_rank = world // tp, rank // tp
    model = TPLM(DenseLM(), tp_group)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    results = {"losses": []}
    per = 2  # sequences per data-parallel replica
    for step in range(int(steps)):
        data = lm_batch(step, per * dp)[dp_rank * per : (dp_rank + 1) * per]
        x, y = data[:, :-1], data[:, 1:]
        local = model(x)  # (B, T, V_p / T)
        if step == 0:
            results["logits"] = gather_last_dim(local, tp_group)[..., :VOCAB].detach().clone()
        loss = vocab_parallel_cross_entropy(
            local.reshape(-1, local.shape[-1]), y.reshape(-1), VOCAB, tp_group
        )
        opt.zero_grad()
        loss.backward()
        if dp > 1:
            for p in model.parameters():
                dist.all_reduce(p.grad, group=dp_group)
                p.grad /= dp
            loss = loss.detach().clone()
            dist.all_reduce(loss, group=dp_group)
            loss /= dp
        results["losses"].append(float(loss))
        opt.step()
    results["weights"] = model.dense_state(tp_group)
    if world == 2:
        results["dtensor_logits"] = _dtensor_logits()
    torch.save(results, out / f"rank{rank}.pt")


def _dtensor_logits():
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )

    dense = DenseLM()
    plan = {
        "q": ColwiseParallel(),
        "k": ColwiseParallel(),
        "v": ColwiseParallel(),
        "proj": RowwiseParallel(),
        "fc": ColwiseParallel(),
        "out": RowwiseParallel(),
    }
    parallelize_module(dense, init_device_mesh("cpu", (dist.get_world_size(),)), plan)
    data = lm_batch(0, 2)
    return dense(data[:, :-1]).detach().clone()


# ## Pipeline parallelism: two stages of a small MLP, float64
MICRO, MICRO_ROWS = 4, 2


def pipeline_stages(seed: int = 0) -> list[nn.Module]:
    torch.manual_seed(seed)
    return [
        nn.Sequential(nn.Linear(6, 8), nn.Tanh()).double(),
        nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3)).double(),
    ]


def pipeline_batch():
    g = torch.Generator().manual_seed(3000)
    x = torch.randn(MICRO * MICRO_ROWS, 6, generator=g, dtype=torch.float64)
    return x, torch.randint(0, 3, (MICRO * MICRO_ROWS,), generator=g)


def pipeline(out: Path) -> None:
    from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe

    from masterclass.infra.pipeline import gpipe_schedule, one_f_one_b_schedule, run_pipeline_step

    rank, world = dist.get_rank(), dist.get_world_size()
    x, y = pipeline_batch()
    xs, ys = list(x.chunk(MICRO)), list(y.chunk(MICRO))
    loss_fn = nn.functional.cross_entropy
    results = {}
    for name, make in (("gpipe", gpipe_schedule), ("1f1b", one_f_one_b_schedule)):
        stage = pipeline_stages()[rank]
        loss = run_pipeline_step(
            stage,
            make(world, MICRO)[rank],
            rank,
            world,
            xs,
            ys,
            loss_fn,
            lambda s: (MICRO_ROWS, 8),
            dtype=torch.float64,
        )
        results[name] = {
            "loss": loss,
            "grads": {k: p.grad.clone() for k, p in stage.named_parameters()},
        }
    # torch.distributed.pipelining: it divides the summed gradients by m itself (scale_grads).
    for name, cls in (("torch_gpipe", ScheduleGPipe), ("torch_1f1b", Schedule1F1B)):
        stage = pipeline_stages()[rank]
        pipe = PipelineStage(stage, rank, world, torch.device("cpu"))
        sched = cls(pipe, n_microbatches=MICRO, loss_fn=loss_fn)
        losses = []
        if rank == 0:
            sched.step(x)
        else:
            sched.step(target=y, losses=losses)
        results[name] = {
            "loss": sum(float(v) for v in losses) / MICRO if losses else None,
            "grads": {k: p.grad.clone() for k, p in stage.named_parameters()},
        }
    torch.save(results, out / f"rank{rank}.pt")


def ring_sum(grads: list[torch.Tensor], world: int) -> torch.Tensor:
    """The ring reduce-scatter's order, written independently of the chapter: chunk c is
    (((g_{c+1} + g_{c+2}) + ...) + g_c), rows of chunk c = [c * rows, (c + 1) * rows)."""
    d0 = grads[0].shape[0] if grads[0].dim() else 1
    flat = [g.reshape(d0, -1) for g in grads]
    rows = -(-d0 // world)
    out = torch.empty_like(flat[0])
    for c in range(world):
        sl = slice(c * rows, min((c + 1) * rows, d0))
        acc = flat[(c + 1) % world][sl].clone()
        for k in range(2, world + 1):
            acc = acc + flat[(c + k) % world][sl]
        out[sl] = acc
    return out.view_as(grads[0])


def ring_reference_step(model, opt, step: int, world: int) -> None:
    """One process, one step: the W micro-batch gradients summed in ring order, then `opt`."""
    x, y = batch(step, world)
    per_rank = []
    for r in range(world):
        model.zero_grad()
        sl = slice(r * B, (r + 1) * B)
        nn.functional.cross_entropy(model(x[sl]), y[sl]).backward()
        per_rank.append([p.grad.clone() for p in model.parameters()])
    for i, p in enumerate(model.parameters()):
        p.grad = ring_sum([g[i] for g in per_rank], world) / world
    opt.step()


def reshard(out: Path) -> None:
    """ZeRO-3 on W ranks for 5 steps, then a sharded checkpoint (ours) and a DCP one."""
    import torch.distributed.checkpoint as dcp

    from masterclass.infra.sharded_checkpoint import save_sharded_checkpoint
    from masterclass.infra.sharding import FullyShardedModule

    rank, world = dist.get_rank(), dist.get_world_size()
    fsdp = FullyShardedModule(mlp())
    opt = torch.optim.AdamW(groups(fsdp.parameters()), lr=1e-2)
    for step in range(5):
        x, y = _local(step, rank, world)
        opt.zero_grad()
        nn.functional.cross_entropy(fsdp(x), y).backward()
        opt.step()
    save_sharded_checkpoint(out / "ckpt", fsdp, opt, step=5)
    dcp.save({"model": fsdp.full_state_dict()}, checkpoint_id=str(out / "dcp"))
    torch.save({"dir": str(out)}, out / f"rank{rank}.pt")


if __name__ == "__main__":
    torch.set_num_threads(1)
    name, out = sys.argv[1], Path(sys.argv[2])
    dist.init_process_group("gloo")
    try:
        globals()[name](out, *sys.argv[3:])
    finally:
        dist.destroy_process_group()
