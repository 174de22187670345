r"""# Mixture of Experts

A mixture-of-experts (MoE) layer replaces the one feed-forward network of a block by $E$ experts
and a router that sends each token to only $k$ of them (Shazeer et al., 2017; Switch Transformer,
Fedus et al., 2021; Mixtral, Jiang et al., 2024). Parameters grow $E$-fold while the compute per
token grows only $k$-fold: Mixtral 8x7B holds 47B parameters and runs 13B per token.

**Routing.** The router is one linear map to $E$ logits; with $p = \operatorname{softmax}(W_r x)$,
the token goes to the $k$ experts of largest $p_e$, and the output is their weighted sum

$$ y = \sum_{e \in \operatorname{top}_k(p)} g_e\, \operatorname{FFN}_e(x), \qquad
   g_e = p_e / \textstyle\sum_{e' \in \operatorname{top}_k} p_{e'} $$

(Mixtral renormalizes the $k$ weights; Switch, with $k = 1$, uses $p_e$ itself:
`normalize_top_k=False`). Gradients reach the router through $g$.

**Load balance.** Left alone, a router collapses onto a few experts: those get trained, so they get
chosen more. The auxiliary loss of Switch (as in HF's `load_balancing_loss_func`) is

$$ \mathcal{L}_{aux} = E \sum_{e=1}^{E} f_e\, P_e, $$

with $f_e$ the fraction of tokens dispatched to expert $e$ (counting all $k$ choices) and $P_e$ the
mean router probability of $e$. It is minimal when both are uniform; $f$ is not differentiable but
$P$ is, and the product pushes probability away from overloaded experts.

**Capacity.** On accelerators each expert processes a fixed-size buffer of
$C = \lceil c \cdot N k / E \rceil$ tokens ($c$ = capacity factor, $N$ tokens in the batch).
Tokens routed to a full expert are *dropped* for that expert: they skip it and only the residual
connection carries them. `MoE` implements this rule (first come, first served in token order, as
in Switch) and reports the dropped fraction.

With one expert and $k = 1$ the layer is exactly its expert, a dense FFN: the test checks it, and
checks the layer against HF's `MixtralSparseMoeBlock` with copied weights.

![Tokens per expert during training, with and without the auxiliary loss](figures/moe_utilisation.png)

Left out: expert parallelism across devices (all-to-all dispatch), shared experts (DeepSeekMoE),
router z-loss, and expert-choice routing.

## Exercises

1. Write `route(router_logits, k)`: the $k$ chosen experts `(N, k)` of each token and their
   renormalized gates $g_e$. Check it: `uv run pytest --exercise llm.moe`.
2. Write `aux_loss(router_logits, k)`: $E \sum_e f_e P_e$. Show that it equals $k$ when routing is
   uniform, and find a router for which it is larger. Check it: `uv run pytest --exercise llm.moe`.
3. Write `capacity_keep(experts, n_experts, capacity_factor)`: a bool flag for each of the $N k$
   assignments, in token order, telling whether it fits in its expert's buffer of
   $C = \lceil c N k / E \rceil$ slots. Check it: `uv run pytest --exercise llm.moe`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.transformer.feedforward import FeedForward


@dataclass
class MoEStats:
    """What a forward pass of `MoE` reports besides its output."""

    # Switch/Mixtral load-balancing loss $E \sum_e f_e P_e$ (1 when perfectly balanced); differentiable.
    aux_loss: Tensor
    # Tokens dispatched to each expert after capacity, shape (E,).
    tokens_per_expert: Tensor
    # Fraction of the N k (token, expert) assignments dropped for lack of capacity.
    dropped_fraction: float
    # Router logits (N, E), for diagnostics and for HF's loss function.
    router_logits: Tensor


class MoE(nn.Module):
    """Top-k routed mixture of `n_experts` feed-forward networks, `(B, T, C) -> (B, T, C)`.

    >>> moe = MoE(8, 16, n_experts=4, top_k=2)
    >>> y, stats = moe(torch.randn(2, 3, 8))
    >>> y.shape, int(stats.tokens_per_expert.sum())
    (torch.Size([2, 3, 8]), 12)
    """

    # By default each expert is a SwiGLU network without biases, as in Mixtral, and no token is
    # dropped (no capacity).
    def __init__(
        self,
        d_model: int,
        d_ff: int,
        n_experts: int,
        top_k: int = 2,
        *,
        capacity_factor: float | None = None,
        normalize_top_k: bool = True,
        activation: str = "silu",
        gated: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        if not 1 <= top_k <= n_experts:
            raise ValueError(f"top_k must be in [1, n_experts={n_experts}], got {top_k}")
        if capacity_factor is not None and capacity_factor <= 0:
            raise ValueError(f"capacity_factor must be positive or None, got {capacity_factor}")
        # A router row per expert, and the experts themselves: ordinary feed-forward networks.
        self.n_experts, self.top_k = n_experts, top_k
        self.capacity_factor, self.normalize_top_k = capacity_factor, normalize_top_k
        self.router = nn.Linear(d_model, n_experts, bias=False)
        self.experts = nn.ModuleList(
            FeedForward(d_model, d_ff, activation, gated, bias) for _ in range(n_experts)
        )

    # Routing: a softmax over the experts in float32, the top `k`, and optionally weights
    # renormalized to sum to one over the chosen experts.
    def route(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Router logits `(N, E)`, chosen experts `(N, k)` and their gate weights `(N, k)`."""
        logits = self.router(x)  # (N, E)
        probs = logits.float().softmax(dim=-1)  # (N, E)
        weights, experts = probs.topk(self.top_k, dim=-1)  # (N, k) each
        if self.normalize_top_k:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        return logits, experts, weights

    # ## Dispatch with capacity
    #
    # The $N k$ assignments are flattened in token order (token 0's choices first). For each expert
    # a running count over that order gives each assignment its slot in the expert's buffer; an
    # assignment whose slot is $\ge C$ is dropped. The rest are grouped by expert, each expert runs
    # once on its tokens, and `index_add_` scatters the weighted outputs back.

    def forward(self, x: Tensor) -> tuple[Tensor, MoEStats]:
        """Route every token of `x` `(B, T, C)` to its experts; returns the output and `MoEStats`."""
        B, T, C = x.shape
        flat = x.reshape(B * T, C)  # (N, C)
        N = flat.shape[0]
        logits, experts, weights = self.route(flat)  # (N, E), (N, k), (N, k)
        assign_expert = experts.reshape(-1)  # (N k,) in token order
        assign_token = torch.arange(N, device=x.device).repeat_interleave(self.top_k)  # (N k,)
        assign_weight = weights.reshape(-1)  # (N k,)
        # With a capacity, an assignment's slot is the running count of its expert's assignments up
        # to it; those past the capacity are dropped.
        keep = torch.ones_like(assign_expert, dtype=torch.bool)
        if self.capacity_factor is not None:
            capacity = math.ceil(self.capacity_factor * N * self.top_k / self.n_experts)
            one_hot = F.one_hot(assign_expert, self.n_experts)  # (N k, E)
            slot = (one_hot.cumsum(dim=0) * one_hot).sum(
                dim=-1
            ) - 1  # (N k,) position in its expert's buffer
            keep = slot < capacity
        # Each expert runs once on its kept tokens, and the gate-weighted outputs are summed back
        # into their tokens' rows.
        out = torch.zeros_like(flat)  # (N, C)
        counts = torch.zeros(self.n_experts, dtype=torch.long, device=x.device)
        for e, expert in enumerate(self.experts):
            sel = (assign_expert == e) & keep  # (N k,)
            if not bool(sel.any()):
                continue
            tokens = assign_token[sel]  # (n_e,)
            y = expert(flat[tokens]) * assign_weight[sel, None].to(flat.dtype)  # (n_e, C)
            out.index_add_(0, tokens, y)
            counts[e] = tokens.numel()
        stats = MoEStats(
            aux_loss=load_balancing_loss(logits, self.top_k),
            tokens_per_expert=counts,
            dropped_fraction=1.0 - float(keep.float().mean()),
            router_logits=logits,
        )
        return out.reshape(B, T, C), stats


# The auxiliary loss pushes the router to spread both its choices and its probability mass evenly
# over the experts.
def load_balancing_loss(router_logits: Tensor, top_k: int) -> Tensor:
    r"""Switch/Mixtral auxiliary loss $E \sum_e f_e P_e$ from router logits `(N, E)`.

    $f_e$ counts all $k$ choices of each token (so $\sum_e f_e = k$), as HF's implementation does;
    a perfectly balanced router gives $k$.
    """
    n_experts = router_logits.shape[-1]
    probs = router_logits.float().softmax(dim=-1)  # (N, E)
    chosen = probs.topk(top_k, dim=-1).indices  # (N, k)
    f = F.one_hot(chosen, n_experts).sum(dim=1).float().mean(dim=0)  # (E,) dispatch fraction
    p = probs.mean(dim=0)  # (E,) mean router probability
    return n_experts * (f * p).sum()


# ## Watching utilisation
#
# `train_router_demo` trains a small MoE to imitate a fixed random teacher FFN on Gaussian inputs,
# with or without the auxiliary loss, and records how many tokens each expert receives along the
# way: the data behind the figure above.


def train_router_demo(
    aux_weight: float,
    *,
    steps: int = 80,
    n_experts: int = 8,
    top_k: int = 2,
    d_model: int = 16,
    seed: int = 0,
) -> Tensor:
    """Train an MoE on a regression task; returns tokens per expert at each step, `(steps, E)`."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    teacher = FeedForward(d_model, 4 * d_model, "silu", True, False)
    moe = MoE(d_model, 2 * d_model, n_experts, top_k)
    # Start from a router that already prefers two experts, as real routers drift to.
    with torch.no_grad():
        moe.router.weight.mul_(0.1)
        moe.router.weight[:2] += 0.5 * torch.randn(2, d_model, generator=g)
    opt = torch.optim.Adam(moe.parameters(), lr=1e-2)
    history = []
    for _ in range(steps):
        x = torch.randn(4, 32, d_model, generator=g)
        with torch.no_grad():
            target = teacher(x)
        y, stats = moe(x)
        loss = F.mse_loss(y, target) + aux_weight * stats.aux_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(stats.tokens_per_expert.clone())
    return torch.stack(history)
