r"""# The pretraining loop

Pretraining a language model is one loop: draw a batch of token windows, predict every next
token, minimise the mean cross-entropy
$$\mathcal L(\theta) = -\frac{1}{BT}\sum_{b,t} \log p_\theta(x_{b,t+1} \mid x_{b,\le t}),$$
update, repeat. Everything else in this file is what makes that loop *production grade*:

1. **Gradient accumulation.** A step may need a larger batch than fits in memory. Summing the
   gradients of $k$ micro-batches, each loss divided by $k$, gives exactly the gradient of the
   mean loss over the $k$ micro-batches together.
2. **Gradient clipping.** If $\lVert g\rVert_2 > c$, $g \leftarrow g\,c/\lVert g\rVert_2$: a
   rare huge gradient (a loss spike) cannot throw the weights far away. The norm is logged; its
   trend is the first symptom of instability.
3. **Mixed precision.** Under `torch.autocast(dtype=bfloat16)` matrix products run in bfloat16
   (8 exponent bits like float32, so no loss scaling is needed) while weights, optimizer state and
   the loss stay in float32.
4. **Schedule.** The learning rate of step $t$ is set from $t$ alone (`schedule.py`): linear
   warmup then cosine decay, or warmup-stable-decay (`schedule="wsd"`), whose rate before the
   decay does not depend on the total number of steps, so a run may decide late how long it is.
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
10. **Fully sharded data parallelism.** With `parallel="fsdp"` each rank keeps only its rows of
   every weight, gradient and optimizer moment (`masterclass.infra.sharding`, ZeRO-3); the
   update is the same, and a checkpoint still holds the whole model, so nothing downstream
   knows how it was trained.
11. **Compilation.** With `compile=True` the loss (the model's forward and the cross-entropy) is
   compiled by `torch.compile` (`compiled_loss`), and with it their backward: Inductor fuses the
   element-wise chains and the bf16 casts between the matrix products into generated loops.
   The first step pays the compilation; later ones are shorter (Module 4's profiling chapter,
   `masterclass.perf.profiling`, measures by how much).

The optimizer is `masterclass.training.optim.AdamW` (Module 1's AdamW step) with weight decay on
matrices only, or with `optimizer="muon"` `masterclass.training.optim.Muon`: orthogonalised
momentum for the hidden matrices, AdamW for embeddings, head and vectors (`make_optimizer`).

**Reading the code.** `train` is a short list of named steps, each a function below with its own
explanation, in the order one optimizer step runs them:

| step | function | what it guarantees |
|---|---|---|
| restore or start | `_restore_or_start` | a resumed run continues bitwise where the checkpoint was |
| accumulate | `_accumulate` | the gradient of the mean loss over `grad_accum` micro-batches |
| all-reduce | `_all_reduce` | every rank holds the mean gradient (or its rows of it) and the mean loss |
| finite check | `_check_finite` | nothing is updated from a NaN |
| clip | `clip_grad_norm` | the global norm is at most `clip_norm` |
| update | `_update` | the learning rate of this step, then the optimizer's step |
| log | `_Metrics`, `_log` | one JSON line per `log_every` steps, equal after a resume |
| checkpoint | `_checkpoint` | everything above, atomically, including the log window |

What differs between data parallelism and FSDP (wrapping the model, reducing the gradients,
measuring their norm, gathering a whole checkpoint) is one small *strategy* object,
`DataParallel` or `FullyShardedDataParallel`, chosen by `TrainConfig.parallel`; the loop calls
it and does not otherwise know which one runs.

Left out: ZeRO-1/2 (optimizer or gradient sharding alone: `masterclass.infra.ZeroOptimizer`),
one FSDP unit per block with prefetching (here the whole model is one unit), sharded checkpoints
(`masterclass.infra.sharded_checkpoint`), activation checkpointing, compiling the optimizer's
step, and float16 loss scaling.

## Exercises

1. Write `accumulate(model, x, y, k)`: split the batch `x`, `y` `(N, T)` into `k` equal
   micro-batches, backpropagate each one's mean next-token cross-entropy divided by `k`
   (starting from zero gradients: the model arrives with stale ones), and return the
   parameters' gradients. They must equal the gradient of the whole batch's mean loss, computed
   by the checker in one backward pass (step 2 below says why; with micro-batches of unequal
   size they would not). Check it: `uv run pytest --exercise training.loop`
2. Write `clip_by_global_norm(grads, max_norm)` returning `(norm, clipped)`: the norm of all
   the gradients taken as one vector, and every tensor multiplied by the one factor
   $\min(1, c / (\lVert g \rVert_2 + 10^{-6}))$ of step 5, equal to
   `torch.nn.utils.clip_grad_norm_` (clipping each tensor by its own norm fails). Check it:
   `uv run pytest --exercise training.loop`
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

# The loop is assembled from earlier chapters: crash-safe files and checkpoints, the two ways of
# spreading a model over processes (whole copies, or 1/W shards of every weight), the optimizers
# and the learning-rate schedules.
from masterclass.infra.atomic import atomic_write_text
from masterclass.infra.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from masterclass.infra.data_parallel import (
    DistributedContext,
    all_reduce_gradients,
    all_reduce_mean,
    broadcast_parameters,
    init_distributed,
)
from masterclass.infra.sharding import (
    FullyShardedModule,
    all_gather_rows,
    pad_rows,
    sharded_grad_norm,
)
from masterclass.training.optim import (
    AdamW,
    Muon,
    muon_param_groups,
    param_groups_for_weight_decay,
)
from masterclass.training.schedule import LRSchedule, make_schedule

# The public surface: the config and result records, the two parallel strategies, and the three
# functions a caller uses (`train`, `evaluate_loss`, `clip_grad_norm`).
__all__ = [
    "PARALLEL_STRATEGIES",
    "Batcher",
    "DataParallel",
    "FullyShardedDataParallel",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "clip_grad_norm",
    "compiled_loss",
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
    # Learning rate at the end of the decay.
    min_lr: float = 3e-4
    # "cosine" (warmup, then cosine decay over the rest) or "wsd" (warmup, constant, then a
    # linear decay over the last `decay_steps`).
    schedule: str = "cosine"
    # Length of the final decay of the "wsd" schedule (ignored by "cosine").
    decay_steps: int = 0
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
    # Compile the loss with `torch.compile` (`compiled_loss`). The weights then differ from an
    # eager run's in the last bits (fused loops add in another order); a resumed run compiles
    # the same code again and stays bitwise equal to an uninterrupted compiled one.
    compile: bool = False
    # Seed of the training RNG (dropout); the data order is the batcher's own seed.
    seed: int = 0
    # Write a metrics line every this many steps.
    log_every: int = 10
    # Extra, JSON-serialisable values stored with every checkpoint (e.g. the model config).
    meta: dict[str, Any] = field(default_factory=dict)
    # "ddp": every rank holds the whole model, gradients are all-reduced; "fsdp": every rank
    # holds 1/W of the weights, gradients and optimizer state (ZeRO-3). Same updates, same
    # checkpoints.
    parallel: str = "ddp"
    # "adamw" for every parameter, or "muon": Muon for the hidden matrices and AdamW for
    # embeddings, head and vectors, at the same learning rate (`training.optim.Muon`).
    optimizer: str = "adamw"

    # Validation happens once, at construction: a bad value fails here, before any model is
    # built, rather than thousands of steps into a run.
    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grad_accum", "log_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup", "eval_every", "checkpoint_every", "eval_batches", "decay_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.warmup >= self.steps:
            raise ValueError(f"warmup ({self.warmup}) must be smaller than steps ({self.steps})")
        if self.schedule not in ("cosine", "wsd"):
            raise ValueError(f"schedule must be 'cosine' or 'wsd', got {self.schedule!r}")
        if self.schedule == "wsd" and not 1 <= self.decay_steps <= self.steps - self.warmup:
            raise ValueError(
                f"decay_steps ({self.decay_steps}) must be in [1, steps - warmup] "
                f"({self.steps - self.warmup}) for the wsd schedule"
            )
        # The string-valued choices must name a known mode.
        if self.autocast not in ("bf16", "none"):
            raise ValueError(f"autocast must be 'bf16' or 'none', got {self.autocast!r}")
        if self.clip_norm is not None and self.clip_norm <= 0:
            raise ValueError(f"clip_norm must be > 0 or None, got {self.clip_norm}")
        if self.parallel not in PARALLEL_STRATEGIES:
            raise ValueError(
                f"parallel must be one of {', '.join(map(repr, PARALLEL_STRATEGIES))}, "
                f"got {self.parallel!r}"
            )
        if self.optimizer not in ("adamw", "muon"):
            raise ValueError(f"optimizer must be 'adamw' or 'muon', got {self.optimizer!r}")
        if self.compile and self.parallel == "fsdp":
            # FSDP swaps whole weights in and out of the parameters around every forward.
            raise ValueError("compile=True is supported with parallel='ddp' only")
        if self.optimizer == "muon" and self.parallel == "fsdp":
            # Muon orthogonalises whole matrices; an FSDP rank holds only some rows of each.
            raise ValueError("optimizer='muon' needs whole matrices: use parallel='ddp' with it")
        self.betas = tuple(self.betas)

    def lr_schedule(self) -> Callable[[int], float]:
        """The function `step -> learning rate` of this config (Module 1's schedules)."""
        common = dict(base_lr=self.lr, warmup_steps=self.warmup, total_steps=self.steps)
        if self.schedule == "wsd":
            return make_schedule("wsd", **common, decay_steps=self.decay_steps, min_lr=self.min_lr)
        return make_schedule("cosine", **common, min_lr=self.min_lr)


@dataclass
class TrainResult:
    """What a finished `train` call reports."""

    # Optimizer steps completed (config.steps, or fewer when `stop_at`/`stop_when` stopped it).
    steps: int
    # Mean training loss of the last step (restored from the checkpoint after a resume).
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


# ## What the loop needs from its data
#
# Any object with these three methods can feed the loop: `masterclass.infra.ShardBatcher` is
# one, a list-backed toy batcher in a test is another. The state must be JSON-serialisable (it
# goes into the checkpoint's `meta.json`), and `load_state_dict(state_dict())` must make the next
# batch the one that would have come next. A batcher may also say its `batch_size`, `rank` and
# `world_size`; the loop checks them against its config and process when it does.
@runtime_checkable
class Batcher(Protocol):
    """A resumable source of training batches `(x, y)`, each (B, T) token ids."""

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next `(x, y)` pair, each (B, T) token ids, `y` shifted one to the left."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """A JSON-serialisable position from which `load_state_dict` resumes."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state`, so that the next batch is the one that would have come next."""
        ...


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


# ## Compilation
#
# `torch.compile` runs `_loss` once under TorchDynamo, which records the operators it calls as a
# graph; AOTAutograd derives the backward graph from it, and Inductor writes both as fused C++
# (OpenMP) loops on a CPU, or Triton kernels on a GPU, around the library's matrix products.
# Dynamo keeps the compiled graphs on the function, each with guards (shapes, dtypes, autocast,
# grad mode, the model's structure) that decide when it applies, so ONE compiled function serves
# the whole process: a copy of the model with the same shapes reuses the graph the first one
# compiled, and a second `train` call compiles nothing. Evaluation calls the eager `_loss` (under
# `no_grad` a compiled one would compile a second, forward-only graph for a few calls).
# `dynamic=False`: the windows always have one shape. `cpp.dynamic_threads`: the generated loops
# read the thread count when they run, instead of having the compiling process's count written
# into them, so `torch.set_num_threads` still applies after compilation.
#
# **Determinism.** Before lowering, Inductor decomposes the embedding's backward (add each
# position's gradient into its token's row) into an indexed accumulation, which it writes as a
# parallel loop of atomic additions: with two threads the rows' sums come out in a different order
# from run to run (measured: three repeats of one step each gave a `tok_emb` gradient different from
# the first one's, and no other gradient differed). torch's own CPU kernel for it is ordered. So the
# backend below is Inductor with that one decomposition replaced: the embedding's backward becomes a
# call of `masterclass::ordered_embedding_backward`, a custom operator (`torch.library`, the same
# mechanism as the SwiGLU kernel's operator in Module 4) whose body is torch's kernel. Inductor
# cannot see inside a custom operator, so it calls it as it is, and a resumed compiled run stays
# bitwise equal to an uninterrupted one. (Simply deleting the decomposition from the table is not
# enough: Inductor then lowers the bare operator by a fallback that its own checks reject when the
# environment variable `CI` is set, as it is on CI machines.)
# (`torch.use_deterministic_algorithms(True)` would also do it, but globally, and Inductor then
# falls back to an ordered index_put that was slower: the default model's compiled step took 0.160 s
# with two threads and 0.296 s with one, where the eager step took 0.197 and 0.284 in that run;
# `capstone/bench/results/throughput.txt`.)
@torch.library.custom_op("masterclass::ordered_embedding_backward", mutates_args=())
def _ordered_embedding_backward(
    grad_output: torch.Tensor,
    indices: torch.Tensor,
    num_weights: int,
    padding_idx: int,
    scale_grad_by_freq: bool,
) -> torch.Tensor:
    return torch.ops.aten.embedding_dense_backward.default(
        grad_output, indices, num_weights, padding_idx, scale_grad_by_freq
    )


@_ordered_embedding_backward.register_fake
def _(grad_output, indices, num_weights, padding_idx, scale_grad_by_freq):
    return grad_output.new_empty((num_weights, grad_output.shape[-1]))


def _inductor_with_ordered_embedding_backward(graph, example_inputs):
    # `compile_fx` is the function `torch.compile`'s "inductor" backend calls; its
    # `decompositions` argument replaces the table it would choose.
    from torch._inductor.compile_fx import compile_fx
    from torch._inductor.decomposition import select_decomp_table

    embedding_backward = torch.ops.aten.embedding_dense_backward
    table = {
        op: fn
        for op, fn in select_decomp_table().items()
        if getattr(op, "overloadpacket", None) is not embedding_backward
    }
    table[embedding_backward.default] = torch.ops.masterclass.ordered_embedding_backward.default
    return compile_fx(
        graph,
        example_inputs,
        config_patches={"cpp.dynamic_threads": True},
        decompositions=table,
    )


@functools.cache
def compiled_loss() -> Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The next-token loss `(model, x, y) -> loss` compiled by `torch.compile` (one per process)."""
    return torch.compile(_loss, dynamic=False, backend=_inductor_with_ordered_embedding_backward)


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
    # The mean is over tokens, not batches: each batch's mean loss is weighted by its number of
    # targets, so batches of unequal size average correctly.
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


# Rewind after reading: the same `n` batches come back at every evaluation, and the batcher's
# position is left where it was.
def _eval_batches(eval_data: Batcher, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    state = eval_data.state_dict()
    batches = [eval_data.next_batch() for _ in range(n)]
    eval_data.load_state_dict(state)
    return batches


# JSON has no NaN: a non-finite number (a diverged held-out loss) is written as null.
def _json_line(record: dict[str, Any]) -> str:
    clean = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()
    }
    return json.dumps(clean, allow_nan=False) + "\n"


class _Metrics:
    """Append-only JSON-lines file written by rank 0; on resume, lines past the checkpoint go.

    A line cut short by a kill in the middle of a write is dropped too, so the file stays one
    JSON object per line.
    """

    # Only rank 0 writes. A fresh run starts an empty file; a resumed one keeps the lines up to its
    # checkpoint's step, since the steps after it are trained, and logged, again.
    def __init__(self, path: Path, active: bool, resume_step: int | None) -> None:
        self.path, self.active = path, active
        if not active:
            return
        if resume_step is None:
            self.path.write_text("")
        elif self.path.exists():
            kept = []
            for line in self.path.read_text().splitlines():
                try:
                    if json.loads(line)["step"] <= resume_step:
                        kept.append(line)
                except (ValueError, KeyError, TypeError):
                    continue
            # Rewritten atomically (`masterclass.infra.atomic`): a kill here keeps the old file.
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        if self.active:
            with open(self.path, "a") as f:
                f.write(_json_line(record))


# A batcher that says its batch size, rank or world size must agree with the config and the process:
# a mismatch would train on the wrong data without any error.
def _check_batcher(batcher: Any, config: TrainConfig, ctx: DistributedContext) -> None:
    if not isinstance(batcher, Batcher):
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


# ## The state of one run
#
# Everything the named steps below share: the objects being trained, where the run stands, and
# the *log window*, the losses and tokens of the steps since the last metrics line. The window is
# saved in every checkpoint, so that the first line a resumed run writes averages the same steps
# an uninterrupted run would have averaged.
@dataclass
class _Run:
    model: nn.Module
    batcher: Batcher
    config: TrainConfig
    ctx: DistributedContext
    device: torch.device
    ckpt_dir: Path
    optimizer: torch.optim.Optimizer
    strategy: DataParallel
    # Set once the strategy has wrapped the model and optimizer (it drives the wrapped one).
    schedule: LRSchedule | None = None
    step: int = 0
    resumed_from: int | None = None
    last_good: Path | None = None
    last_loss: float = float("nan")
    last_eval: dict[str, float] = field(default_factory=dict)
    window_losses: list[float] = field(default_factory=list)
    window_tokens: int = 0
    # Training tokens of this call (all ranks), for the result.
    tokens: int = 0

    def loop_state(self) -> dict[str, Any]:
        """What a checkpoint stores besides weights, optimizer, RNG and data position."""
        return {
            "last_loss": self.last_loss,
            "last_eval": self.last_eval,
            "window_losses": self.window_losses,
            "window_tokens": self.window_tokens,
        }


# ## Step 1: restore or start
#
# A fresh run seeds each rank's RNG (its own dropout masks) and copies rank 0's initial weights
# to every rank. A resumed run restores weights, optimizer moments, RNG states and the data
# position from the latest checkpoint, and refuses a checkpoint made with a different batch or
# seed, which would silently train a different run. The learning rate needs no restoring: it is a
# function of the step alone.
def _restore_or_start(run: _Run, resume: bool) -> None:
    found = latest_checkpoint(run.ckpt_dir) if resume else None
    if found is None:
        torch.manual_seed(run.config.seed + run.ctx.rank)
        broadcast_parameters(run.model, run.ctx)
        return
    state = load_checkpoint(
        found, model=run.model, optimizer=run.optimizer, map_location=run.device
    )
    saved = state["extra"].get("train_config", {})
    for key in ("batch_size", "grad_accum", "seed"):
        if key in saved and saved[key] != getattr(run.config, key):
            raise ValueError(
                f"cannot resume from {found}: it was trained with {key}={saved[key]}, "
                f"this config has {key}={getattr(run.config, key)}"
            )
    # The data position, the step, and the loop's own state (last loss and evaluation, the open log
    # window), each with a default for checkpoints that lack it.
    run.batcher.load_state_dict(state["data_state"])
    run.step = run.resumed_from = state["step"]
    run.last_good = found
    loop = state["extra"].get("loop", {})
    last_loss = loop.get("last_loss")
    run.last_loss = float("nan") if last_loss is None else float(last_loss)
    run.last_eval = dict(loop.get("last_eval", {}))
    run.window_losses = list(loop.get("window_losses", []))
    run.window_tokens = int(loop.get("window_tokens", 0))


# ## Step 2: accumulate
#
# With $k$ micro-batches of losses $\ell_1, \ldots, \ell_k$ (each a mean over its $BT$ tokens),
# the loss of the step is their mean $\bar\ell = \frac1k \sum_i \ell_i$, and by linearity of the
# gradient $\nabla \bar\ell = \sum_i \nabla(\ell_i / k)$: backpropagating each $\ell_i / k$ and
# letting autograd *sum* into `.grad` gives exactly the gradient of the big batch, while only
# one micro-batch's activations are in memory at a time.
def _accumulate(run: _Run) -> torch.Tensor:
    c, device = run.config, run.device
    loss_fn = compiled_loss() if c.compile else _loss
    run.optimizer.zero_grad(set_to_none=True)
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    for _ in range(c.grad_accum):
        x, y = run.batcher.next_batch()  # (B, T), (B, T)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with _autocast(c.autocast, device):
            loss = loss_fn(run.model, x, y)
        (loss / c.grad_accum).backward()
        loss_sum += loss.detach()
        run.window_tokens += y.numel() * run.ctx.world_size
        run.tokens += y.numel() * run.ctx.world_size
    return loss_sum / c.grad_accum


# ## Step 3: all-reduce
#
# Each of the $W$ ranks computed the gradient of its own batch; the mean over ranks is the
# gradient of the combined batch of $W B$ sequences. The loss is averaged the same way, so that
# every rank logs and checks the same number. (Under FSDP the backward pass already
# reduce-scattered the gradient: the strategy has nothing left to do.)
def _all_reduce(run: _Run, loss: torch.Tensor) -> float:
    run.strategy.reduce_gradients(run.model)
    return float(all_reduce_mean(loss, run.ctx))


# ## Step 4: the finite check
#
# A NaN anywhere in the loss spreads to every weight in one update, and Adam's moments keep it
# forever. The check runs on the *reduced* loss and norm, which are equal on all ranks, so all
# ranks stop together (one rank stopping alone would leave the others waiting in an all-reduce).
def _check_finite(run: _Run, what: str, value: float) -> None:
    if not math.isfinite(value):
        raise NonFiniteLossError(run.step, what, value, run.last_good)


# ## Step 5: clipping by the global norm
#
# Treat all gradients as one vector $g = (g_1, \ldots, g_P)$ over the $P$ parameter tensors. Its
# norm is
# $$ \lVert g \rVert_2 = \sqrt{\textstyle\sum_p \lVert g_p \rVert_2^2}
#    = \bigl\lVert (\lVert g_1 \rVert_2, \ldots, \lVert g_P \rVert_2) \bigr\rVert_2 , $$
# the norm of the per-tensor norms, which is how it is computed (one small reduction per tensor).
# Clipping multiplies *every* tensor by the same factor
# $$ s = \min\Bigl(1, \frac{c}{\lVert g \rVert_2 + \epsilon}\Bigr), $$
# so the update keeps the direction of the full gradient and only its length is capped at $c$
# (clipping each tensor on its own would change the direction). $\epsilon = 10^{-6}$ keeps the
# division finite for a zero gradient. A non-finite norm is returned as it is, for the finite
# check to refuse. This is the rule of Pascanu et al. (2013), *On the difficulty of training
# recurrent neural networks*, and what `torch.nn.utils.clip_grad_norm_` computes (the test
# compares the two).
def clip_grad_norm(parameters: Iterable[torch.Tensor], max_norm: float | None) -> torch.Tensor:
    """Scale the gradients of `parameters` so their global L2 norm is at most `max_norm`.

    Returns the norm before clipping (a 0-d tensor). `max_norm=None` only measures it.

    >>> w = torch.zeros(2, requires_grad=True); w.grad = torch.tensor([3.0, 4.0])
    >>> float(clip_grad_norm([w], 1.0)), [round(v, 4) for v in w.grad.tolist()]
    (5.0, [0.6, 0.8])
    """
    if max_norm is not None and not max_norm > 0:
        raise ValueError(f"max_norm must be > 0 or None, got {max_norm}")
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norms = torch.stack([torch.linalg.vector_norm(g.detach()) for g in grads])  # (P,)
    total = torch.linalg.vector_norm(norms)
    _scale_to(grads, total, max_norm)
    return total


def _scale_to(grads: list[torch.Tensor], total: torch.Tensor, max_norm: float | None) -> None:
    # The one clipping rule, for the whole gradient (DDP) and for this rank's rows of it (FSDP).
    if max_norm is not None:
        scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
        for g in grads:
            g.detach().mul_(scale.to(g.dtype))


# ## Step 6: the update
#
# The learning rate of step $t$ is set from $t$ alone, then the optimizer takes its step.
def _update(run: _Run) -> float:
    lr = run.schedule.apply(run.step)
    run.optimizer.step()
    return lr


# ## Step 7: the metrics line
#
# Every `log_every` steps (and at the last), one line with the mean loss of the window, the
# learning rate, the gradient norm and the throughput.
def _log(run: _Run, metrics: _Metrics, record: dict[str, Any], t_log: float, t_start: float):
    now = time.perf_counter()
    record["tokens_per_s"] = run.window_tokens / max(now - t_log, 1e-9)
    metrics.write(
        {
            "kind": "train",
            "step": record["step"],
            "loss": sum(run.window_losses) / len(run.window_losses),
            "lr": record["lr"],
            "grad_norm": record["grad_norm"],
            "tokens_per_s": record["tokens_per_s"],
            "elapsed_s": now - t_start,
        }
    )
    run.window_losses, run.window_tokens = [], 0
    return now


# ## Step 8: the checkpoint
#
# Rank 0 writes weights, optimizer, RNG, data position and the loop state atomically; the other
# ranks wait at a barrier, so no rank races ahead of a checkpoint that might be needed. What is
# written is always the *whole* model and optimizer, as one process would have them: under FSDP
# every rank first takes part in gathering them (a collective), and frees them afterwards.
def _checkpoint(run: _Run) -> None:
    # Every rank takes part in `whole()` (a collective under FSDP); rank 0 alone writes, with the
    # config and the loop state among the metadata.
    path = None
    whole_model, whole_optimizer = run.strategy.whole()
    if run.ctx.is_main:
        extra = {
            "train_config": asdict(run.config),
            **run.config.meta,
            "loop": run.loop_state(),
        }
        path = save_checkpoint(
            run.ckpt_dir,
            model=whole_model,
            optimizer=whole_optimizer,
            step=run.step,
            data_state=run.batcher.state_dict(),
            extra=extra,
            keep=run.config.keep_checkpoints,
        )
    # Free the gathered copies, and hold every rank until the checkpoint exists.
    run.strategy.release()
    if run.ctx.world_size > 1:
        torch.distributed.barrier()
    run.last_good = path


# ## Data parallel or fully sharded: the strategy object
#
# The loop asks a strategy four things: *wrap* the model and optimizer it was given, *reduce*
# the gradients after the backward pass, measure (and clip) their *global norm*, and hand over
# the *whole* model and optimizer for a checkpoint. `DataParallel` answers them the way the
# steps above describe: the module as it is, an all-reduce, `clip_grad_norm`, the objects
# themselves.
class DataParallel:
    """Every rank holds the whole model and optimizer; gradients are averaged by all-reduce."""

    name = "ddp"

    def __init__(self, ctx: DistributedContext) -> None:
        self.ctx = ctx

    def wrap(
        self, model: nn.Module, optimizer: torch.optim.Optimizer
    ) -> tuple[nn.Module, torch.optim.Optimizer]:
        """The module and optimizer the loop trains, from the whole (restored) ones."""
        self.model, self.optimizer = model, optimizer
        return model, optimizer

    # The gradient steps of DDP: an all-reduce to the mean, then clipping by the norm of that mean,
    # which is already the same on every rank.
    def reduce_gradients(self, model: nn.Module) -> None:
        """Average the gradients over the ranks."""
        all_reduce_gradients(model, self.ctx)

    def clip(self, model: nn.Module, max_norm: float | None) -> torch.Tensor:
        """Clip to the global norm `max_norm`; return the norm before clipping (0-d)."""
        return clip_grad_norm(model.parameters(), max_norm)

    # Every rank already holds everything, so gathering, freeing and unwrapping are no-ops.
    def whole(self) -> tuple[nn.Module, torch.optim.Optimizer]:
        """The whole model and optimizer, as one process holds them (every rank calls it)."""
        return self.model, self.optimizer

    def release(self) -> None:
        """Free what `whole` gathered (nothing to free here)."""

    def unwrap(self) -> None:
        """Leave the trained weights in the model `wrap` was given (they already are)."""


# ## FSDP in the loop
#
# `masterclass.infra.FullyShardedModule` (ZeRO-3) keeps, on rank $r$, rows $[rc, (r+1)c)$ of
# every parameter $\theta_p$ (of $d_p$ rows, $c = \lceil d_p / W \rceil$, zero-padded), gathers
# the whole tensors for the forward pass and reduce-scatters the gradient in the backward pass, so
# that after `backward` rank $r$ holds exactly its rows of the *mean* gradient
# $\bar g = \frac1W \sum_{r'} g^{(r')}$. What the loop needs besides, derived:
#
# 1. **No all-reduce.** The reduce-scatter already averaged: the strategy's `reduce_gradients`
#    does nothing. (An all-reduce is a reduce-scatter plus an all-gather; FSDP skips the
#    all-gather of gradients and all-gathers *weights* instead, in the next forward.)
# 2. **The update is the same.** AdamW is elementwise: element $i$ of $\theta$ moves by a
#    function of $g_i$, $m_i$, $v_i$, $\theta_i$ and the step alone. So an optimizer over the
#    shards, whose state holds the same rows of $m$ and $v$, updates each row exactly as the
#    whole optimizer would. Weight decay acts on the same tensors, since a shard keeps its
#    tensor's number of dimensions, and the padding rows stay zero (zero weight, zero gradient).
# 3. **The global norm from the rows.** The squared norm is a sum over elements, and the rows
#    partition the elements:
#    $$ \lVert \bar g \rVert_2^2 = \sum_{r=0}^{W-1} \sum_{p} \lVert \bar g_p[\text{rows of } r]
#       \rVert_2^2 , $$
#    so each rank sums the squares of its rows and one all-reduce of a single number gives every
#    rank the same norm (`sharded_grad_norm`, in float64). Scaling each rank's rows by the same
#    $s = \min(1, c / (\lVert \bar g \rVert_2 + \epsilon))$ is the clipping of step 5.
# 4. **Whole checkpoints.** A checkpoint must not depend on $W$: it holds each parameter and
#    each moment gathered whole (an all-gather of the rows, padding dropped), written into the
#    model and optimizer the loop was given, so `load_checkpoint` of one process, a DDP run or
#    an FSDP run of another $W$ reads it. Restoring goes the other way: the whole checkpoint is
#    loaded as in a single process, then each rank keeps its rows.
#
# The results equal DDP's up to floating-point summation order: the ring reduce-scatter adds the
# ranks' gradients in its own order, and the norm is summed in float64 from rows rather than in
# the input precision from whole tensors. In float64 the two agree to about $10^{-12}$ relative
# per step (the distributed test); in float32 to about $10^{-6}$.
class FullyShardedDataParallel(DataParallel):
    """ZeRO-3: each rank keeps 1/W of every weight, gradient and optimizer moment.

    At one process it is a plain wrapper, which shows what it does:

    >>> ctx = init_distributed("cpu")
    >>> net = nn.Linear(3, 2)
    >>> w = net.weight.detach().clone()
    >>> fsdp = FullyShardedDataParallel(ctx)
    >>> sharded, opt = fsdp.wrap(net, AdamW(net.parameters()))
    >>> [tuple(p.shape) for p in sharded.parameters()], tuple(net.weight.shape)  # freed
    ([(2, 3), (2,)], (0,))
    >>> whole, _ = fsdp.whole()  # gathered back, as a checkpoint holds it
    >>> torch.equal(whole.weight, w)
    True
    >>> fsdp.release(); tuple(net.weight.shape)
    (0,)
    """

    name = "fsdp"

    # Wrapping remembers the whole parameters (they stay the caller's objects, emptied), shards
    # them, and maps each one to its shard.
    def wrap(self, model: nn.Module, optimizer: AdamW) -> tuple[nn.Module, AdamW]:
        """Shard `model` (freeing its weights) and move `optimizer`'s state to the shards."""
        self.model, self.optimizer = model, optimizer
        self.full_params = [p for _, p in model.named_parameters()]
        self.sharded = FullyShardedModule(model)
        shard_of = {id(p): s for p, s in zip(self.full_params, self.sharded.shards)}
        self.shape_of = {id(s): shape for s, shape in zip(self.sharded.shards, self.sharded.shapes)}
        # The same groups (weight decay, learning rate) over the shards, in the same order.
        groups = [
            {**g, "params": [shard_of[id(p)] for p in g["params"]]} for g in optimizer.param_groups
        ]
        # (Every hyper-parameter is in the groups, which the optimizer's defaults only fill in.)
        self.shard_optimizer = type(optimizer)(groups)
        # A restored optimizer state is whole: keep this rank's rows of each moment.
        for p, s in zip(self.full_params, self.sharded.shards):
            if p in optimizer.state:
                self.shard_optimizer.state[s] = {
                    k: self._rows(v, s) for k, v in optimizer.state[p].items()
                }
        optimizer.state.clear()
        return self.sharded, self.shard_optimizer

    # Moving between whole and sharded optimizer state: a tensor shaped like its parameter is a
    # moment and is split (or gathered) by rows exactly like the weight; anything else, such as
    # the step count, is the same on every rank and passes through.
    def _rows(self, value: Any, shard: torch.Tensor) -> Any:
        if isinstance(value, torch.Tensor) and value.shape == self.shape_of[id(shard)]:
            return pad_rows(value.detach(), self.sharded.world)[self.sharded.rank].clone()
        return value  # the step count

    def _whole(self, value: Any, shard: torch.Tensor) -> Any:
        if isinstance(value, torch.Tensor) and value.shape == shard.shape:
            shape = self.shape_of[id(shard)]
            return all_gather_rows(value.detach(), shape[0] if len(shape) else 1).view(shape)
        return value

    # Gradients arrive already reduced and sharded, so the only gradient work left is clipping,
    # whose norm must still cover the whole gradient: each rank's squared sum, all-reduced.
    def reduce_gradients(self, model: nn.Module) -> None:
        """Nothing: the backward pass reduce-scattered the mean gradient into the shards."""

    def clip(self, model: nn.Module, max_norm: float | None) -> torch.Tensor:
        """Clip the shards' gradients by the norm of the whole gradient (a collective)."""
        total = sharded_grad_norm(self.sharded.parameters())
        _scale_to(
            [s.grad for s in self.sharded.parameters() if s.grad is not None], total, max_norm
        )
        return total

    @torch.no_grad()
    def whole(self) -> tuple[nn.Module, AdamW]:
        """Gather weights and moments into the model and optimizer given to `wrap`."""
        for p, s in zip(self.full_params, self.sharded.shards):
            p.data = self._whole(s, s)
            state = self.shard_optimizer.state.get(s)
            if state:
                self.optimizer.state[p] = {k: self._whole(v, s) for k, v in state.items()}
        # The learning rate and other group settings changed on the shard optimizer (the
        # schedule sets them); copy them back so the whole optimizer's checkpoint agrees.
        for whole_group, group in zip(
            self.optimizer.param_groups, self.shard_optimizer.param_groups
        ):
            whole_group.update({k: v for k, v in group.items() if k != "params"})
        return self.model, self.optimizer

    # After a checkpoint the gathered copies are dropped again, so memory stays at 1/W between
    # saves; at the very end `unwrap` keeps the weights for the caller.
    def release(self) -> None:
        """Free the gathered weights and moments again."""
        for p in self.full_params:
            p.data = torch.empty(0, dtype=p.dtype, device=p.device)
        self.optimizer.state.clear()

    def unwrap(self) -> None:
        """Gather the trained weights into the model given to `wrap`, for the caller."""
        self.whole()
        self.optimizer.state.clear()


# The strategies by the name `TrainConfig.parallel` gives.
PARALLEL_STRATEGIES: dict[str, type[DataParallel]] = {
    "ddp": DataParallel,
    "fsdp": FullyShardedDataParallel,
}


def _every(step: int, period: int) -> bool:
    return bool(period) and step % period == 0


# ## The loop
#
# One iteration = one optimizer step = `grad_accum` micro-batches on each of `W` ranks, through
# the steps above in their order. The step counter in a checkpoint counts completed optimizer
# steps, and the schedule, the data position and the RNG are all restored from it.


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer `config.optimizer` names, over `model`'s parameters (decay on matrices)."""
    if config.optimizer == "muon":
        groups = muon_param_groups(model, config.weight_decay)
        return Muon(groups, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    groups = param_groups_for_weight_decay(model, config.weight_decay)
    return AdamW(groups, lr=config.lr, betas=config.betas)


# The entry point. Everything after `run_dir` is optional and keyword-only: two ways to evaluate,
# a progress hook, resumption, the process group, and two ways to stop before `config.steps`.
def train(
    model: nn.Module,
    batcher: Batcher,
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    eval_fn: Callable[[nn.Module], float | dict[str, float]] | None = None,
    eval_data: Batcher | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    resume: bool = True,
    ctx: DistributedContext | None = None,
    stop_at: int | None = None,
    stop_when: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train `model` on batches from `batcher` for `config.steps` optimizer steps.

    Args:
        model: maps token ids (B, T) to logits (B, T, V); already on its device.
        batcher: yields `(x, y)` (B, T) via `next_batch()`, resumable through
            `state_dict()`/`load_state_dict()` (a `Batcher`, e.g. `masterclass.infra.ShardBatcher`).
        config: the hyper-parameters.
        run_dir: gets `metrics.jsonl` and `checkpoints/`.
        eval_fn: `model -> loss` or `model -> {name: value}` (must contain `loss` to be
            called a loss), run every `eval_every` steps and at the end, on every rank, with
            the module being trained (under `parallel="fsdp"` the sharded wrapper, whose
            forward pass is a collective).
        eval_data: alternatively, a batcher of held-out data; `config.eval_batches` batches
            (the same ones every time) are evaluated with `evaluate_loss`.
        progress: called with a dict after every step (`kind="step"`) and evaluation
            (`kind="eval"`), e.g. to drive a progress bar.
        resume: continue from the latest checkpoint in `run_dir/checkpoints` if there is one.
        ctx: the distributed context; by default read from torchrun's environment. On GPUs,
            call `init_distributed("cuda")` first, move the model to `ctx.device` and pass `ctx`.
        stop_at: stop after this many steps (< `config.steps`) with a checkpoint; a later call
            (with a config whose schedule agrees up to here) continues the same run.
        stop_when: asked after every step (after `progress`); True stops there, like `stop_at`,
            with a checkpoint. It must answer alike on every rank (a rank that stops alone
            leaves the others waiting in a collective): the capstone uses it on one process,
            to stop for a re-plan when the machine's speed changed.

    Raises:
        NonFiniteLossError: the loss or gradient norm was not finite (nothing was updated).
    """
    # Set up: check the batcher against the config, build the optimizer and the strategy, and
    # gather everything one run needs into `_Run`.
    ctx = ctx or init_distributed(next(model.parameters()).device)
    _check_batcher(batcher, config, ctx)
    end = config.steps if stop_at is None else stop_at
    if not 0 <= end <= config.steps:
        raise ValueError(f"stop_at must be in [0, steps={config.steps}], got {stop_at}")
    run_dir = Path(run_dir)
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    optimizer = make_optimizer(model, config)
    device = next(model.parameters()).device
    strategy = PARALLEL_STRATEGIES[config.parallel](ctx)
    run = _Run(model, batcher, config, ctx, device, run_dir / "checkpoints", optimizer, strategy)
    # A checkpoint holds the whole model, so restoring works on the whole model and optimizer;
    # the strategy then wraps both (FSDP keeps this rank's rows and frees the rest).
    _restore_or_start(run, resume)
    run.model, run.optimizer = strategy.wrap(model, optimizer)
    run.schedule = LRSchedule(run.optimizer, config.lr_schedule())
    metrics = _Metrics(run_dir / "metrics.jsonl", ctx.is_main, run.resumed_from)

    # One evaluation, from whichever source the caller gave: it is logged as a `kind="eval"`
    # line and reported to `progress`, at the step it belongs to.
    def evaluate() -> dict[str, float]:
        if eval_fn is not None:
            out = eval_fn(run.model)
            result = dict(out) if isinstance(out, dict) else {"loss": float(out)}
        elif eval_data is not None:
            batches = _eval_batches(eval_data, max(config.eval_batches, 1))
            result = {"loss": evaluate_loss(run.model, batches, autocast=config.autocast)}
        else:
            return {}
        record = {"kind": "eval", "step": run.step, **{f"eval_{k}": v for k, v in result.items()}}
        metrics.write(record)
        if progress is not None:
            progress(record)
        return result

    # One optimizer step per iteration: accumulate and average the loss over ranks, refuse a
    # non-finite loss or norm before anything is updated, clip, then step the optimizer and
    # the schedule.
    run.model.train()
    start, t_start = run.step, time.perf_counter()
    t_log = t_start
    try:
        while run.step < end:
            loss = _all_reduce(run, _accumulate(run))
            _check_finite(run, "the training loss", loss)
            grad_norm = float(strategy.clip(run.model, config.clip_norm))
            _check_finite(run, "the gradient norm", grad_norm)
            lr = _update(run)
            run.step += 1
            run.last_loss = loss
            run.window_losses.append(loss)
            # The bookkeeping after the update: log, report and evaluate on their own periods,
            # and always at the last step.
            last = run.step == config.steps
            record = {
                "kind": "step",
                "step": run.step,
                "loss": loss,
                "lr": lr,
                "grad_norm": grad_norm,
            }
            if _every(run.step, config.log_every) or last:
                t_log = _log(run, metrics, record, t_log, t_start)
            if progress is not None:
                progress(record)
            if _every(run.step, config.eval_every) or last:
                run.last_eval = evaluate()
            # Then the checkpoint: on its period, at the last step, at `stop_at`, or when
            # `stop_when` says stop, which it is asked only once `progress` has seen the step.
            early = not last and stop_when is not None and stop_when()
            if _every(run.step, config.checkpoint_every) or last or run.step == end or early:
                _checkpoint(run)
            if early:
                break
        # A run resumed from its final checkpoint has nothing left to do; its last evaluation
        # comes from the checkpoint (evaluating again would write a second line for the same
        # step), except for checkpoints of older versions that did not store it.
        if start == config.steps and not run.last_eval:
            run.last_eval = evaluate()
    except NonFiniteLossError:
        # Raised on every rank at the same step (the checks use reduced numbers), so the
        # gathering collective below is safe: the caller's model holds the last weights.
        strategy.unwrap()
        raise
    # The caller's `model` holds the trained weights, whatever the strategy.
    strategy.unwrap()
    return TrainResult(
        steps=run.step,
        final_loss=run.last_loss,
        last_eval=run.last_eval,
        metrics_path=run_dir / "metrics.jsonl",
        checkpoint=run.last_good if ctx.is_main else None,
        resumed_from=run.resumed_from,
        tokens=run.tokens,
        elapsed_s=time.perf_counter() - t_start,
    )
