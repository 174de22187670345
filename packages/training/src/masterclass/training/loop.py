"""# The pretraining loop

Pretraining a language model is one loop: draw a batch of token windows, predict every next
token, minimise the mean cross-entropy
$$\\mathcal L(\\theta) = -\\frac{1}{BT}\\sum_{b,t} \\log p_\\theta(x_{b,t+1} \\mid x_{b,\\le t}),$$
update, repeat. Everything else in this file is what makes that loop *production grade*:

1. **Gradient accumulation.** A step may need a larger batch than fits in memory. Summing the
   gradients of $k$ micro-batches, each loss divided by $k$, gives exactly the gradient of the
   mean loss over the $k$ micro-batches together.
2. **Gradient clipping.** If $\\lVert g\\rVert_2 > c$, $g \\leftarrow g\\,c/\\lVert g\\rVert_2$: a
   rare huge gradient (a loss spike) cannot throw the weights far away. The norm is logged; its
   trend is the first symptom of instability.
3. **Mixed precision.** Under `torch.autocast(dtype=bfloat16)` matrix products run in bfloat16
   (8 exponent bits like float32, so no loss scaling is needed) while weights, optimizer state and
   the loss stay in float32.
4. **Schedule.** The learning rate of step $t$ is set from $t$ alone (`schedule.py`).
5. **Evaluation.** Every `eval_every` steps, the loss on held-out data, with the model in eval
   mode and the training RNG untouched.
6. **Metrics.** One JSON object per line in `metrics.jsonl`: loss, learning rate, gradient norm,
   tokens per second; eval lines carry the held-out loss.
7. **Checkpoints and resume.** Atomic checkpoints (`masterclass.infra.checkpoint`) hold weights,
   optimizer, RNG and data position; `train` resumes from the latest one by itself, and the
   resumed run is *bitwise* equal to one never interrupted (on the CPU).
8. **Faults.** A non-finite loss or gradient stops the run *before* the update with
   `NonFiniteLossError`, naming the step, and leaves the last good checkpoint as `latest`.
9. **Data parallelism.** Under `torchrun` the same function runs on $W$ processes; gradients are
   averaged by all-reduce (`masterclass.infra.data_parallel`), rank 0 writes the files.

The optimizer is `masterclass.training.optim.AdamW` (Module 1's AdamW step) with weight decay on
matrices only.

Left out: ZeRO/FSDP sharding, activation checkpointing, `torch.compile`, and float16 loss scaling.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from masterclass.infra.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from masterclass.infra.data_parallel import (
    DistributedContext,
    all_reduce_gradients,
    all_reduce_mean,
    broadcast_parameters,
    init_distributed,
)
from masterclass.training.optim import AdamW, param_groups_for_weight_decay
from masterclass.training.schedule import LRSchedule, make_schedule

__all__ = [
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "evaluate_loss",
    "train",
]


@dataclass
class TrainConfig:
    """Hyper-parameters of `train`; checked when created."""

    # Number of optimizer steps of the whole run.
    steps: int = 1000
    # Sequences per micro-batch on each process (must equal the batcher's batch_size).
    batch_size: int = 16
    # Micro-batches whose gradients are summed before each optimizer step.
    grad_accum: int = 1
    # Peak learning rate.
    lr: float = 3e-3
    # Linear warmup steps.
    warmup: int = 100
    # Learning rate at the end of the cosine decay.
    min_lr: float = 3e-4
    # AdamW's decoupled weight decay (matrices only).
    weight_decay: float = 0.1
    # AdamW's moment decays; beta2 = 0.95 is the usual choice for language models.
    betas: tuple[float, float] = (0.9, 0.95)
    # Clip the global gradient norm to this value (None: no clipping, the norm is still logged).
    clip_norm: float | None = 1.0
    # Held-out evaluation every this many steps (0: only at the end).
    eval_every: int = 100
    # Batches per held-out evaluation (when `train` is given `eval_data`).
    eval_batches: int = 10
    # Checkpoint every this many steps (0: only at the end).
    checkpoint_every: int = 100
    # Number of checkpoints kept on disk.
    keep_checkpoints: int = 2
    # "bf16" for bfloat16 autocast of the forward pass, "none" for full float32.
    autocast: str = "none"
    # Seed of the training RNG (dropout); the data order is the batcher's own seed.
    seed: int = 0
    # Write a metrics line every this many steps.
    log_every: int = 10
    # Extra, JSON-serialisable values stored with every checkpoint (e.g. the model config).
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grad_accum", "log_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup", "eval_every", "checkpoint_every", "eval_batches"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.warmup >= self.steps:
            raise ValueError(f"warmup ({self.warmup}) must be smaller than steps ({self.steps})")
        if self.autocast not in ("bf16", "none"):
            raise ValueError(f"autocast must be 'bf16' or 'none', got {self.autocast!r}")
        if self.clip_norm is not None and self.clip_norm <= 0:
            raise ValueError(f"clip_norm must be > 0 or None, got {self.clip_norm}")
        self.betas = tuple(self.betas)


@dataclass
class TrainResult:
    """What a finished `train` call reports."""

    # Optimizer steps completed (equals config.steps).
    steps: int
    # Mean training loss of the last step.
    final_loss: float
    # The last held-out evaluation (empty without eval_fn/eval_data).
    last_eval: dict[str, float]
    # The metrics file.
    metrics_path: Path
    # The final checkpoint (None on ranks other than 0).
    checkpoint: Path | None
    # Step of the checkpoint this call resumed from (None: started fresh).
    resumed_from: int | None
    # Training tokens processed in this call, all ranks together.
    tokens: int
    # Wall-clock seconds of this call.
    elapsed_s: float


class NonFiniteLossError(RuntimeError):
    """The loss or the gradient norm became NaN or infinite; the update was not applied."""

    def __init__(self, step: int, what: str, value: float, checkpoint: Path | None) -> None:
        self.step, self.value, self.checkpoint = step, value, checkpoint
        where = f"the last good checkpoint is {checkpoint}" if checkpoint else "no checkpoint yet"
        super().__init__(
            f"{what} became {value} at step {step}; the update was not applied and {where}. "
            "Resume from it with a lower learning rate or stronger clipping."
        )


def _autocast(mode: str, device: torch.device) -> contextlib.AbstractContextManager:
    if mode == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x)  # (B, T, V)
    if logits.dtype in (torch.bfloat16, torch.float16):
        # The softmax over V is computed in float32: bf16's 8-bit mantissa loses small probabilities.
        logits = logits.float()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


# ## Held-out evaluation
#
# The evaluation must not change what training does next: it runs without gradients, in eval
# mode (no dropout), inside `fork_rng` so that the training RNG continues untouched, and a
# batcher passed as `eval_data` is rewound after use, so every evaluation sees the same batches.
@torch.no_grad()
def evaluate_loss(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    autocast: str = "none",
) -> float:
    """Mean next-token cross-entropy (nats per token) of `model` over `(x, y)` batches (B, T)."""
    if autocast not in ("bf16", "none"):
        raise ValueError(f"autocast must be 'bf16' or 'none', got {autocast!r}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.random.fork_rng(devices=[]):
        for x, y in batches:
            with _autocast(autocast, device):
                total += _loss(model, x.to(device), y.to(device)).item() * y.numel()
            count += y.numel()
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate_loss got no batches")
    return total / count


def _eval_batches(eval_data: Any, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    state = eval_data.state_dict()
    batches = [eval_data.next_batch() for _ in range(n)]
    eval_data.load_state_dict(state)
    return batches


class _Metrics:
    """Append-only JSON-lines file written by rank 0; on resume, lines past the checkpoint go."""

    def __init__(self, path: Path, active: bool, resume_step: int | None) -> None:
        self.path, self.active = path, active
        if not active:
            return
        if resume_step is None:
            self.path.write_text("")
        elif self.path.exists():
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= resume_step
            ]
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text("".join(line + "\n" for line in kept))
            os.replace(tmp, self.path)

    def write(self, record: dict[str, Any]) -> None:
        if self.active:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")


def _check_batcher(batcher: Any, config: TrainConfig, ctx: DistributedContext) -> None:
    if not hasattr(batcher, "next_batch") or not hasattr(batcher, "state_dict"):
        raise TypeError("batcher needs next_batch(), state_dict() and load_state_dict()")
    size = getattr(batcher, "batch_size", config.batch_size)
    if size != config.batch_size:
        raise ValueError(f"batcher.batch_size={size} but config.batch_size={config.batch_size}")
    world = getattr(batcher, "world_size", ctx.world_size)
    if world != ctx.world_size or getattr(batcher, "rank", ctx.rank) != ctx.rank:
        raise ValueError(
            f"the batcher is for rank {getattr(batcher, 'rank', '?')} of {world} but this "
            f"process is rank {ctx.rank} of {ctx.world_size}"
        )


# ## The loop
#
# One iteration = one optimizer step = `grad_accum` micro-batches on each of `W` ranks. The order
# inside the step matters: accumulate, all-reduce, check finiteness (on the *reduced* loss, so all
# ranks agree and stop together), clip, step. The step counter in a checkpoint counts completed
# optimizer steps, and the schedule, the data position and the RNG are all restored from it.
def train(
    model: nn.Module,
    batcher: Any,
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    eval_fn: Callable[[nn.Module], float | dict[str, float]] | None = None,
    eval_data: Any = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    resume: bool = True,
    ctx: DistributedContext | None = None,
) -> TrainResult:
    """Train `model` on batches from `batcher` for `config.steps` optimizer steps.

    Args:
        model: maps token ids (B, T) to logits (B, T, V); already on its device.
        batcher: yields `(x, y)` (B, T) via `next_batch()`, resumable through
            `state_dict()`/`load_state_dict()` (e.g. `masterclass.infra.ShardBatcher`).
        config: the hyper-parameters.
        run_dir: gets `metrics.jsonl` and `checkpoints/`.
        eval_fn: `model -> loss` or `model -> {name: value}` (must contain `loss` to be
            called a loss), run every `eval_every` steps and at the end.
        eval_data: alternatively, a batcher of held-out data; `config.eval_batches` batches
            (the same ones every time) are evaluated with `evaluate_loss`.
        progress: called with a dict after every step (`kind="step"`) and evaluation
            (`kind="eval"`), e.g. to drive a progress bar.
        resume: continue from the latest checkpoint in `run_dir/checkpoints` if there is one.
        ctx: the distributed context; by default read from torchrun's environment. On GPUs,
            call `init_distributed("cuda")` first, move the model to `ctx.device` and pass `ctx`.

    Raises:
        NonFiniteLossError: the loss or gradient norm was not finite (nothing was updated).
    """
    ctx = ctx or init_distributed(next(model.parameters()).device)
    _check_batcher(batcher, config, ctx)
    run_dir = Path(run_dir)
    ckpt_dir = run_dir / "checkpoints"
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    device = next(model.parameters()).device

    optimizer = AdamW(
        param_groups_for_weight_decay(model, config.weight_decay),
        lr=config.lr,
        betas=config.betas,
    )
    schedule = LRSchedule(
        optimizer,
        make_schedule(
            "cosine",
            base_lr=config.lr,
            warmup_steps=config.warmup,
            total_steps=config.steps,
            min_lr=config.min_lr,
        ),
    )

    # Start fresh (seeded) or restore everything from the latest checkpoint.
    start, resumed_from, last_good = 0, None, None
    found = latest_checkpoint(ckpt_dir) if resume else None
    if found is not None:
        state = load_checkpoint(found, model=model, optimizer=optimizer, map_location=device)
        saved = state["extra"].get("train_config", {})
        for key in ("batch_size", "grad_accum", "seed"):
            if key in saved and saved[key] != getattr(config, key):
                raise ValueError(
                    f"cannot resume from {found}: it was trained with {key}={saved[key]}, "
                    f"this config has {key}={getattr(config, key)}"
                )
        batcher.load_state_dict(state["data_state"])
        start = resumed_from = state["step"]
        last_good = found
    else:
        torch.manual_seed(config.seed + ctx.rank)  # each rank its own dropout masks
        broadcast_parameters(model, ctx)
    metrics = _Metrics(run_dir / "metrics.jsonl", ctx.is_main, resumed_from)

    def checkpoint(step: int) -> Path | None:
        path = None
        if ctx.is_main:
            extra = {"train_config": asdict(config), **config.meta}
            path = save_checkpoint(
                ckpt_dir,
                model=model,
                optimizer=optimizer,
                step=step,
                data_state=batcher.state_dict(),
                extra=extra,
                keep=config.keep_checkpoints,
            )
        if ctx.world_size > 1:
            torch.distributed.barrier()
        return path

    def evaluate(step: int) -> dict[str, float]:
        if eval_fn is not None:
            out = eval_fn(model)
            result = dict(out) if isinstance(out, dict) else {"loss": float(out)}
        elif eval_data is not None:
            batches = _eval_batches(eval_data, max(config.eval_batches, 1))
            result = {"loss": evaluate_loss(model, batches, autocast=config.autocast)}
        else:
            return {}
        record = {"kind": "eval", "step": step, **{f"eval_{k}": v for k, v in result.items()}}
        metrics.write(record)
        if progress is not None:
            progress(record)
        return result

    model.train()
    t_start = t_log = time.perf_counter()
    tokens = tokens_since_log = 0
    losses_since_log: list[float] = []
    loss_value, last_eval = float("nan"), {}
    for step in range(start, config.steps):
        lr = schedule.apply(step)
        optimizer.zero_grad(set_to_none=True)
        loss_sum = torch.zeros((), device=device, dtype=torch.float64)
        for _ in range(config.grad_accum):
            x, y = batcher.next_batch()  # (B, T), (B, T)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with _autocast(config.autocast, device):
                loss = _loss(model, x, y)
            (loss / config.grad_accum).backward()
            loss_sum += loss.detach()
            tokens_since_log += y.numel() * ctx.world_size
        all_reduce_gradients(model, ctx)
        loss_value = float(all_reduce_mean(loss_sum / config.grad_accum, ctx))
        if not math.isfinite(loss_value):
            raise NonFiniteLossError(step, "the training loss", loss_value, last_good)
        clip = config.clip_norm if config.clip_norm is not None else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
        if not math.isfinite(grad_norm):
            raise NonFiniteLossError(step, "the gradient norm", grad_norm, last_good)
        optimizer.step()
        done = step + 1
        losses_since_log.append(loss_value)

        record = {
            "kind": "step",
            "step": done,
            "loss": loss_value,
            "lr": lr,
            "grad_norm": grad_norm,
        }
        if done % config.log_every == 0 or done == config.steps:
            now = time.perf_counter()
            record["tokens_per_s"] = tokens_since_log / max(now - t_log, 1e-9)
            metrics.write(
                {
                    "kind": "train",
                    "step": done,
                    "loss": sum(losses_since_log) / len(losses_since_log),
                    "lr": lr,
                    "grad_norm": grad_norm,
                    "tokens_per_s": record["tokens_per_s"],
                    "elapsed_s": now - t_start,
                }
            )
            tokens += tokens_since_log
            tokens_since_log, losses_since_log, t_log = 0, [], now
        if progress is not None:
            progress(record)
        if (config.eval_every and done % config.eval_every == 0) or done == config.steps:
            last_eval = evaluate(done)
        if (config.checkpoint_every and done % config.checkpoint_every == 0) or (
            done == config.steps
        ):
            last_good = checkpoint(done)
    tokens += tokens_since_log
    if start == config.steps:
        last_eval = evaluate(start)
    return TrainResult(
        steps=config.steps,
        final_loss=loss_value,
        last_eval=last_eval,
        metrics_path=run_dir / "metrics.jsonl",
        checkpoint=last_good if ctx.is_main else None,
        resumed_from=resumed_from,
        tokens=tokens,
        elapsed_s=time.perf_counter() - t_start,
    )
