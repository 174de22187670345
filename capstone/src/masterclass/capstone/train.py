"""# Stage 4 · Training: the loop, resumable

The model of the previous chapter is trained by `training`'s pretraining loop
(`masterclass.training.loop.train`, Module 8), which this stage configures and watches:

- **data**: `infra`'s `ShardBatcher` draws windows of `context + 1` tokens from the memory-mapped
  train shards in a seeded order; its position (epoch, windows consumed) goes into every checkpoint;
- **optimizer**: AdamW ($\\beta = (0.9, 0.95)$, decoupled weight decay on matrices only), learning rate
  with linear warmup then cosine decay to `min_lr`,
  $$ \\eta_t = \\eta_{min} + \\tfrac12 (\\eta_{max} - \\eta_{min})
     \\Bigl(1 + \\cos \\pi \\tfrac{t - t_w}{t_{max} - t_w}\\Bigr) \\quad (t \\ge t_w); $$
- **gradient clipping** to global norm `grad_clip`, **gradient accumulation** over `grad_accum`
  micro-batches, and **bf16 autocast** where it helps (`precision = "auto"`: on a GPU, and on a CPU
  for models of width ≥ 128, where bf16 matrix products outrun their casts; tiny models stay fp32);
- **evaluation**: every `eval_every` steps, the loss on the first `eval_batches` batches of held-out
  windows (the same ones each time, so the curve is comparable), one log line each;
- **checkpoints** every `checkpoint_every` steps, atomic, with weights (safetensors), optimizer, RNG
  and data position: killing the run at any moment and running `capstone resume RUN` gives bitwise
  the weights an uninterrupted run would have (the tests check it on the CPU);
- **faults**: a non-finite loss stops the run before the update, naming the step, and the last good
  checkpoint stays the one a resume starts from.

**Data parallel.** Run the stage under `torchrun` and the loop averages gradients across processes
(gloo on a CPU, NCCL on GPUs); each rank draws its own block of windows of every step:

```
capstone run --until data --out runs/dp
torchrun --nproc_per_node=2 -m masterclass.capstone stage train runs/dp
capstone resume runs/dp
```

The final weights are also written as `train/model.safetensors` with `model_config.json`, the
input of every later stage.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np
import torch

from masterclass.capstone.config import RunConfig
from masterclass.capstone.model import build_model, describe, save_trained
from masterclass.capstone.run_folder import atomic_write_json
from masterclass.infra.shards import ShardBatcher, TokenShards
from masterclass.training.loop import TrainConfig, evaluate_loss, train


def precision_for(cfg: RunConfig, device: str) -> str:
    """Resolve `train.precision` to the loop's `autocast` setting ("bf16" or "none")."""
    if cfg.train.precision == "bf16":
        return "bf16"
    if cfg.train.precision == "fp32":
        return "none"
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "none"
    return "bf16" if cfg.model.d_model >= 128 else "none"


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


def train_config(cfg: RunConfig, device: str) -> TrainConfig:
    """The training loop's config for this run."""
    t = cfg.train
    return TrainConfig(
        steps=t.steps,
        batch_size=t.batch_size,
        grad_accum=t.grad_accum,
        lr=t.lr,
        warmup=min(t.warmup_steps, t.steps - 1),
        min_lr=t.min_lr,
        weight_decay=t.weight_decay,
        clip_norm=t.grad_clip if t.grad_clip > 0 else None,
        eval_every=t.eval_every,
        eval_batches=t.eval_batches,
        checkpoint_every=t.checkpoint_every,
        autocast=precision_for(cfg, device),
        seed=cfg.seed,
        log_every=max(1, min(10, t.steps // 50)),
    )


# ## A time budget instead of a step count
#
# "Train for eight minutes" is what a user with a laptop means, but the cosine schedule
# must know the total number of steps $t_{max}$ before the first one. So the stage first *times*
# the training loop: a copy of the model takes eight steps on its own batcher (with the RNG state
# saved and restored, so the real run is untouched), the median of the last five is kept, and one
# held-out evaluation is timed. Then
# $$ t_{max} = \Bigl\lfloor \frac{\text{budget} - \text{timing}}
#    {\text{s/step} + \text{s/eval} / \text{eval\_every}} \Bigr\rfloor , $$
# capped by `train.steps`, with the warmup shortened to at most a fifth of $t_{max}$ on a machine so
# slow that the budget buys few steps. Both go to `train/schedule.json` before training starts; a
# resumed run reads the file, so it continues the same schedule and stays bitwise equal to an
# uninterrupted run. Two fresh runs on machines of different speed train for different numbers of
# steps, which is the point.
SCHEDULE_FILE = "schedule.json"
# Steps the throwaway copy takes. The first few are slow (allocations, and oneDNN choosing and
# compiling its bf16 kernels for each shape), so only the steps after `_TIMING_SKIP` are counted.
_TIMING_STEPS = 8
_TIMING_SKIP = 3


def read_schedule(out: Path) -> dict[str, Any]:
    """The step count resolved from the time budget (`{}` before it is known or without one)."""
    path = Path(out) / SCHEDULE_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _time_steps(model, batcher_factory, tc: TrainConfig, eval_fn) -> tuple[float, float]:
    # Seconds per optimizer step and per evaluation, measured on copies with the loop itself.
    stamps: list[float] = []
    copy = deepcopy(model)
    timing = dataclasses.replace(
        tc, steps=_TIMING_STEPS, warmup=1, eval_every=0, checkpoint_every=0, log_every=_TIMING_STEPS
    )
    with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory() as tmp:
        train(
            copy,
            batcher_factory(),
            timing,
            tmp,
            resume=False,
            progress=lambda r: stamps.append(time.perf_counter()) if r["kind"] == "step" else None,
        )
        start = time.perf_counter()
        eval_fn(copy)
        per_eval = time.perf_counter() - start
    return float(np.median(np.diff(stamps)[_TIMING_SKIP - 1 :])), per_eval


def _budgeted_schedule(cfg: RunConfig, tc: TrainConfig, out: Path, model, batcher_factory, eval_fn):
    known = read_schedule(out)
    if known:
        return int(known["steps"]), int(known["warmup"])
    start = time.perf_counter()
    per_step, per_eval = _time_steps(model, batcher_factory, tc, eval_fn)
    remaining = max(cfg.train.time_budget_s - (time.perf_counter() - start), 0.0)
    total = int(remaining / (per_step + per_eval / max(tc.eval_every, 1)))
    total = max(2, min(cfg.train.steps, total))
    # Data-parallel ranks timed themselves separately: all must agree on one total (the smallest).
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        agreed = torch.tensor([total], dtype=torch.int64, device=next(model.parameters()).device)
        torch.distributed.all_reduce(agreed, op=torch.distributed.ReduceOp.MIN)
        total = int(agreed.item())
    warmup = min(tc.warmup, total // 5)
    if int(os.environ.get("RANK", "0")) == 0:
        atomic_write_json(
            Path(out) / SCHEDULE_FILE,
            {
                "steps": total,
                "warmup": warmup,
                "seconds_per_step": per_step,
                "seconds_per_eval": per_eval,
                "budget_s": cfg.train.time_budget_s,
            },
        )
    return total, warmup


def run_train(
    cfg: RunConfig,
    run_path: Path,
    out: Path,
    *,
    vocab_size: int,
    device: str,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The train stage: train (or resume) the model into `out`; return the stage's metrics."""
    data = Path(run_path) / "data"
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    model = build_model(cfg.model, vocab_size, seed=cfg.seed).to(device)

    def batcher_factory() -> ShardBatcher:
        return ShardBatcher(
            TokenShards(data / "train"),
            cfg.train.batch_size,
            cfg.model.context,
            seed=cfg.seed,
            rank=rank,
            world_size=world_size,
        )

    batcher = batcher_factory()
    tc = train_config(cfg, device)
    held = heldout_batches(
        TokenShards(data / "heldout").to_numpy(),
        cfg.model.context,
        cfg.train.batch_size,
        cfg.train.eval_batches,
    )

    def eval_fn(m: torch.nn.Module) -> float:
        return evaluate_loss(m, held, autocast=tc.autocast)

    if cfg.train.time_budget_s > 0:
        steps, warmup = _budgeted_schedule(cfg, tc, out, model, batcher_factory, eval_fn)
        tc = dataclasses.replace(tc, steps=steps, warmup=min(warmup, steps - 1))

    result = train(model, batcher, tc, out, eval_fn=eval_fn, progress=progress)
    schedule = read_schedule(out)
    if rank == 0:
        save_trained(model, out)
    return {
        "steps": result.steps,
        "time_budget_s": cfg.train.time_budget_s,
        "seconds_per_step_measured": schedule.get("seconds_per_step"),
        "resumed_from": result.resumed_from,
        "final_train_loss": result.final_loss,
        "final_eval_loss": result.last_eval.get("loss"),
        "tokens_this_call": result.tokens,
        "tokens_per_step": cfg.train.batch_size
        * cfg.train.grad_accum
        * cfg.model.context
        * world_size,
        "seconds_this_call": round(result.elapsed_s, 3),
        "autocast": tc.autocast,
        "world_size": world_size,
        "device": device,
        "model": describe(model),
    }
