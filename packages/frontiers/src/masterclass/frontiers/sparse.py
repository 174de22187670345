r"""# Sparse models: switch routing, expert choice and expert parallelism

`llm`'s mixture-of-experts chapter routes each token to its top-$k$ experts and drops what
overflows an expert's buffer. This chapter goes beyond it in three directions, reusing that
chapter's `MoE` (its router, experts and load-balancing loss) rather than writing another.

**Switch routing** (Fedus et al., 2021) is top-1 with the raw router probability as gate,
$y = p_e(x)\, \mathrm{FFN}_e(x)$ for $e = \arg\max p(x)$, and a *capacity*
$C = \lceil c\, N / E \rceil$ tokens per expert ($c$ = capacity factor). Tokens past the
$C$-th routed to an expert are *dropped*: the layer outputs 0 for them and only the residual
connection carries them on. `switch_moe` is `llm`'s `MoE` with `top_k=1`,
`normalize_top_k=False`. The dropless layer (MegaBlocks, Gale et al., 2023) is the limit
$c \to \infty$; already at $c = E$ no expert can overflow ($C = N$), and the output is *exactly*
the dropless one, which the test checks.

**Expert choice** (Zhou et al., 2022) turns routing around: instead of every token choosing $k$
experts, every expert chooses its $C = cN/E$ favourite tokens, by the same router scores
$S = \mathrm{softmax}(X W_r)$ `(N, E)` read down a column:

$$ I_e = \operatorname{top}_C\big(S_{:,e}\big), \qquad
   y_n = \sum_{e\,:\,n \in I_e} S_{n,e}\, \mathrm{FFN}_e(x_n). $$

Load balance is perfect by construction (each expert processes exactly $C$ tokens), with no
auxiliary loss; a token may be chosen by several experts or by none. The price: the choice of
token $n$ depends on the other tokens in the batch, so the rule is not causal, which is why it
suits encoders and training more than autoregressive decoding.

**Expert parallelism** (GShard, Lepikhin et al., 2021). With $E$ experts on $W$ devices, each
device holds $E/W$ experts and its own share of the tokens. A forward pass is

1. route locally: each token's $k$ (expert, weight) pairs;
2. sort the assignments by the device that owns the expert and exchange the counts, then the token
   vectors, with one `all_to_all`: device $i$'s $j$-th block goes to device $j$;
3. run the local experts on what arrived;
4. a second `all_to_all` sends every result back to where its token lives, where it is weighted and
   summed, as in the single-device layer.

`expert_parallel_forward` does this over `torch.distributed` (gloo on the CPU; NCCL on GPUs runs
the same code), and `run_expert_parallel` spawns two processes on 127.0.0.1 and checks the
output against one process running the whole `MoE`.

![Tokens per expert: token choice with capacity against expert choice](figures/moe_routing.png)

References: Fedus, Zoph, Shazeer, *Switch Transformers*, 2021, https://arxiv.org/abs/2101.03961;
Zhou et al., *Mixture-of-experts with expert choice routing*, 2022,
https://arxiv.org/abs/2202.09368; Lepikhin et al., *GShard*, 2021, https://arxiv.org/abs/2006.16668;
Gale et al., *MegaBlocks: efficient sparse training with mixture-of-experts*, 2023,
https://arxiv.org/abs/2211.15841.

Left out: block-sparse kernels that make dropless fast, capacity with expert parallelism (here
dropless), overlapping communication with compute, and the backward pass of the distributed layer
(`torch.distributed.nn` provides differentiable collectives).

>>> moe = expert_choice_moe(8, 16, n_experts=4, capacity_factor=1.0)
>>> y, counts = moe(torch.randn(2, 6, 8))
>>> y.shape, counts.tolist()
(torch.Size([2, 6, 8]), [3, 3, 3, 3])

## Exercises

1. Write `switch_capacity(n_tokens, n_experts, capacity_factor)` and `dropped(expert_ids,
   capacity)`: which tokens a Switch layer drops, first come first served.
   Check it: `uv run pytest --exercise frontiers.sparse`
2. Write `expert_choice_assign(scores, capacity)` returning the `(E, C)` token ids each expert
   picks from scores `(N, E)`. Check it: `uv run pytest --exercise frontiers.sparse`
3. Write `send_counts(expert_ids, n_experts, world)`: how many assignments a rank sends to each
   rank when rank $r$ holds experts $rE/W .. (r+1)E/W - 1$. Check it: `uv run pytest --exercise frontiers.sparse`
"""

from __future__ import annotations

import math
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor

# Both layers reuse the `llm` chapter's `MoE`: its router and experts, with the routing rule
# changed.
from masterclass.llm.moe import MoE


def switch_moe(d_model: int, d_ff: int, n_experts: int, capacity_factor: float | None) -> MoE:
    r"""A Switch layer: `llm`'s `MoE` with top-1 routing, the raw probability as gate, and capacity
    $\lceil c N / E \rceil$ (`None` = dropless)."""
    return MoE(
        d_model, d_ff, n_experts, top_k=1, capacity_factor=capacity_factor, normalize_top_k=False
    )


class ExpertChoiceMoE(MoE):
    """Expert-choice routing over `llm`'s `MoE` router and experts: `(B, T, C) -> (B, T, C)`.

    `forward` returns the output and the number of tokens each expert processed `(E,)`.
    """

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        r"""Every expert takes its top-`C` tokens by router probability, $C = \lceil cN/E \rceil$."""
        # Each expert takes the same number of tokens, `capacity`, so the load is balanced by
        # construction; a token may be chosen by several experts or by none.
        B, T, C = x.shape
        flat = x.reshape(B * T, C)  # (N, C)
        N = flat.shape[0]
        capacity = min(N, math.ceil((self.capacity_factor or 1.0) * N / self.n_experts))
        scores = self.router(flat).float().softmax(dim=-1)  # (N, E)
        # Down each column: the expert's favourite tokens and their gates.
        gates, tokens = scores.T.topk(capacity, dim=-1)  # (E, C_e) each
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            y = expert(flat[tokens[e]]) * gates[e, :, None].to(flat.dtype)  # (C_e, C)
            out.index_add_(0, tokens[e], y)
        counts = torch.full((self.n_experts,), capacity, dtype=torch.long)
        return out.reshape(B, T, C), counts


def expert_choice_moe(
    d_model: int, d_ff: int, n_experts: int, capacity_factor: float = 1.0
) -> ExpertChoiceMoE:
    """An expert-choice layer where each expert processes `capacity_factor * N / E` tokens."""
    if capacity_factor <= 0:
        raise ValueError(f"capacity_factor must be positive, got {capacity_factor}")
    return ExpertChoiceMoE(d_model, d_ff, n_experts, top_k=1, capacity_factor=capacity_factor)


# ## Expert parallelism
#
# `moe` holds all experts' weights on every rank here (same seed), and each rank uses only its
# own slice $r E/W .. (r+1) E/W - 1$: that keeps the test's reference one line, and a real
# deployment would simply not allocate the others. Sorting the assignments by expert id also sorts
# them by owning rank, so the blocks of the send buffer are contiguous.


def expert_parallel_forward(moe: MoE, x: Tensor) -> Tensor:
    """Dropless top-k `MoE` forward of this rank's tokens `x` `(B, T, C)` with experts sharded
    over the default process group; equals `moe(x)[0]` run on all ranks' tokens at once."""
    if moe.capacity_factor is not None:
        raise ValueError(
            "expert_parallel_forward is dropless: build the MoE with capacity_factor=None"
        )
    # Experts are split into equal blocks of consecutive ids, one block per rank: expert e lives
    # on rank `e // per_rank`.
    world, rank = dist.get_world_size(), dist.get_rank()
    if moe.n_experts % world:
        raise ValueError(
            f"n_experts ({moe.n_experts}) must be divisible by the world size ({world})"
        )
    per_rank = moe.n_experts // world
    B, T, C = x.shape
    flat = x.reshape(B * T, C)  # (N, C)
    # Route every token (each of the k choices becomes one row to send), then sort the rows by
    # expert, which groups them by destination rank, as `all_to_all_single` needs.
    _, experts, weights = moe.route(flat)  # (N, k) each
    expert_ids = experts.reshape(-1)  # (N k,)
    token_ids = torch.arange(flat.shape[0]).repeat_interleave(moe.top_k)  # (N k,)
    order = expert_ids.argsort(stable=True)
    send_x = flat[token_ids[order]]  # (N k, C) grouped by destination rank
    send_e = expert_ids[order]  # (N k,)
    # Exchange how many rows each rank will receive, then the rows and their expert ids.
    send_counts = torch.bincount(send_e // per_rank, minlength=world)  # (W,)
    recv_counts = torch.empty_like(send_counts)
    dist.all_to_all_single(recv_counts, send_counts)
    s, r = send_counts.tolist(), recv_counts.tolist()
    recv_x = flat.new_empty(sum(r), C)
    dist.all_to_all_single(recv_x, send_x.contiguous(), r, s)
    recv_e = send_e.new_empty(sum(r))
    dist.all_to_all_single(recv_e, send_e, r, s)
    # Run the local experts on what arrived.
    result = torch.zeros_like(recv_x)
    for e in range(rank * per_rank, (rank + 1) * per_rank):
        sel = recv_e == e
        if bool(sel.any()):
            result[sel] = moe.experts[e](recv_x[sel])
    # Send the results home (the reverse exchange), then weight and sum per token.
    back = flat.new_empty(sum(s), C)
    dist.all_to_all_single(back, result, s, r)
    out = torch.zeros_like(flat)
    w = weights.reshape(-1)[order, None].to(flat.dtype)  # (N k, 1)
    out.index_add_(0, token_ids[order], back * w)
    return out.reshape(B, T, C)


# The test harness: a free local port for the gloo rendezvous, and the same seeded layer built on
# every rank and in the parent.
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_moe(seed: int, d_model: int, n_experts: int) -> MoE:
    torch.manual_seed(seed)
    return MoE(d_model, 2 * d_model, n_experts, top_k=2)


def _ep_worker(
    rank: int, world: int, port: int, seed: int, d_model: int, n_experts: int, queue
) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        moe = _make_moe(seed, d_model, n_experts)
        # Each rank's tokens come from its own seed: the ranks hold different data.
        x = torch.randn(2, 5 + rank, d_model, generator=torch.Generator().manual_seed(100 + rank))
        with torch.no_grad():
            y = expert_parallel_forward(moe, x)
        # numpy copies: a torch tensor would travel as a shared-memory handle that dies with us.
        queue.put((rank, x.numpy(), y.numpy()))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def run_expert_parallel(
    world: int = 2, *, seed: int = 0, d_model: int = 8, n_experts: int = 4, timeout: float = 120.0
) -> tuple[list[Tensor], list[Tensor], MoE]:
    """Spawn `world` gloo processes running `expert_parallel_forward`; returns each rank's inputs,
    outputs and the (identically seeded) layer, so the caller can compare with one process."""
    # Spawned workers (a fresh interpreter each, safe with threads) meet at a free local port; each
    # puts its inputs and outputs on the queue.
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=_ep_worker, args=(r, world, port, seed, d_model, n_experts, queue))
        for r in range(world)
    ]
    for p in procs:
        p.start()
    # Collect every rank's result, then reap the workers, killing any that hang; a non-zero exit
    # code means a worker failed, whatever reached the queue.
    try:
        results = dict((rank, (x, y)) for rank, x, y in (queue.get(timeout=timeout) for _ in procs))
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError(
            f"an expert-parallel worker failed: exit codes {[p.exitcode for p in procs]}"
        )
    xs = [torch.from_numpy(results[r][0]) for r in range(world)]
    ys = [torch.from_numpy(results[r][1]) for r in range(world)]
    return xs, ys, _make_moe(seed, d_model, n_experts)
