r"""# Stage 4 · Training: the loop, a time plan, and resume

The model of the previous chapter is trained by `training`'s pretraining loop
(`masterclass.training.loop.train`, Module 8), which this stage configures and watches:

- **data**: `infra`'s `ShardBatcher` draws windows of `max_seq_len + 1` tokens from the
  memory-mapped train shards in a seeded order; its position (epoch, windows consumed) goes into
  every checkpoint;
- **optimizer**: Muon for the hidden weight matrices (orthogonalised momentum,
  `masterclass.training.optim.Muon`, Jordan et al., 2024) and AdamW ($\beta = (0.9, 0.95)$,
  decoupled weight decay on matrices only) for the embeddings, the head and the gains
  (`optimizer = "muon"`; `"adamw"` uses AdamW for all). At the same number of steps Muon ends
  lower (`bench/optimizer.py`, `bench/results/optimizer.txt`). The learning rate has a linear warmup, a constant phase and a final linear decay to `min_lr`
  (warmup-stable-decay, `schedule = "wsd"`; Hu et al., 2024, *MiniCPM*), or a cosine decay;
- **gradient clipping** to global norm `clip_norm`, **gradient accumulation** over `grad_accum`
  micro-batches, and **bf16 autocast** where it helps (`precision = "auto"`: on a GPU, and on a CPU
  with bf16 instructions for models of width ≥ 128 when the time plan measures bf16 faster than
  fp32 there; tiny models stay fp32), and **`torch.compile`** of the loss where the time plan
  measures it faster (`compile = "auto"`; `training.loop.compiled_loss`);
- **evaluation**: every `eval_every` steps, the loss on the first `eval_batches` batches of held-out
  windows (the same ones each time, so the curve is comparable), one log line each;
- **checkpoints** every `checkpoint_every` steps, atomic, with weights (safetensors), optimizer, RNG,
  data position and the time plan: killing the run at any moment and running `capstone resume RUN`
  gives bitwise the weights an uninterrupted run would have (the tests check it on the CPU);
- **faults**: a non-finite loss stops the run before the update, naming the step, and the last good
  checkpoint stays the one a resume starts from. A damaged checkpoint (a truncated or changed
  file, garbage metadata, a planted pickle) is found before resuming and named in one line,
  with the previous intact checkpoint to resume from.

**Data parallel.** Run the stage under `torchrun` and the loop averages gradients across processes
(gloo on a CPU, NCCL on GPUs); each rank draws its own block of windows of every step:

```
capstone run --until data --out runs/dp
torchrun --nproc_per_node=2 -m masterclass.capstone stage train runs/dp
capstone resume runs/dp
```

**Fully sharded.** With `train.parallel = "fsdp"` each of the $W$ processes keeps only $1/W$ of
every weight, gradient and AdamW moment (ZeRO-3, `masterclass.infra.sharding`): the forward
pass gathers the weights, the backward pass reduce-scatters the gradient into each rank's rows,
the global gradient norm is summed from the rows, and every checkpoint is gathered whole
(`masterclass.training.loop.FullyShardedDataParallel`). The setting is part of the run's config,
so it is given when the run folder is made:

```
capstone run --until data --out runs/fsdp --set train.parallel=fsdp --set train.optimizer=adamw
torchrun --nproc_per_node=2 -m masterclass.capstone stage train runs/fsdp
capstone resume runs/fsdp        # one process: the checkpoint holds the whole model
```

Both strategies give the single-process weights of the combined batch up to float32 summation
order (the order in which the ranks' gradients are added): `tests/test_distributed.py` trains 12
steps each way on two gloo processes and finds them within $10^{-4}$ of one process.

The final weights are also written as `train/model.safetensors` with `model_config.json`, the
input of every later stage.

**What makes the default run beat xz on a laptop.** Three benchmark scripts measure it, each
printing its figures against a reference taken in the same run:

| change | what it buys | measured by |
|---|---|---|
| width 128 in two heads of 64 and a 2,048-token vocabulary (was 192, six heads, 4,096) | a step about 2x shorter (1.8x and 2.1x in two runs), so more tokens in the budget | `bench/preset.py`, `bench/results/preset.txt`; `bench/throughput.py` |
| a batch of 8 windows instead of 16 | twice the updates from about the same tokens: on an AVX2-only chip the held-out bits per byte 1.571 instead of 1.660-1.774 with a busy core, 1.393 instead of 1.533 slowing, 1.233 against 1.213 idle | `bench/preset.py`, `bench/results/preset.txt`; `bench/headline.py`, `bench/results/headline.txt` |
| torch's fused SiLU in the FFN (the same function as Module 3's formula) | a shorter step | `bench/throughput.py` (`formula activations`) |
| bf16 autocast where it times faster, timed at the thread count that won (AMX on the Xeon measured) | a one-thread step 1.23-1.24x shorter (on an AMD EPYC, 1.63x and 1.78x) | `bench/throughput.py` (`1 thread, bf16` vs `1 thread, fp32`) |
| `torch.compile` of the loss where it times faster, at the winning count and precision | a step 1.47x and 1.54x shorter with two threads, 1.49x and 1.12x with one (two runs), after a compilation of 35-41 s (5-6 s with Inductor's cache warm); the default run's held-out bits per byte 1.156 instead of 1.209 with a busy core, 1.061 instead of 1.115 idle | `bench/throughput.py` (`bf16 + torch.compile` vs `bf16`), `bench/headline.py --set train.compile=off`, `bench/results/headline.txt` |
| Muon for the hidden matrices | a lower loss at the same steps | `bench/optimizer.py`, `bench/results/optimizer.txt` |
| Muon's Newton–Schulz iteration in fp32 on a CPU without fast bf16 (AVX2), in bf16 elsewhere | on an AVX2-only chip an fp32 step 2.24x shorter (0.538 against 1.206 s); the idle run's held-out bits per byte 1.213 instead of 1.709 | `bench/throughput.py` (`fp32, Newton-Schulz in bf16` vs `fp32`), `bench/results/headline.txt` |
| one intra-op thread when it times faster (a busy core) | a busy machine's step stays near idle's | `bench/throughput.py` (`1 thread`), `bench/headline.py` (`busy`) |
| a timing race (a losing candidate stops after four steps) and one timed evaluation | more of the budget left for training | `bench/headline.py` (the plans' timings) |
| a time plan that re-measures and re-plans up to the decay, early stops included | training ends on its budget | `bench/headline.py` (`slowing`) |
| all of them: the default run | held-out bits per byte vs xz -9, idle and with a busy core | `bench/headline.py`, `bench/results/headline.txt` |

Module 4's profiling chapter (`masterclass.perf`) explains how such step times are taken apart.

## Exercises

1. Write `plan_steps(budget_s, spent_s, seconds_per_step, seconds_per_eval, eval_every, done)`,
   the step count a time plan reaches: `done` plus the whole steps that fit in what is left of the
   budget, each costing a step and a share of an evaluation. Check it:
   `uv run pytest --exercise capstone.train`.
2. Write `decay_start(steps, decay_fraction, now)`: where a warmup-stable-decay schedule of
   `steps` steps starts its final decay, never before step `now` (a decay already under way cannot
   move). Check it: `uv run pytest --exercise capstone.train`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from copy import deepcopy
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from masterclass.capstone.config import RunConfig, decay_steps, loop_config
from masterclass.capstone.model import build_model, describe, save_trained
from masterclass.capstone.run_folder import (
    CHECKPOINTS,
    SCHEDULE_FILE,
    CapstoneError,
    RunFolder,
    atomic_write_json,
    atomic_write_text,
)
from masterclass.infra.checkpoint import CHECKPOINT_FORMAT, list_checkpoints
from masterclass.infra.shards import ShardBatcher, TokenShards
from masterclass.perf.parallel import num_threads
from masterclass.training.loop import TrainConfig, evaluate_loss, train


def heldout_batches(
    stream: np.ndarray, context: int, batch_size: int, n_batches: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first `n_batches` batches of consecutive held-out windows, as `(x, y)` (B, T) pairs.

    A held-out split shorter than one batch gives fewer (or shorter) windows rather than none.
    """
    n_windows = max((len(stream) - 1) // context, 0)
    if n_windows == 0:
        x = torch.from_numpy(stream[:-1].astype(np.int64))[None]  # (1, T')
        y = torch.from_numpy(stream[1:].astype(np.int64))[None]  # (1, T')
        return [(x, y)]
    n_windows = min(n_windows, batch_size * n_batches)
    w = np.stack([stream[i * context : i * context + context + 1] for i in range(n_windows)])
    w = torch.from_numpy(w.astype(np.int64))  # (N, T + 1)
    return [
        (w[i : i + batch_size, :-1], w[i : i + batch_size, 1:])
        for i in range(0, n_windows, batch_size)
    ]


# ## A time budget that holds as a promise
#
# "Train for eight minutes" is what a user with a laptop means, but a schedule must know when to
# decay. A plan fixed once from a few timed steps breaks its promise when the machine slows down
# later (another program starts): the run overshoots. So the plan is revised while training runs.
#
# 1. **Time the loop.** A copy of the model takes eight steps on its own batcher (the RNG state
#    saved and restored, so the real run is untouched); the median of the last five is the first
#    estimate $s$ of seconds per step. The candidates (thread counts, precisions; below) are
#    timed in turn as a race: one whose *fastest* counted step is already slower than the best
#    median so far by a quarter stops there, so a loser costs four steps instead of eight. Then
#    one held-out evaluation is timed, for the winner only ($e$ seconds).
#    Candidates, in order: the thread counts, the precisions, compilation (each below).
# 2. **Plan.** With $S$ seconds spent and $n$ steps done, the budget $B$ buys
#    $$ N = n + \Bigl\lfloor \frac{B - S}{s + e / \text{eval\_every}} \Bigr\rfloor $$
#    steps in all (capped by `train.steps`). A warmup-stable-decay schedule decays over the last
#    $D = \lceil f N \rfloor$ steps ($f$ = `decay_fraction`), so nothing before step $N - D$
#    depends on $N$: the learning rate is the constant peak there.
# 3. **Re-plan before the decay.** The run trains to the middle of the stable phase that is left,
#    stops with a checkpoint, measures $s$ again *on its own steps* (the median interval, so one
#    slow step does not count twice), and repeats step 2 from the time actually spent. The decay
#    starts only once a re-plan puts it near: three planned re-plans, at one half, three
#    quarters and seven eighths of the stable phase, then one where the decay would start.
# 4. **Stop early when the speed moves.** Until the decay starts the run keeps the median of
#    its last eight step intervals; when that moves by more than a quarter from the plan's $s$
#    (another program started, or stopped), the phase stops at once for a re-plan instead of
#    spending the planned steps at the wrong rate. Without it, a machine that slowed threefold a
#    minute into an eight-minute budget overshot it by 55 s (`bench/results/headline.txt`,
#    `slowing`). An early stop does not use up a planned one (a neighbour that comes and goes
#    early would otherwise leave the rest of the run unwatched: two such runs side by side
#    overshot 480 s by 58 and 100 s); twelve re-plans of both kinds make the plan final
#    regardless. Data-parallel ranks never stop early: they would have to agree on every step.
#
# **Precision.** Whether bf16 autocast shortens a step on a CPU depends on the chip, not on a flag
# one can read. On one machine with AVX512-BF16 a step of the earlier default (width 192) took
# 0.50 s in bf16 and 0.74 s in fp32; on another that reports the same instructions, and AMX, it
# took 1.00 s and 0.68 s with two threads, while today's default is 1.23x faster in bf16 with
# one thread, and with two ties or wins by 1.25x (`bench/results/throughput.txt`). So with
# `precision = "auto"` on such a CPU step 1 times the thread counts in bf16, then fp32 at the count
# that won, and keeps the faster; the choice is part of the plan (bf16 and fp32 give different
# weights).
#
# **Threads.** Torch splits each operator over all cores (two here). When another program keeps
# one core busy, the two threads share the other one and every operator waits for the thread
# that was descheduled: on this machine a step took 3.1 times as long as on an idle one, where
# one thread would take 1.4 times as long (`bench/results/headline.txt`). So step 1 times the
# loop both ways, with one thread and then torch's count, and trains with the faster (one thread
# goes first: on a busy machine torch's count is the slow candidate, which the race cuts short); a
# re-plan that finds the speed changed by more than a quarter times both again
# (`train.threads = n` fixes the count instead). The count is part of the plan, because the
# order in which threads add up partial sums can change the last bits of a result.
#
# **Compilation.** `torch.compile` of the loss (`training.loop.compiled_loss`) fuses what lies
# between the matrix products: the bf16 casts, RMSNorm, RoPE and SwiGLU's element-wise work, the
# float32 log-softmax. On the default model it shortened a bf16 step by 1.47x and 1.54x with two
# threads and by 1.49x and 1.12x with one (two runs), but the first step pays the compilation,
# 35-41 s on a 2-core machine with a cold cache and 5-6 s when Inductor finds its generated code
# on disk from an earlier run (`bench/results/throughput.txt`). In fp32 there are no casts to
# fuse: on a chip without bf16 instructions (most laptops), compilation shortened an fp32 step
# by 1.08-1.20x with two threads and 1.09-1.10x with one (two runs), after a cold compilation
# of 24-36 s. So with
# `compile = "auto"` and a budget of at least two minutes in bf16 (fifteen in fp32, where the
# gain only then pays for the compilation; `_COMPILE_MIN_BUDGET_S`), step 1 finally times the
# compiled loss at the winning thread count and precision, racing the eager time; its
# compilation falls in the steps the timing skips, and the copy it times on shares its graph
# with the real model, so a win costs nothing more. A compilation that fails (no C++ compiler
# on the machine) leaves the run eager, and the report says why. The choice is part of the
# plan: compiled and eager weights differ in the last bits, and a resumed run compiles again.
#
# Each decision (the plan, with its measurements) is written to `train/schedule.json` and stored
# in every checkpoint; a resumed run reads it and continues the same schedule, so it stays bitwise
# equal to an uninterrupted run that made the same decisions. Two fresh runs on machines of
# different speed train for different numbers of steps, which is the point. With
# `schedule = "cosine"`, whose rate at every step depends on $N$, the first plan is final.
#
# Why warmup-stable-decay: it is the only one of the two that lets the run decide its length
# late, and at a fixed length it is reported to match cosine when the decay takes 20% or more
# of the steps (Hägele et al., 2024, *Scaling Laws and Compute-Optimal Training Beyond Fixed
# Training Durations*, https://arxiv.org/abs/2405.18392). `bench/schedule.py` measures the two
# on the capstone's own model at the same number of steps (`bench/results/schedule.txt`).
_TIMING_STEPS = 8
# The first few steps are slow (allocations, and oneDNN choosing and compiling its bf16 kernels
# for each shape), so only the steps after `_TIMING_SKIP` are counted.
_TIMING_SKIP = 3
_MAX_REPLANS = 3
# Re-plans of all kinds, the early stops included, before the plan is final whatever happens.
_MAX_STOPS = 12
# A re-plan times the thread counts again when the step time moved by more than this factor,
# and a phase stops early for a re-plan when its recent steps moved by more than it.
_RETIME_FACTOR = 1.25
# Step intervals in the running median that decides an early stop.
_DRIFT_WINDOW = 8
# A re-plan is not worth a stop when the decay would start within this many steps anyway.
_MIN_GAP_STEPS = 20
# The shortest budget for which "auto" times a compiled step, by precision. A compilation costs
# c seconds once and makes a step g times faster, so it pays when the budget B satisfies
# B (1 - 1/g) > c. A cold compilation of the default model took 22-41 s on a 2-core machine
# (`bench/results/throughput.txt`), and the first plan with it up to 58 s with one core busy
# (`bench/results/headline.txt`). In bf16, g was 1.12-1.54 (the casts fuse), so two minutes
# pay for it; in fp32 it was 1.08-1.20 with two threads and 1.09-1.10 with one on a chip
# without bf16 instructions. The planner learns g only after paying c, and a busy core (one
# thread, where the first plan with a compilation took 58 s) needs B > 58 / (1 - 1/1.09) =
# 700 s, so fp32 asks for fifteen minutes. (Before Muon's Newton-Schulz iteration left emulated bf16 on such
# chips, g was 1.04-1.07 and the step 2.2 times longer; `training.optim`.)
_COMPILE_MIN_BUDGET_S = {"bf16": 120.0, "none": 900.0}


def read_schedule(out: Path) -> dict[str, Any]:
    """The time plan of a budgeted run (`{}` before it is known or without a budget)."""
    path = Path(out) / SCHEDULE_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def plan_steps(
    budget_s: float,
    spent_s: float,
    seconds_per_step: float,
    seconds_per_eval: float,
    eval_every: int,
    done: int,
) -> int:
    """Steps in all that the budget reaches: `done` plus those that fit in the time left.

    >>> plan_steps(100.0, 40.0, 0.5, 2.0, 10, done=50)
    135
    """
    per_step = seconds_per_step + seconds_per_eval / max(eval_every, 1)
    return done + max(int((budget_s - spent_s) / per_step), 0)


def _time_steps(model, batcher_factory, tc: TrainConfig, beat: float | None = None) -> float:
    # Seconds per optimizer step, measured on a copy with the loop itself: the median of the
    # steps after the first `_TIMING_SKIP`. With `beat` (the fastest candidate so far) it is a
    # race: the timing stops as soon as even its fastest counted step is slower than `beat` by
    # more than `_RETIME_FACTOR`, and returns that step, a lower bound for a candidate that lost.
    stamps: list[float] = []

    def counted() -> np.ndarray:
        return np.diff(stamps)[_TIMING_SKIP - 1 :]

    def lost() -> bool:
        steps = counted()
        return beat is not None and len(steps) > 0 and steps.min() > beat * _RETIME_FACTOR

    timing = dataclasses.replace(
        tc,
        steps=_TIMING_STEPS,
        warmup=1,
        schedule="cosine",
        eval_every=0,
        checkpoint_every=0,
        log_every=_TIMING_STEPS,
    )
    with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory() as tmp:
        train(
            deepcopy(model),
            batcher_factory(),
            timing,
            tmp,
            resume=False,
            progress=lambda r: stamps.append(time.perf_counter()) if r["kind"] == "step" else None,
            stop_when=lost,
        )
    return float(counted().min() if lost() else np.median(counted()))


def _time_eval(model, evaluate: Callable[[Any], Any]) -> float:
    # Seconds per held-out evaluation, timed once on a copy (the plan's winner only).
    copy = deepcopy(model)
    start = time.perf_counter()
    evaluate(copy)
    return time.perf_counter() - start


def _time_threads(model, batcher_factory, tc: TrainConfig, choices: list[int]):
    # Each candidate thread count timed in turn, each racing the fastest before it; the fastest
    # is the plan's.
    timings: dict[int, float] = {}
    for n in dict.fromkeys(choices):
        with num_threads(n):
            timings[n] = _time_steps(
                model, batcher_factory, tc, min(timings.values(), default=None)
            )
    return min(timings, key=timings.__getitem__), timings


def _precision_choices(cfg: RunConfig, tc: TrainConfig, model) -> list[str]:
    # "auto" on a CPU with bf16 instructions: bf16, then fp32, timed (bf16 first: it was the
    # faster or as fast on every such chip measured, so the race usually cuts fp32 short).
    # Elsewhere the config's one.
    cpu = next(model.parameters()).device.type == "cpu"
    if cfg.train.precision == "auto" and cpu and tc.autocast == "bf16":
        return ["bf16", "none"]
    return [tc.autocast]


def _compile_candidate(cfg: RunConfig, tc: TrainConfig, autocast: str) -> bool:
    # "auto" times a compiled step only where it can pay for its compilation: a budget of at
    # least `_COMPILE_MIN_BUDGET_S` for the precision chosen, one process (data-parallel ranks
    # must train alike, and a rank that compiled would wait for one that did not), and a loop
    # not compiled already.
    single = int(os.environ.get("WORLD_SIZE", "1")) == 1
    return (
        cfg.train.compile == "auto"
        and not tc.compile
        and single
        and cfg.train.time_budget_s >= _COMPILE_MIN_BUDGET_S[autocast]
    )


def _thread_choices(cfg: RunConfig, most: int) -> list[int]:
    # One fixed count, or one thread and torch's count, one first: on a busy machine torch's
    # count is the slow one, and a race loses least time when the slow candidate comes second.
    # Data-parallel ranks keep what the launcher set (torchrun gives each process one thread):
    # the ranks must train alike.
    if cfg.train.threads > 0:
        return [cfg.train.threads]
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or most <= 1:
        return [most]
    return [1, most]


def _agree(total: int) -> int:
    # The smallest of the ranks' totals (the slowest rank sets the pace of all).
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        device = "cuda" if torch.distributed.get_backend() == "nccl" else "cpu"
        agreed = torch.tensor([total], dtype=torch.int64, device=device)
        torch.distributed.all_reduce(agreed, op=torch.distributed.ReduceOp.MIN)
        return int(agreed.item())
    return total


def _decide(cfg: RunConfig, plan: dict[str, Any], done: int, spent: float, per_step: float):
    # Steps 2 and 3 of the plan: the total the budget reaches from here, where the decay starts,
    # and whether one more re-plan before it is worth a stop. Data-parallel ranks timed
    # themselves separately, so they agree on the total first; the rest follows from it.
    t = cfg.train
    total = plan_steps(
        t.time_budget_s, spent, per_step, plan["seconds_per_eval"], t.eval_every, done
    )
    total = _agree(max(done + 1, t.warmup + 2, min(t.steps, total)))
    if t.schedule == "wsd":
        decay = decay_steps(total, plan["warmup"], t.decay_fraction)
        decay = min(decay, total - max(done, plan["warmup"]))
        gap = total - decay - done
        final = gap < max(_MIN_GAP_STEPS, 0.1 * total) or plan["replans"] >= _MAX_STOPS
    else:
        decay, gap, final = 0, 0, True
    # The planned stops halve the stable phase that is left; after the last of them the phase
    # runs to the decay's start, where only an early stop (the speed moved) interrupts it.
    planned = plan["replans"] - plan.setdefault("early_stops", 0)
    replan_at = done + gap // 2 if planned < _MAX_REPLANS else done + gap
    plan.update(steps=total, decay_steps=decay, final=final, replan_at=replan_at)
    plan["history"].append(
        {
            "at_step": done,
            "seconds_spent": spent,
            "seconds_per_step": per_step,
            "steps": total,
            "threads": plan.get("threads"),
        }
    )
    return plan


def _first_plan(cfg: RunConfig, tc: TrainConfig, model, batcher_factory, eval_for) -> dict:
    start = time.perf_counter()
    most = torch.get_num_threads()
    # The thread counts first, in the first precision (bf16 where there is a choice); then the
    # other precision at the winning count; then, where it may pay, the compiled loss at the
    # winning count and precision. Every candidate after the first races the fastest so far;
    # the evaluation is timed once, for the winner.
    precisions = _precision_choices(cfg, tc, model)
    first = dataclasses.replace(tc, autocast=precisions[0])
    threads, timings = _time_threads(model, batcher_factory, first, _thread_choices(cfg, most))
    by_precision = {precisions[0]: timings[threads]}
    compile_error = None
    with num_threads(threads):
        for autocast in precisions[1:]:
            timed = dataclasses.replace(tc, autocast=autocast)
            by_precision[autocast] = _time_steps(
                model, batcher_factory, timed, min(by_precision.values())
            )
        autocast = min(by_precision, key=by_precision.__getitem__)
        by_compile = {tc.compile: by_precision[autocast]}
        if _compile_candidate(cfg, tc, autocast):
            timed = dataclasses.replace(tc, autocast=autocast, compile=True)
            try:
                by_compile[True] = _time_steps(model, batcher_factory, timed, by_compile[False])
            except Exception as e:
                # No C++ compiler, an operator Inductor cannot lower, ...: the run trains
                # eagerly, and the plan (and the report) says why.
                compile_error = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"
        compiled = min(by_compile, key=by_compile.__getitem__)
        per_eval = _time_eval(model, eval_for(autocast))
    tc = dataclasses.replace(tc, autocast=autocast, compile=compiled)
    per_step = by_compile[compiled]
    plan = {
        "budget_s": cfg.train.time_budget_s,
        "schedule": cfg.train.schedule,
        "warmup": tc.warmup,
        "seconds_per_step": per_step,
        "seconds_per_eval": per_eval,
        "threads": threads,
        "max_threads": most,
        "thread_timings": {str(n): t for n, t in timings.items()},
        "autocast": autocast,
        "precision_timings": by_precision,
        "compile": compiled,
        "compile_timings": {"compiled" if c else "eager": t for c, t in by_compile.items()},
        "replans": 0,
        "history": [],
    }
    if compile_error:
        plan["compile_error"] = compile_error
    _decide(cfg, plan, 0, time.perf_counter() - start, per_step)
    plan["warmup"] = min(tc.warmup, plan["steps"] // 5)
    # A short plan (a slow machine) shortens the warmup to a fifth of the steps; decide again
    # with it, so the decay is measured from the warmup that will be used.
    plan["history"].clear()
    return _decide(cfg, plan, 0, time.perf_counter() - start, per_step)


def _planned(tc: TrainConfig, plan: dict[str, Any]) -> TrainConfig:
    schedule = {"decay_steps": plan["decay_steps"]} if plan["schedule"] == "wsd" else {}
    return dataclasses.replace(
        tc,
        steps=plan["steps"],
        warmup=min(plan["warmup"], plan["steps"] - 1),
        autocast=plan["autocast"],
        compile=plan["compile"],
        meta={**tc.meta, "time_plan": plan},
        **schedule,
    )


def _median_interval(stamps: list[float]) -> float | None:
    gaps = np.diff(stamps)[_TIMING_SKIP:]
    return float(np.median(gaps)) if len(gaps) >= 5 else None


def _moved(measured: float, expected: float) -> bool:
    # The speed left the plan's band: by more than `_RETIME_FACTOR` either way.
    return not 1 / _RETIME_FACTOR < measured / expected < _RETIME_FACTOR


def _drifted(stamps: list[float], expected: float) -> bool:
    # True when the median of the last `_DRIFT_WINDOW` step intervals left the plan's band.
    if len(stamps) <= _DRIFT_WINDOW + _TIMING_SKIP:
        return False
    recent = float(np.median(np.diff(stamps[-_DRIFT_WINDOW - 1 :])))
    return _moved(recent, expected)


def _train_on_budget(cfg, tc, out, model, batcher, batcher_factory, eval_for, progress, rank):
    plan = read_schedule(out)
    # Time already spent by earlier processes of this run (their last decision's count; the
    # steps they trained after it are added below at the measured rate). Read before a first
    # plan is made: that plan's own timing is counted by the clock started here, once.
    spent_before = plan["history"][-1]["seconds_spent"] if plan.get("history") else 0.0
    started = time.perf_counter()
    if not plan:
        plan = _first_plan(cfg, tc, model, batcher_factory, eval_for)
    # A plan written before threads (or the precision) were part of it ran with torch's count
    # (and the config's precision).
    plan.setdefault("threads", torch.get_num_threads())
    plan.setdefault("max_threads", plan["threads"])
    plan.setdefault("autocast", tc.autocast)
    plan.setdefault("compile", tc.compile)
    tc = dataclasses.replace(tc, autocast=plan["autocast"], compile=plan["compile"])
    eval_fn = eval_for(plan["autocast"])
    single = int(os.environ.get("WORLD_SIZE", "1")) == 1

    def write(plan: dict[str, Any]) -> None:
        if rank == 0:
            atomic_write_json(Path(out) / SCHEDULE_FILE, plan)

    # Each phase trains to the plan's next stop (or an early one, when the speed moved),
    # stamping every step, so the re-plan measures the run's own steps.
    write(plan)
    results, lost = [], 0
    while not plan["final"]:
        stamps: list[float] = []

        def timed(record: dict[str, Any], stamps=stamps) -> None:
            if record["kind"] == "step":
                stamps.append(time.perf_counter())
            if progress is not None:
                progress(record)

        phase = _planned(tc, plan)
        expected = plan["history"][-1]["seconds_per_step"]
        with num_threads(plan["threads"]):
            result = train(
                model,
                batcher,
                phase,
                out,
                eval_fn=eval_fn,
                progress=timed,
                stop_at=plan["replan_at"],
                stop_when=partial(_drifted, stamps, expected) if single else None,
            )
        # After an early stop only the recent steps show the new speed.
        results.append(result)
        recent = stamps[-_DRIFT_WINDOW - 1 :] if result.steps < plan["replan_at"] else stamps
        measured = _median_interval(recent) or expected
        # Steps trained by an earlier, interrupted process count at the measured rate.
        lost += max((result.resumed_from or 0) - plan["history"][-1]["at_step"], 0)
        choices = _thread_choices(cfg, plan["max_threads"])
        if len(choices) > 1 and _moved(measured, expected):
            # The machine changed speed: which thread count is faster may have changed too.
            threads, timings = _time_threads(model, batcher_factory, tc, choices)
            measured = measured if threads == plan["threads"] else timings[threads]
            plan["threads"] = threads
            plan["thread_timings"] = {str(n): t for n, t in timings.items()}
        # Re-plan from the time actually spent, and write the decision before training on.
        spent = spent_before + (time.perf_counter() - started) + lost * measured
        plan["replans"] += 1
        plan["early_stops"] = plan.get("early_stops", 0) + (result.steps < plan["replan_at"])
        plan = _decide(cfg, plan, result.steps, spent, measured)
        write(plan)
    with num_threads(plan["threads"]):
        results.append(
            train(model, batcher, _planned(tc, plan), out, eval_fn=eval_fn, progress=progress)
        )
    return results, plan


# ## Checking the checkpoints before a resume
#
# `infra`'s loader verifies checksums and loads tensors with `weights_only=True`, but it reports
# problems as exceptions from deep inside `torch.load`, whose advice for a refused pickle is to
# pass `weights_only=False`, the one thing never to do with a file one did not write. Here each
# file of the checkpoint a resume would use is checked first, and a problem becomes one line that
# names the file and the previous intact checkpoint. A `latest` pointer that is garbage is only a
# pointer: it is rewritten to name the newest intact checkpoint.
def checkpoint_problem(path: Path) -> str | None:
    """Why checkpoint folder `path` cannot be resumed from (naming the file), or None if intact."""
    try:
        meta = json.loads((path / "meta.json").read_text())
        files, fmt = meta["files"], meta["format"]
        if not isinstance(files, dict) or not isinstance(meta["step"], int):
            raise TypeError("files must be a table and step an integer")
        meta["data_state"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{path / 'meta.json'} is not valid checkpoint metadata"
    if fmt != CHECKPOINT_FORMAT:
        return f"{path / 'meta.json'} has checkpoint format {fmt!r}, not {CHECKPOINT_FORMAT}"
    # Every file listed must exist and hash to the digest written beside it.
    for name, digest in files.items():
        file = path / name
        if not file.is_file():
            return f"{file} is missing"
        if hashlib.sha256(file.read_bytes()).hexdigest() != digest:
            return f"{file} is damaged (its checksum does not match: truncated or changed)"
    # The two pickled files are loaded the safe way once, so a planted pickle is refused here
    # with a plain message rather than deep inside the resume.
    for name in ("optimizer.pt", "rng.pt"):
        if name in files:
            try:
                torch.load(path / name, map_location="cpu", weights_only=True)
            except pickle.UnpicklingError:
                return (
                    f"{path / name} holds pickled Python objects, which could run code when "
                    "loaded; it was refused"
                )
            except (RuntimeError, ValueError, EOFError, OSError) as e:
                return f"{path / name} cannot be read ({str(e).splitlines()[0]})"
    return None


def check_checkpoints(ckpt_dir: Path, run_path: Path, log: Callable[[str], None]) -> None:
    """Refuse to resume from a damaged checkpoint; repair a garbage `latest` pointer."""
    found = list_checkpoints(ckpt_dir)
    if not found:
        return
    # A garbage `latest` pointer is only a pointer: rewrite it to the newest checkpoint.
    pointer = Path(ckpt_dir) / "latest"
    try:
        name = pointer.read_text(encoding="ascii").strip() if pointer.exists() else found[-1].name
        target = Path(ckpt_dir) / name
        valid = name in {p.name for p in found} and target.is_dir()
    except (OSError, ValueError):
        valid = False
    if not valid:
        target = found[-1]
        atomic_write_text(pointer, target.name + "\n")
        log(f"train: the checkpoint pointer {pointer} was damaged; it now names {target.name}")
    # A damaged checkpoint stops the resume, naming the file and the intact one before it.
    problem = checkpoint_problem(target)
    if problem is None:
        return
    earlier = [p for p in found if p.name < target.name and checkpoint_problem(p) is None]
    if earlier:
        advice = (
            f"the previous checkpoint {earlier[-1].name} is intact: move {target} out of "
            f"{ckpt_dir} and run `capstone resume {run_path}` to continue from it"
        )
    else:
        advice = f"no earlier checkpoint is intact: remove {ckpt_dir} to train from the start"
    raise CapstoneError(f"cannot resume training: {problem}; {advice}")


def run_train(
    cfg: RunConfig,
    run: RunFolder,
    out: Path,
    *,
    vocab_size: int,
    device: str,
    progress: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The train stage: train (or resume) the model into `out`; return the stage's metrics."""
    # Under torchrun each rank builds the same model and draws its own block of every batch;
    # the factory makes fresh batchers for the timing copies, which must not move the real one.
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    model = build_model(cfg, vocab_size).to(device)

    def batcher_factory() -> ShardBatcher:
        return ShardBatcher(
            TokenShards(run.path / "data" / "train"),
            cfg.train.batch_size,
            cfg.model.max_seq_len,
            seed=cfg.seed,
            rank=rank,
            world_size=world_size,
        )

    # The held-out windows are fixed once, so every evaluation scores the same tokens; the
    # evaluation's precision follows the training's, which the time plan may choose.
    batcher = batcher_factory()
    tc = loop_config(cfg, device)
    held = heldout_batches(
        run.heldout_stream(),
        cfg.model.max_seq_len,
        cfg.train.batch_size,
        cfg.train.eval_batches,
    )

    def eval_for(autocast: str):
        return lambda m: evaluate_loss(m, held, autocast=autocast)

    # Check what a resume would load, then train: on a budget through the time plan, or for
    # the fixed number of steps.
    check_checkpoints(Path(out) / CHECKPOINTS, run.path, log)
    if cfg.train.time_budget_s > 0:
        results, plan = _train_on_budget(
            cfg, tc, out, model, batcher, batcher_factory, eval_for, progress, rank
        )
    else:
        with num_threads(cfg.train.threads or torch.get_num_threads()):
            eval_fn = eval_for(tc.autocast)
            results = [train(model, batcher, tc, out, eval_fn=eval_fn, progress=progress)]
        plan = {}
    # The stage's metrics: what was trained, how the plan decided, and the final losses.
    result = results[-1]
    if plan.get("compile_error"):
        log(f"train: torch.compile failed, so the run trained eagerly ({plan['compile_error']})")
    if rank == 0:
        save_trained(model, out)
    return {
        "steps": result.steps,
        "time_budget_s": cfg.train.time_budget_s,
        "time_plan": plan,
        "seconds_per_step_measured": plan["history"][-1]["seconds_per_step"] if plan else None,
        "threads": plan.get("threads", cfg.train.threads or torch.get_num_threads()),
        "resumed_from": next((r.resumed_from for r in results), None),
        "final_train_loss": result.final_loss,
        "final_eval_loss": result.last_eval.get("loss"),
        "tokens_this_call": sum(r.tokens for r in results),
        "tokens_per_step": cfg.train.batch_size
        * cfg.train.grad_accum
        * cfg.model.max_seq_len
        * world_size,
        "seconds_this_call": round(sum(r.elapsed_s for r in results), 3),
        "schedule": cfg.train.schedule,
        "autocast": plan.get("autocast", tc.autocast),
        "compile": plan.get("compile", tc.compile),
        "world_size": world_size,
        "device": device,
        "model": describe(model),
    }
