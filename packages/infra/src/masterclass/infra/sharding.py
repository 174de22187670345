r"""# Sharding strategies: ZeRO-1, ZeRO-2 and ZeRO-3 (FSDP)

Data parallelism (`data_parallel.py`) keeps a full copy of everything on every rank. For a model of
$N$ parameters trained with Adam in fp32 that is $4N$ bytes of weights, $4N$ of gradients and
$8N$ of optimizer moments per rank, $16N$ in all, and the $W$ copies are identical: $W - 1$ of
them are redundancy. The Zero Redundancy Optimizer (Rajbhandari et al., 2020) removes it in three
stages, each partitioning one more kind of state into $W$ shards, rank $r$ owning shard $r$:

| stage | sharded | bytes per rank | communication per step |
|---|---|---|---|
| DP | nothing | $16N$ | all-reduce of gradients, $2N$ |
| ZeRO-1 | optimizer state | $8N + 8N/W$ | same |
| ZeRO-2 | + gradients | $4N + 12N/W$ | reduce-scatter $N$ + all-gather $N$ |
| ZeRO-3 / FSDP | + parameters | $16N/W$ (+ one gathered unit) | all-gather $N$ (forward) + reduce-scatter $N$ (backward) + all-gather $N$ (backward, in FSDP) |

(communication counted in elements sent per rank, up to the factor $\frac{W-1}{W}$.)

![Memory per rank of a 7B model on 8 ranks under DP and ZeRO-1, 2, 3](figures/zero_memory.png)

**Why it is exact.** Adam and AdamW are *elementwise*: the update of parameter element $i$ needs
only $g_i$, $m_i$, $v_i$ and $\theta_i$. So the rank that owns rows $[rc, (r+1)c)$ of a tensor can
update them alone, given the averaged gradient of those rows; an all-gather then gives every rank
the new full tensor. An all-reduce is a reduce-scatter followed by an all-gather, so ZeRO-2 moves
no more data than plain data parallelism: the reduce-scatter delivers each rank exactly the rows it
updates, and the all-gather of updated parameters replaces the all-gather half of the all-reduce.

**ZeRO-3** keeps only the shard of each parameter between steps. The forward pass all-gathers the
full parameter, and its backward reduce-scatters the gradient straight into the shard: an autograd
function whose forward is `all_gather` and whose backward is `reduce_scatter`, exactly as PyTorch's
FSDP does. The optimizer is then an ordinary optimizer over the shards.

**The ring reduce-scatter, and bitwise reproducibility.** The collectives are written here from
point-to-point messages so that the order of the floating-point sums is known. The gradient is cut
into $W$ chunks; at step $s = 0 \dots W-2$ rank $r$ sends its running sum of chunk
$(r - s - 1) \bmod W$ to rank $r+1$ and adds its own gradient to the chunk it receives. After
$W - 1$ steps rank $r$ holds chunk $r$ summed as
$$ (\dots((g_{r+1} + g_{r+2}) + g_{r+3}) + \dots) + g_r \quad (\text{indices mod } W). $$
Each rank sends $\frac{W-1}{W}$ of the tensor in all, whatever $W$. Because the order is fixed, one
process that computes the $W$ micro-batch gradients and adds them in that order gets *bitwise* the
same parameters: the tests check `torch.equal` after 10 AdamW steps on 2 and 4 ranks.

Shards split dimension 0 (as FSDP2 does), padded with zero rows to a multiple of $W$, so a
parameter keeps its number of dimensions and weight-decay groups chosen by `p.dim()` still work.

References: S. Rajbhandari et al., *ZeRO: Memory Optimizations Toward Training Trillion Parameter
Models*, SC 2020, <https://arxiv.org/abs/1910.02054>; Y. Zhao et al., *PyTorch FSDP*, VLDB 2023,
<https://arxiv.org/abs/2304.11277>; P. Patarasuk and X. Yuan, *Bandwidth optimal all-reduce
algorithms*, 2009 (the ring).

Left out: wrapping each block as its own FSDP unit (here the whole model is one unit, so the full
parameters exist during the forward pass; FSDP gathers one block at a time and frees it after),
prefetching and overlap of communication with compute, CPU offload, mixed-precision shards.

**A worked example, on one process.** A tensor of 5 rows on $W = 2$ ranks is padded to 6 and
cut into two chunks of $c = 3$ rows; rank 1's chunk ends with a zero row. The table for a model
of 7 billion parameters on 8 ranks, in GiB per rank: plain data parallelism does not fit on an
80 GiB device, ZeRO-3 fits on a small one (activations not counted). And with $W = 1$ the ZeRO
optimizer *is* its inner optimizer (every rank owns everything): three steps of ZeRO-2 around
AdamW leave the weights bitwise equal to AdamW's, with the same optimizer state, two moments of
$4 \cdot 3 + 3$ floats and two 4-byte step counters:

>>> pad_rows(torch.arange(1.0, 6.0), 2)
tensor([[1., 2., 3.],
        [4., 5., 0.]])
>>> N, W = 7e9, 8
>>> {stage: round(b / 2**30) for stage, b in
...  {"DP": 16 * N, "ZeRO-1": 8 * N + 8 * N / W, "ZeRO-2": 4 * N + 12 * N / W,
...   "ZeRO-3": 16 * N / W}.items()}
{'DP': 104, 'ZeRO-1': 59, 'ZeRO-2': 36, 'ZeRO-3': 13}
>>> _ = torch.manual_seed(0)
>>> a = nn.Linear(4, 3)
>>> b = nn.Linear(4, 3)
>>> b.load_state_dict(a.state_dict())
<All keys matched successfully>
>>> zero = ZeroOptimizer(a.parameters(), torch.optim.AdamW, stage=2, lr=0.1)
>>> plain = torch.optim.AdamW(b.parameters(), lr=0.1)
>>> for _ in range(3):
...     x = torch.randn(8, 4)
...     for model, opt in ((a, zero), (b, plain)):
...         opt.zero_grad()
...         model(x).pow(2).mean().backward()
...         opt.step()
>>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
True
>>> optimizer_state_bytes(zero.optimizer), optimizer_state_bytes(plain)
(128, 128)

## Exercises

1. Write `zero_bytes_per_rank(n_params, world_size, stage)`: the bytes of fp32 weights, gradients
   and Adam moments one rank holds at stage 0 (plain DP), 1, 2 or 3, ignoring padding.
   Check it: `uv run pytest --exercise infra.sharding`
2. Write `ring_sum(grads, chunk)`: given the list of $W$ per-rank tensors, the value of chunk
   `chunk` after the ring reduce-scatter, added in the ring's order.
   Check it: `uv run pytest --exercise infra.sharding`
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

# The helpers and collectives everything is built from (padding, gathers, the ring reduce-scatter,
# the sharded norm), the optimizer wrapper of ZeRO stages 1 and 2, and the module wrapper of stage
# 3.
__all__ = [
    "FullyShardedModule",
    "ZeroOptimizer",
    "all_gather_rows",
    "optimizer_state_bytes",
    "pad_rows",
    "ring_reduce_scatter",
    "sharded_grad_norm",
]


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


# ## Rows, chunks and padding
#
# A tensor of $d_0$ rows is padded to $Wc$ rows, $c = \lceil d_0 / W \rceil$, and viewed as $W$
# chunks of $c$ rows; rank $r$ owns chunk $r$.
def pad_rows(t: Tensor, world_size: int) -> Tensor:
    """`t` of shape `(d0, *rest)` zero-padded and viewed as `(W, c, *rest)`, `c = ceil(d0 / W)`."""
    d0 = t.shape[0] if t.dim() else 1
    t = t.reshape(d0, *t.shape[1:])
    c = math.ceil(d0 / world_size)
    if c * world_size != d0:
        t = torch.cat([t, t.new_zeros(c * world_size - d0, *t.shape[1:])])
    return t.view(world_size, c, *t.shape[1:])  # (W, c, *rest)


# ## The two collectives
#
# The ring reduce-scatter of the derivation, from `isend`/`irecv`; each step's send and receive
# are posted together so that no rank waits on another's send.
def ring_reduce_scatter(chunks: Tensor) -> Tensor:
    """Sum over ranks of `chunks[rank]`, for `chunks` of shape `(W, c, ...)`, in ring order."""
    rank, world = _world()
    if chunks.shape[0] != world:
        raise ValueError(f"chunks has {chunks.shape[0]} chunks but the world size is {world}")
    # Rank r starts with its copy of chunk r - 1 and sends it along the ring. At every step it
    # receives a partial sum from its left neighbour, adds its own copy of that chunk and passes it
    # on; after W - 1 steps what arrives is chunk r summed over all ranks. Each step moves 1/W of
    # the data over every link.
    acc = chunks[(rank - 1) % world].clone()
    for s in range(world - 1):
        buf = torch.empty_like(acc)
        reqs = [dist.isend(acc, (rank + 1) % world), dist.irecv(buf, (rank - 1) % world)]
        for req in reqs:
            req.wait()
        acc = buf + chunks[(rank - s - 2) % world]
    return acc  # (c, ...)


def all_gather_rows(shard: Tensor, d0: int) -> Tensor:
    """Every rank's `(c, ...)` shard concatenated, the padding dropped: `(d0, ...)`."""
    _, world = _world()
    if world == 1:
        return shard[:d0].clone()
    parts = [torch.empty_like(shard) for _ in range(world)]
    dist.all_gather(parts, shard.contiguous())
    return torch.cat(parts)[:d0]


# ## ZeRO-1 and ZeRO-2: shard the optimizer (and the gradients)
#
# The model stays whole. The optimizer is built over *shards*: for each parameter, a new leaf
# tensor holding this rank's rows. `step` reduces the gradients, hands each shard its averaged
# rows, steps the inner optimizer, and all-gathers the updated rows back into the full
# parameter. Stage 1 keeps the full averaged gradient on every rank (as plain DP does: a ring
# all-reduce is the reduce-scatter followed by an all-gather); stage 2 frees it once its rows are
# taken.
class ZeroOptimizer:
    """ZeRO stage 1 or 2 around `optimizer_class` (e.g. `torch.optim.AdamW`).

    `params` is an iterable of parameters or of parameter-group dicts, as for any optimizer;
    `**defaults` go to `optimizer_class`. Call `backward()` on the loss, then `step()`.
    """

    def __init__(
        self,
        params: Iterable[Any],
        optimizer_class: type[torch.optim.Optimizer] = torch.optim.AdamW,
        *,
        stage: int = 1,
        **defaults: Any,
    ) -> None:
        # Stage 3 shards the parameters too, which changes the forward pass: that is
        # `FullyShardedModule`, not an optimizer wrapper.
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2 (use FullyShardedModule for 3), got {stage!r}")
        self.stage = stage
        self.rank, self.world = _world()
        # The inner optimizer sees only shards: each rank's rows of every parameter (padded so that
        # the rows divide evenly), in the same groups with the same settings, so its state is 1/W
        # the size.
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.params: list[nn.Parameter] = []
        self.shards: list[Tensor] = []
        shard_groups = []
        for g in groups:
            shards = []
            for p in g["params"]:
                s = pad_rows(p.detach(), self.world)[self.rank].clone().requires_grad_(True)
                self.params.append(p)
                self.shards.append(s)
                shards.append(s)
            shard_groups.append({**g, "params": shards})
        self.optimizer = optimizer_class(shard_groups, **defaults)

    # The model keeps whole gradients, which the backward pass fills; `step` reduces them into the
    # shards.
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the full gradients of the model (the shards' are replaced every step)."""
        for p in self.params:
            p.grad = None if set_to_none else (p.grad.zero_() if p.grad is not None else None)

    @torch.no_grad()
    def step(self) -> None:
        """Reduce gradients, update this rank's rows, all-gather the new parameters."""
        # Reduce-scatter each gradient: this rank receives the sum of its own rows and divides by W
        # for the mean. Stage 1 still gathers the whole mean gradient back (gradients stay
        # replicated); stage 2 drops the full gradient, keeping only the shard.
        for p, s in zip(self.params, self.shards):
            if p.grad is None:
                s.grad = None
                continue
            chunks = pad_rows(p.grad, self.world)  # (W, c, ...)
            mine = ring_reduce_scatter(chunks) if self.world > 1 else chunks[0].clone()
            s.grad = mine / self.world
            if self.stage == 1:
                p.grad.copy_(all_gather_rows(s.grad, p.shape[0] if p.dim() else 1).view_as(p))
            else:
                p.grad = None
        # Each rank updates its rows; an all-gather gives every rank the whole new parameters.
        self.optimizer.step()
        for p, s in zip(self.params, self.shards):
            p.copy_(all_gather_rows(s, p.shape[0] if p.dim() else 1).view_as(p))


# ## ZeRO-3: the autograd function that gathers a parameter
#
# Forward: all-gather the rows (every rank computes with the full tensor). Backward: the gradient
# of the full tensor is reduce-scattered, so each rank receives the *sum over ranks* of its rows'
# gradients, divided by $W$ to average, in the shard's `.grad`.
class _GatherParameter(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, shard: Tensor, shape: torch.Size) -> Tensor:
        ctx.world = _world()[1]
        d0 = shape[0] if len(shape) else 1
        return all_gather_rows(shard, d0).view(shape)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        chunks = pad_rows(grad, ctx.world)  # (W, c, ...)
        mine = ring_reduce_scatter(chunks) if ctx.world > 1 else chunks[0].clone()
        return mine / ctx.world, None


# The wrapper's only parameters are the row shards; the gather above is what puts the whole weights
# back, one forward pass at a time.
class FullyShardedModule(nn.Module):
    """ZeRO-3 / FSDP: `module`'s parameters live as row shards; `forward` gathers them.

    `parameters()` yields the shards only: build any optimizer over them. The wrapped module's
    own parameter storage is freed. `full_state_dict()` gathers the whole model (every rank
    calls it); `load_full_state_dict` takes this rank's rows of a whole-model state dict.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.rank, self.world = _world()
        # Not registered as a submodule: its parameters must not appear in `parameters()`.
        object.__setattr__(self, "module", module)
        self.names: list[str] = []
        self.shapes: list[torch.Size] = []
        self.shards = nn.ParameterList()
        for name, p in module.named_parameters():
            self.names.append(name)
            self.shapes.append(p.shape)
            self.shards.append(nn.Parameter(pad_rows(p.detach(), self.world)[self.rank].clone()))
            p.data = torch.empty(0, dtype=p.dtype, device=p.device)

    # Dropout and the like follow the wrapper's train/eval mode.
    def train(self, mode: bool = True) -> FullyShardedModule:
        """Set train/eval mode on the wrapper and on the wrapped module."""
        super().train(mode)
        self.module.train(mode)
        return self

    # The forward pass gathers every parameter through an autograd function, whose backward
    # reduce-scatters the gradient into the shard; `functional_call` runs the wrapped module with
    # these gathered tensors in place of its (empty) own.
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Gather every parameter, then run the wrapped module with them."""
        full = {
            n: _GatherParameter.apply(s, shape)
            for n, s, shape in zip(self.names, self.shards, self.shapes)
        }
        return torch.func.functional_call(self.module, full, args, kwargs)

    # Whole-model state for checkpoints: gathering is a collective (every rank must call it);
    # loading keeps this rank's rows of each tensor.
    @torch.no_grad()
    def full_state_dict(self) -> dict[str, Tensor]:
        """Every parameter, whole, by its name in the wrapped module (a collective)."""
        return {
            n: all_gather_rows(s, shape[0] if len(shape) else 1).view(shape)
            for n, s, shape in zip(self.names, self.shards, self.shapes)
        }

    @torch.no_grad()
    def load_full_state_dict(self, state: dict[str, Tensor]) -> None:
        """Keep this rank's rows of each whole parameter in `state`."""
        missing = set(self.names) - set(state)
        if missing:
            raise ValueError(f"state is missing parameters {sorted(missing)}")
        for n, s in zip(self.names, self.shards):
            s.copy_(pad_rows(state[n].to(s.dtype), self.world)[self.rank])


# ## What the tables claim, measured
#
# Bytes of optimizer state on this rank: the sum over the tensors the optimizer keeps (Adam's
# `exp_avg` and `exp_avg_sq`; the 0-d `step` counters are counted too and are negligible).
def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held in `optimizer.state` tensors on this rank."""
    return sum(
        v.numel() * v.element_size()
        for state in optimizer.state.values()
        for v in state.values()
        if isinstance(v, Tensor)
    )


# Clipping by the global norm needs the norm of the whole gradient, which no rank has under
# ZeRO-2/3: each rank sums the squares of its rows (padding rows are zero) and one all-reduce adds
# the $W$ partial sums.
def sharded_grad_norm(shards: Iterable[Tensor]) -> Tensor:
    """The L2 norm of the gradient of all shards across all ranks (a collective)."""
    grads = [s.grad for s in shards if s.grad is not None]
    sq = sum((g.double().pow(2).sum() for g in grads), torch.zeros((), dtype=torch.float64))
    if _world()[1] > 1:
        dist.all_reduce(sq)
    return sq.sqrt()
