r"""# Tensor parallelism: Megatron-style column- and row-parallel layers

Sharding (`sharding.py`) splits the *storage* of a model but every rank still computes with the
whole of every matrix. Tensor parallelism (Shoeybi et al., 2019, *Megatron-LM*) splits the
*computation*: each of $T$ ranks holds a slice of every weight matrix and computes a slice of
every product, so a layer too large, or too slow, for one device runs on $T$.

**Column parallel.** Split $A \in \mathbb{R}^{d_\text{out} \times d_\text{in}}$ by rows (output
features): $A = [A_1; \dots; A_T]$. With the input $x$ replicated, rank $t$ computes
$y_t = x A_t^\top$, its slice of the output; no communication in the forward pass. In the backward
pass each rank has only its slice's contribution to $\partial L / \partial x$,
$\partial L/\partial x = \sum_t (\partial L/\partial y_t) A_t$, so the input gradient is
all-reduced. Megatron calls this operator $f$: identity forward, all-reduce backward.

**Row parallel.** Split $B$ by columns (input features), $B = [B_1, \dots, B_T]$, and feed rank $t$
the matching slice $x_t$ of the input: $y = \sum_t x_t B_t^\top$, one all-reduce in the forward
pass (operator $g$: all-reduce forward, identity backward, since $\partial L / \partial (x_t
B_t^\top) = \partial L / \partial y$ on every rank). The bias is added once, after the sum.

**The MLP and attention blocks.** A column-parallel layer followed by a row-parallel one needs no
communication between them: the column layer's output slice *is* the row layer's input slice, and
an elementwise nonlinearity commutes with the split. So the MLP $\mathrm{GELU}(x W_1^\top) W_2^\top$
costs one all-reduce forward and one backward. Attention splits by heads: $Q, K, V$ are column
parallel with $H/T$ heads per rank, each rank attends over its heads alone, and the output
projection is row parallel.

**The vocabulary.** The embedding table $E \in \mathbb{R}^{V \times C}$ is split by rows: rank
$t$ owns token ids $[tV/T, (t+1)V/T)$, looks up the ids it owns, writes zeros for the others, and
an all-reduce assembles the embeddings. $V$ is padded up to a multiple of $T$ (and the padded rows
never looked up). The output layer is column parallel over the vocabulary, and the loss is computed
*without gathering the logits* (Megatron's vocab-parallel cross-entropy): with $z$ split over
ranks,
$$ \ell = \log \sum_v e^{z_v} - z_y = \log \sum_t \sum_{v \in t} e^{z_v - m} + m - z_y ,
   \qquad m = \max_v z_v , $$
three all-reduces of one number per token ($\max$ for $m$, sums for the partition function and for
$z_y$, which only its owner contributes). The gradient is local: $\partial \ell / \partial z_v =
\mathrm{softmax}(z)_v - [v = y]$, computed from the reduced partition function. Padded vocabulary
columns are set to $-\infty$, so they get no probability.

References: M. Shoeybi et al., *Megatron-LM: Training Multi-Billion Parameter Language Models Using
Model Parallelism*, 2019, <https://arxiv.org/abs/1909.08053>; D. Narayanan et al., *Efficient
Large-Scale Language Model Training on GPU Clusters Using Megatron-LM*, SC 2021.

Left out: sequence parallelism (splitting the layer norms' and dropouts' activations over the
sequence between the blocks), communication overlap, and grouped-query attention's KV-head split.

## Exercises

1. Write `column_parallel_forward(x, weight, rank, world)`: rank's output slice of `x @ weight.T`
   computed from its row slice of `weight` alone. Check it: `uv run pytest --exercise infra.tensor_parallel`
2. Write `padded_vocab(vocab_size, world)`: the smallest multiple of `world` at least `vocab_size`.
   Check it: `uv run pytest --exercise infra.tensor_parallel`
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn import functional as F

# The layers of Megatron-LM's scheme (column- and row-parallel linears, the vocabulary-parallel
# embedding and loss, and the MLP and attention built from them), plus two helpers.
__all__ = [
    "ColumnParallelLinear",
    "ParallelAttention",
    "ParallelMLP",
    "RowParallelLinear",
    "VocabParallelEmbedding",
    "gather_last_dim",
    "padded_vocab_size",
    "vocab_parallel_cross_entropy",
]


# Without an initialised process group every layer runs as one rank of a group of one, so the same
# code serves tests on one process.
def _group_info(group: Any) -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(group), dist.get_world_size(group)
    return 0, 1


def padded_vocab_size(vocab_size: int, world_size: int) -> int:
    """The smallest multiple of `world_size` that is at least `vocab_size`.

    >>> padded_vocab_size(50257, 4)
    50260
    """
    return math.ceil(vocab_size / world_size) * world_size


# ## Megatron's two conjugate operators, and a gather
#
# `f` passes the input through and all-reduces its gradient; `g` all-reduces the input and passes
# the gradient through. Each is the other's transpose, which is why one sits at each end of a
# parallel region.
class _CopyToParallel(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, group: Any) -> Tensor:
        ctx.group = group
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        grad = grad.contiguous().clone()
        if _group_info(ctx.group)[1] > 1:
            dist.all_reduce(grad, group=ctx.group)
        return grad, None


# `g`: sum the partial results of all ranks going forward; the gradient of a sum is the same for
# every term, so it passes through.
class _ReduceFromParallel(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, group: Any) -> Tensor:
        x = x.contiguous().clone()
        if _group_info(group)[1] > 1:
            dist.all_reduce(x, group=group)
        return x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


# The gather: concatenate every rank's slice along the last dimension; its gradient is this rank's
# slice of the incoming gradient.
class _GatherLastDim(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, group: Any) -> Tensor:
        rank, world = _group_info(group)
        ctx.rank, ctx.size = rank, x.shape[-1]
        if world == 1:
            return x.clone()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous(), group=group)
        return torch.cat(parts, dim=-1)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad[..., ctx.rank * ctx.size : (ctx.rank + 1) * ctx.size].contiguous(), None


def gather_last_dim(x: Tensor, group: Any = None) -> Tensor:
    """Concatenate every rank's `(..., n)` slice into `(..., T n)` (differentiable)."""
    return _GatherLastDim.apply(x, group)


# ## The two linear layers
#
# Both are built from the *full* weight (every rank holds the same initial matrix, e.g. from a
# seed, and keeps its slice), which is also how a checkpoint of the dense model is loaded.
class ColumnParallelLinear(nn.Module):
    """`y_t = x A_t^T + b_t`: this rank's `out_features / T` output features."""

    def __init__(self, weight: Tensor, bias: Tensor | None = None, group: Any = None) -> None:
        super().__init__()
        self.group = group
        rank, world = _group_info(group)
        # Column parallelism splits the output features: rank t keeps rows `[t n, (t + 1) n)` of the
        # weight and of the bias, and computes that slice of the output from the whole input.
        out = weight.shape[0]
        if out % world:
            raise ValueError(
                f"out_features={out} is not divisible by the tensor-parallel size {world}: "
                "pad it (as VocabParallelEmbedding does) or choose sizes that divide"
            )
        n = out // world
        self.weight = nn.Parameter(weight.detach()[rank * n : (rank + 1) * n].clone())
        self.bias = (
            None if bias is None else nn.Parameter(bias.detach()[rank * n : (rank + 1) * n].clone())
        )

    # The input enters through `f`: every rank uses all of it, so its gradient is the sum of every
    # rank's contribution.
    def forward(self, x: Tensor) -> Tensor:
        """`x` `(..., d_in)` replicated -> `(..., d_out / T)` local slice."""
        return F.linear(_CopyToParallel.apply(x, self.group), self.weight, self.bias)


# Row parallelism splits the input features: rank t keeps columns `[t n, (t + 1) n)` of the weight
# and computes a partial product, and `g` sums the partials. The bias is added once, after the sum.
class RowParallelLinear(nn.Module):
    """`y = sum_t x_t B_t^T + b`: input features split, output all-reduced."""

    def __init__(self, weight: Tensor, bias: Tensor | None = None, group: Any = None) -> None:
        super().__init__()
        self.group = group
        rank, world = _group_info(group)
        d_in = weight.shape[1]
        if d_in % world:
            raise ValueError(
                f"in_features={d_in} is not divisible by the tensor-parallel size {world}"
            )
        n = d_in // world
        self.weight = nn.Parameter(weight.detach()[:, rank * n : (rank + 1) * n].clone())
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        """`x` `(..., d_in / T)` local slice -> `(..., d_out)` replicated."""
        y = _ReduceFromParallel.apply(F.linear(x, self.weight), self.group)
        return y if self.bias is None else y + self.bias


# ## The vocabulary-parallel embedding
class VocabParallelEmbedding(nn.Module):
    """Rows `[t V_p / T, (t + 1) V_p / T)` of the (padded) table; lookups all-reduced."""

    def __init__(self, weight: Tensor, group: Any = None) -> None:
        super().__init__()
        self.group = group
        rank, world = _group_info(group)
        self.vocab_size = weight.shape[0]
        # Pad the table with zero rows to a multiple of T, and keep this rank's block of consecutive
        # rows.
        padded = padded_vocab_size(self.vocab_size, world)
        full = torch.cat(
            [weight.detach(), weight.new_zeros(padded - self.vocab_size, weight.shape[1])]
        )
        n = padded // world
        self.start, self.end = rank * n, (rank + 1) * n
        self.weight = nn.Parameter(full[self.start : self.end].clone())

    def forward(self, idx: Tensor) -> Tensor:
        """Token ids `(B, T)` -> embeddings `(B, T, C)`, replicated."""
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.vocab_size):
            raise ValueError(
                f"token ids must lie in [0, {self.vocab_size}), got {idx.min()}..{idx.max()}"
            )
        # Each rank looks up the ids in its block (the others read row 0 and are zeroed); the
        # all-reduce sums the ranks' partial lookups, giving every rank the full embeddings.
        mine = (idx >= self.start) & (idx < self.end)
        local = torch.where(mine, idx - self.start, torch.zeros_like(idx))
        out = F.embedding(local, self.weight) * mine.unsqueeze(-1)  # (B, T, C)
        return _ReduceFromParallel.apply(out, self.group)


# ## The vocabulary-parallel cross-entropy
#
# The forward of the derivation, with the three all-reduces; the backward reuses the softmax
# slice it saved. Padded columns (global id $\ge V$) are masked to $-\infty$ first.
class _VocabParallelCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, logits: Tensor, target: Tensor, vocab_size: int, group: Any) -> Tensor:
        # A numerically stable log-sum-exp across ranks: the global maximum first (an all-reduce
        # with MAX), then each rank's sum of exponentials, added up.
        rank, world = _group_info(group)
        n = logits.shape[-1]
        start = rank * n
        ids = torch.arange(start, start + n, device=logits.device)
        z = logits.masked_fill(ids >= vocab_size, float("-inf"))  # (N, n)
        m = z.max(dim=-1).values  # (N,)
        if world > 1:
            dist.all_reduce(m, op=dist.ReduceOp.MAX, group=group)
        e = torch.exp(z - m[:, None])  # (N, n)
        sum_e = e.sum(dim=-1)  # (N,)
        # The target's logit lives on exactly one rank; every other rank contributes zero to its
        # sum. The loss is `log sum exp z - z_target`, written with the maximum taken out.
        mine = (target >= start) & (target < start + n)
        local_t = torch.where(mine, target - start, torch.zeros_like(target))
        z_y = torch.where(mine, z.gather(1, local_t[:, None]).squeeze(1), torch.zeros_like(m))
        if world > 1:
            dist.all_reduce(sum_e, group=group)
            dist.all_reduce(z_y, group=group)
        loss = torch.log(sum_e) + m - z_y  # (N,)
        ctx.save_for_backward(e / sum_e[:, None], mine, local_t)
        return loss.mean()

    # The gradient on the local logits is the local softmax slice minus one at the target, where the
    # target is local; divided by N for the mean.
    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        softmax, mine, local_t = ctx.saved_tensors
        g = softmax.clone()
        rows = torch.arange(g.shape[0], device=g.device)
        g[rows[mine], local_t[mine]] -= 1.0
        return g * (grad / g.shape[0]), None, None, None


def vocab_parallel_cross_entropy(
    logits: Tensor, target: Tensor, vocab_size: int, group: Any = None
) -> Tensor:
    """Mean cross-entropy of `(N, V_p / T)` local logit slices against `(N,)` targets."""
    return _VocabParallelCE.apply(logits, target, vocab_size, group)


# ## The two Megatron blocks
#
# Each is built from the weights of its dense twin (dicts of full tensors), so a model can be
# split from one checkpoint.
#
# The Megatron MLP: the first linear column-parallel, so the GELU acts on local features, and the
# second row-parallel, with one all-reduce at the end of the block.
class ParallelMLP(nn.Module):
    """`GELU(x W_1^T + b_1) W_2^T + b_2` with `W_1` column- and `W_2` row-parallel."""

    def __init__(self, fc: nn.Linear, out: nn.Linear, group: Any = None) -> None:
        super().__init__()
        self.fc = ColumnParallelLinear(fc.weight, fc.bias, group)
        self.out = RowParallelLinear(out.weight, out.bias, group)

    def forward(self, x: Tensor) -> Tensor:
        """`(B, T, C)` -> `(B, T, C)`, replicated."""
        return self.out(F.gelu(self.fc(x)))


# Attention splits by heads: Q, K and V are column-parallel, so each rank holds whole heads and
# attends independently; the output projection is row-parallel and sums the heads back.
class ParallelAttention(nn.Module):
    """Causal self-attention with `n_heads / T` heads per rank and a row-parallel projection."""

    def __init__(
        self,
        q: nn.Linear,
        k: nn.Linear,
        v: nn.Linear,
        proj: nn.Linear,
        n_heads: int,
        group: Any = None,
    ) -> None:
        super().__init__()
        world = _group_info(group)[1]
        if n_heads % world:
            raise ValueError(
                f"n_heads={n_heads} is not divisible by the tensor-parallel size {world}"
            )
        # Each rank keeps `n_heads / T` whole heads: a head's features are consecutive rows of Q, K
        # and V, so the column split falls on head boundaries.
        self.local_heads = n_heads // world
        self.head_dim = q.weight.shape[0] // n_heads
        self.q, self.k, self.v = (ColumnParallelLinear(m.weight, m.bias, group) for m in (q, k, v))
        self.proj = RowParallelLinear(proj.weight, proj.bias, group)

    # Each rank's projections produce its own heads only, `local_heads * head_dim` features, which
    # reshape to (B, H/T, T, D); attention needs nothing from other ranks until the output
    # projection.
    def forward(self, x: Tensor) -> Tensor:
        """`(B, T, C)` -> `(B, T, C)`, replicated."""
        B, T, _ = x.shape
        shape = (B, T, self.local_heads, self.head_dim)
        q, k, v = (
            m(x).view(shape).transpose(1, 2) for m in (self.q, self.k, self.v)
        )  # (B, H/T, T, D)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H/T, T, D)
        return self.proj(y.transpose(1, 2).reshape(B, T, -1))  # (B, T, C)
