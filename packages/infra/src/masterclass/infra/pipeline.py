r"""# Pipeline parallelism: GPipe and 1F1B schedules

Tensor parallelism splits every layer; pipeline parallelism splits the *stack*: stage $s$ of $p$
holds a contiguous group of layers, receives activations from stage $s - 1$, and sends its output
to stage $s + 1$. Only activations at stage boundaries cross the network, once per micro-batch,
which is why pipelines span machines where tensor parallelism stays inside one.

**Micro-batches and the bubble.** A batch goes through stage 0, then stage 1, ...: a single batch
would keep one stage busy and $p - 1$ idle. GPipe (Huang et al., 2019) cuts the batch into $m$
micro-batches and streams them: stage $s$ runs forward $F_i$ on micro-batch $i$ at time slot
$s + i$. With one time unit per forward and $t_b$ per backward, all $m$ forwards take
$m + p - 1$ slots on the critical path and so do the backwards, so the step lasts
$(m + p - 1)(1 + t_b)$ while each stage works $m(1 + t_b)$. The idle fraction is
$$ \text{bubble} = 1 - \frac{m (1 + t_b)}{(m + p - 1)(1 + t_b)} = \frac{p - 1}{m + p - 1} ,$$
small when $m \gg p$. Gradients of the micro-batches add up in `.grad` (gradient accumulation),
and scaling each micro-batch loss by $1/m$ makes the sum the gradient of the batch mean: the
result is *exactly* one process's.

**1F1B** (PipeDream-Flush, Narayanan et al., 2019; Megatron's default) has the same bubble but
bounds memory: stage $s$ runs $p - s - 1$ warm-up forwards, then alternates one forward with one
backward, then drains the remaining backwards. A micro-batch's activations are freed by its
backward, so at most $p - s$ are alive on stage $s$ instead of $m$ with GPipe.

**Measuring the bubble.** Tests never time anything here; instead, `simulate` replays a schedule
as a dependency graph ($F_{s,i}$ after $F_{s-1,i}$; $B_{s,i}$ after $B_{s+1,i}$ and after
$F_{s,i}$; each stage runs its actions in order, one at a time) with unit forwards and $t_b$-unit
backwards, and reports each stage's idle fraction; the same schedule objects drive the real
multi-process run.

**Communication.** Sends are non-blocking (`isend`) so that, in 1F1B's steady state, stage 0
sending forward activations and stage 1 sending gradients back cannot wait on each other.

References: Y. Huang et al., *GPipe: Efficient Training of Giant Neural Networks using Pipeline
Parallelism*, NeurIPS 2019, <https://arxiv.org/abs/1811.06965>; D. Narayanan et al.,
*PipeDream: Generalized Pipeline Parallelism for DNN Training*, SOSP 2019, and *Efficient
Large-Scale Language Model Training on GPU Clusters Using Megatron-LM*, SC 2021.

Left out: interleaved (virtual-stage) schedules, zero-bubble schedules that split the backward
into input and weight gradients, and balancing layers across stages.

## Exercises

1. Write `bubble_fraction(p, m)`, the idle fraction of a GPipe or 1F1B step.
   Check it: `uv run pytest --exercise infra.pipeline`
2. Write `peak_in_flight_1f1b(p, m, stage)`: how many micro-batches have run forward but not yet
   backward, at most, on `stage` under 1F1B. Check it: `uv run pytest --exercise infra.pipeline`
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    "gpipe_schedule",
    "one_f_one_b_schedule",
    "run_pipeline_step",
    "simulate",
]

Action = tuple[str, int]  # ("F" or "B", micro-batch index)


# ## The two schedules, as lists of actions per stage
def gpipe_schedule(n_stages: int, n_micro: int) -> list[list[Action]]:
    """Every stage: all forwards, then all backwards (in reverse order).

    >>> gpipe_schedule(2, 2)[0]
    [('F', 0), ('F', 1), ('B', 1), ('B', 0)]
    """
    _check(n_stages, n_micro)
    return [
        [("F", i) for i in range(n_micro)] + [("B", i) for i in reversed(range(n_micro))]
        for _ in range(n_stages)
    ]


def one_f_one_b_schedule(n_stages: int, n_micro: int) -> list[list[Action]]:
    """Warm-up forwards, then one forward / one backward, then the remaining backwards.

    >>> one_f_one_b_schedule(2, 3)[0]
    [('F', 0), ('F', 1), ('B', 0), ('F', 2), ('B', 1), ('B', 2)]
    """
    # Stage s runs `n_stages - s - 1` warm-up forwards (the later a stage, the fewer it needs before
    # its first backward can arrive), then alternates one forward and one backward, and drains the
    # remaining backwards; it holds at most `warm + 1` activations at a time, not all `n_micro`.
    _check(n_stages, n_micro)
    out = []
    for s in range(n_stages):
        warm = min(n_stages - s - 1, n_micro)
        acts: list[Action] = [("F", i) for i in range(warm)]
        f, b = warm, 0
        while f < n_micro:
            acts += [("F", f), ("B", b)]
            f, b = f + 1, b + 1
        acts += [("B", i) for i in range(b, n_micro)]
        out.append(acts)
    return out


def _check(n_stages: int, n_micro: int) -> None:
    if n_stages < 1 or n_micro < 1:
        raise ValueError(f"need n_stages >= 1 and n_micro >= 1, got {n_stages}, {n_micro}")


# ## Replaying a schedule in unit time
#
# Each action starts when its stage is free and its dependency is done; the step ends with the
# last action. A stage's bubble is the share of that makespan it spent idle.
def simulate(schedule: list[list[Action]], t_backward: float = 2.0) -> tuple[float, list[float]]:
    """`(makespan, idle fraction per stage)` of `schedule` with unit forwards."""
    p = len(schedule)
    done: dict[tuple[str, int, int], float] = {}
    pos, free = [0] * p, [0.0] * p
    # Sweep the stages repeatedly, starting each stage's next action once its dependencies are done:
    # a forward needs the previous stage's forward of the same micro-batch, a backward this stage's
    # forward and the next stage's backward. A sweep that starts nothing is a deadlock.
    while any(pos[s] < len(schedule[s]) for s in range(p)):
        progressed = False
        for s in range(p):
            if pos[s] == len(schedule[s]):
                continue
            kind, i = schedule[s][pos[s]]
            deps = [("F", s - 1, i)] if kind == "F" and s > 0 else []
            if kind == "B":
                deps = [("F", s, i)] + ([("B", s + 1, i)] if s < p - 1 else [])
            if any(d not in done for d in deps):
                continue
            start = max([free[s]] + [done[d] for d in deps])
            free[s] = done[(kind, s, i)] = start + (1.0 if kind == "F" else t_backward)
            pos[s] += 1
            progressed = True
        if not progressed:
            raise ValueError("the schedule deadlocks: an action waits for one that never runs")
    # A stage's busy time is fixed by its actions; the rest of the makespan is its bubble.
    makespan = max(free)
    busy = [sum(1.0 if k == "F" else t_backward for k, _ in acts) for acts in schedule]
    return makespan, [1.0 - b / makespan for b in busy]


# ## Running one training step on this stage
#
# `F`: take the micro-batch (stage 0) or receive the previous stage's activation, run the stage,
# and send the result on, or, on the last stage, compute the loss scaled by $1/m$. `B`: on the last
# stage backpropagate the loss; elsewhere receive the gradient of this stage's output and
# backpropagate it; then send the gradient of this stage's input back. Parameters' gradients add
# up over the micro-batches.
def run_pipeline_step(
    stage: nn.Module,
    schedule: list[Action],
    stage_index: int,
    n_stages: int,
    micro_inputs: list[Tensor] | None,
    micro_targets: list[Tensor] | None,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    activation_shape: Callable[[int], tuple[int, ...]],
    dtype: torch.dtype = torch.float32,
) -> Tensor | None:
    """Run this stage's actions for one step; return the mean loss on the last stage.

    `micro_inputs` are given to stage 0, `micro_targets` to the last stage;
    `activation_shape(s)` is the shape of stage `s`'s input (for `s > 0`).
    """
    # Per micro-batch, the stage keeps its input (to send back its gradient) and its output (to
    # backpropagate into); sends are non-blocking and waited for at the end of the step.
    n_micro = sum(kind == "F" for kind, _ in schedule)
    first, last = stage_index == 0, stage_index == n_stages - 1
    inputs: dict[int, Tensor] = {}
    outputs: dict[int, Tensor] = {}
    pending: list[Any] = []
    total = torch.zeros((), dtype=torch.float64)
    for kind, i in schedule:
        if kind == "F":
            # Forward: stage 0 reads its micro-batch, any other stage receives the activation and
            # marks it as needing a gradient, so that backward reaches it. The last stage turns its
            # output into the loss, divided by `n_micro` so the gradients add up to those of the
            # mean.
            if first:
                x = micro_inputs[i]
            else:
                x = torch.empty(activation_shape(stage_index), dtype=dtype)
                dist.recv(x, stage_index - 1)
                x.requires_grad_(True)
            y = stage(x)
            inputs[i] = x
            if last:
                outputs[i] = loss_fn(y, micro_targets[i]) / n_micro
                total += outputs[i].detach().double()
            else:
                outputs[i] = y
                pending.append(dist.isend(y.detach().contiguous(), stage_index + 1))
        else:
            # Backward: the last stage starts from its loss; any other stage receives the gradient
            # of its output from the next stage. Then this stage's input gradient goes back one
            # stage.
            if last:
                outputs.pop(i).backward()
            else:
                grad = torch.empty_like(outputs[i])
                dist.recv(grad, stage_index + 1)
                outputs.pop(i).backward(grad)
            x = inputs.pop(i)
            if not first:
                pending.append(dist.isend(x.grad.contiguous(), stage_index - 1))
    for req in pending:
        req.wait()
    return total if last else None
