r"""# The pipeline: one table of stages, run in order, each once, each timed

`run_pipeline` walks the stages of the capstone in order:

$$ \text{corpus} \to \text{tokenizer} \to \text{data} \to \text{train} \to \text{evaluate}
   \to \text{quantize} \to \text{export} \to \text{benchmark} \to \text{report}. $$

The stages are declared once, in `STAGE_TABLE`: each row names the stage, the stages whose output
it reads, and the function that runs it. Everything else (the order, the command line's choices,
what to forget when a stage runs again) is derived from that table. Each stage reads only what
earlier stages left in the run folder, through `RunFolder`'s paths and loaders, and writes only
its own sub-folder, through `staged_folder`, so that a stage either finished completely or left
nothing. The run folder's `run.json` records which stages finished and how long each took;
resuming a run skips finished stages, and the training stage itself resumes from its last
checkpoint. Running one stage again (`capstone stage NAME RUN`) forgets the stages after it,
since they were computed from its old output.

Bad input found by any stage is a `CapstoneError`. When it happens in a fresh run, the run folder
this invocation created (it was absent or empty: see the run folder chapter) is removed, so
nothing half-made is left behind. A full disk is the exception: the error names the stage and the
folder, and the run folder stays, consistent, for `capstone resume` once space is freed.

Every long stage shows a `tqdm` progress bar with its throughput and remaining time; every line of
log goes through `tqdm.write` so that bars and log lines do not tear each other.

**The order is a topological sort.** The table's `needs` are the edges of a directed acyclic
graph, and a valid run order is any order in which every stage comes after the stages it
needs: a topological order, which exists exactly when the graph has no cycle. Kahn's algorithm
finds one by repeatedly running a stage whose needs have all run; taking, among the stages
ready at once, the one listed first makes the order unique, and for this table it is the
table's own order, which is why `STAGES` can be read straight off it. Forgetting works on the
same graph in the other direction: the stages to redo after `stage` are those that can reach it
along `needs` edges (evaluate, quantize and export need train, and benchmark needs quantize and
export, so running train again forgets the four stages after it too):

>>> dependents("train")
['train', 'evaluate', 'quantize', 'export', 'benchmark']

## Exercises

1. Write `stage_order(table)`: for a list of `(name, needs)` rows, every stage after the stages
   it needs, taking among the stages ready at once the one listed first; raise `ValueError` on a
   cycle. Check it against `graphlib` and this table:
   `uv run pytest --exercise capstone.pipeline`.
2. Write `to_forget(stage, table)`: `stage` and every stage that needs it, directly or through
   others, in table order, for a table in any order. Check it:
   `uv run pytest --exercise capstone.pipeline`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

# One module per stage; this one only orders them, times them and keeps the run folder's books.
from masterclass.capstone import (
    benchmark,
    corpus,
    data,
    evaluate,
    export,
    quantize,
    report,
    tokenizer,
    train,
)

# The config (rebuilt from a run's record) and the run folder's helpers: atomic writes, staged
# folders, and the errors of a full disk.
from masterclass.capstone.config import RunConfig, from_dict
from masterclass.capstone.run_folder import (
    STAGE_METRICS,
    CapstoneError,
    DiskFullError,
    RunFolder,
    atomic_write_json,
    stage_error,
    staged_folder,
)


# The context travels through every stage, so a stage never reads globals or the command line.
@dataclass
class StageContext:
    """What every stage receives: the config, the run folder, the device, and output helpers."""

    cfg: RunConfig
    run: RunFolder
    device: str
    # Log one line (goes through tqdm.write so bars stay intact).
    log: Callable[[str], None] = field(default=lambda line: tqdm.write(line))
    # Hide progress bars (tests, or output that is not a terminal).
    quiet: bool = False

    def bar(self, total: float | None, desc: str, unit: str = "it", **kwargs: Any) -> tqdm:
        """A progress bar showing throughput and ETA."""
        return tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=True,
            dynamic_ncols=True,
            disable=self.quiet,
            leave=False,
            **kwargs,
        )


# An explicit `cuda` on a machine without one fails here, before any stage, not inside training.
def resolve_device(device: str) -> str:
    """Turn `auto` into `cuda` when a GPU is present, else `cpu`; refuse an absent GPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CapstoneError(f"device {device!r} was asked for, but no CUDA device is available")
    return device


# ## The stages
#
# A stage is a function of the context and the folder to fill; it returns the stage's metrics
# (also written to `<stage>/metrics.json`).


def _corpus(ctx: StageContext, out: Path) -> dict[str, Any]:
    with ctx.bar(None, "corpus", unit="B") as bar:
        metrics = corpus.run_corpus(ctx.cfg.corpus, out, progress=bar.update)
    ctx.log(
        f"corpus: {metrics['documents']} documents ({metrics['duplicates_removed']} duplicates "
        f"removed), train {metrics['train_bytes']:,} B, held-out {metrics['heldout_bytes']:,} B"
    )
    # Files skipped for being unreadable or not regular get a warning: the user asked for them.
    skipped = metrics["unreadable_skipped"] + metrics["special_files_skipped"]
    if skipped:
        ctx.log(
            f"corpus: WARNING skipped {metrics['unreadable_skipped']} unreadable folder(s) or "
            f"file(s) and {metrics['special_files_skipped']} non-regular file(s) (FIFOs, sockets, "
            "devices) in --data"
        )
    return metrics


# The first three stages turn files into token shards. Each bar counts bytes, the unit of work
# known in advance from the corpus stage's metrics.
def _tokenizer(ctx: StageContext, out: Path) -> dict[str, Any]:
    train_bytes = ctx.run.stage_metrics("corpus")["train_bytes"]
    with ctx.bar(train_bytes, "tokenizer: pre-tokenize", unit="B") as bar:
        metrics = tokenizer.run_tokenizer(ctx.cfg.tokenizer, ctx.run, out, progress=bar.update)
    ctx.log(
        f"tokenizer: {metrics['vocab_size']} ids in {metrics['train_seconds']:.1f} s, "
        f"{metrics['bytes_per_token_heldout']:.2f} bytes/token on held-out text"
    )
    return metrics


def _data(ctx: StageContext, out: Path) -> dict[str, Any]:
    m = ctx.run.stage_metrics("corpus")
    with ctx.bar(m["train_bytes"] + m["heldout_bytes"], "data: encode", unit="B") as bar:
        metrics = data.run_data(ctx.cfg, ctx.run, out, progress=bar.update)
    ctx.log(
        f"data: {metrics['train_tokens']:,} train tokens, {metrics['heldout_tokens']:,} held-out "
        f"tokens ({metrics['dtype']} shards)"
    )
    return metrics


# Training reports through a callback: each step record moves the bar and shows loss, learning
# rate and throughput; each evaluation becomes a log line.
def _train(ctx: StageContext, out: Path) -> dict[str, Any]:
    cfg = ctx.cfg
    vocab = ctx.run.stage_metrics("tokenizer")["vocab_size"]
    speed = [0.0]  # the loop reports tokens/s on its log steps
    # With a time budget the number of steps is known once the warmup has been timed.
    budgeted = cfg.train.time_budget_s > 0
    with ctx.bar(None if budgeted else cfg.train.steps, "train", unit="step") as bar:

        def progress(record: dict[str, Any]) -> None:
            if record["kind"] == "step":
                if budgeted and (bar.total is None or record["step"] % 50 == 0):
                    bar.total = train.read_schedule(out).get("steps")
                if "tokens_per_s" in record:
                    speed[0] = record["tokens_per_s"]
                bar.n = record["step"]
                bar.set_postfix(
                    loss=f"{record['loss']:.3f}", lr=f"{record['lr']:.2e}", tok_s=f"{speed[0]:,.0f}"
                )
            elif record["kind"] == "eval":
                ctx.log(f"train: step {record['step']:>6}  held-out loss {record['eval_loss']:.4f}")

        # The bar stays open for the whole stage, so the callback can update it.
        metrics = train.run_train(
            cfg,
            ctx.run,
            out,
            vocab_size=vocab,
            device=ctx.device,
            progress=progress,
            log=ctx.log,
        )
    ctx.log(
        f"train: {metrics['steps']} steps, final train loss {metrics['final_train_loss']:.4f}, "
        f"held-out loss {metrics['final_eval_loss']:.4f}, {metrics['model']['parameters']:,} weights"
    )
    return metrics


# The stages after training each read the trained model and log their headline numbers.
def _evaluate(ctx: StageContext, out: Path) -> dict[str, Any]:
    total = ctx.run.stage_metrics("data")["heldout_tokens"]
    if ctx.cfg.evaluate.max_tokens is not None:
        total = min(total, ctx.cfg.evaluate.max_tokens)
    with ctx.bar(total, "evaluate: held-out", unit="tok") as bar:
        metrics = evaluate.run_evaluate(ctx.cfg, ctx.run, device=ctx.device, progress=bar.update)
    base = ", ".join(f"{k} {v:.3f}" for k, v in metrics["baselines_bits_per_byte"].items())
    ctx.log(
        f"evaluate: {metrics['model']['bits_per_byte']:.3f} bits/byte "
        f"(perplexity {metrics['model']['perplexity']:.2f}); baselines: {base}"
    )
    return metrics


# Quantization's headline: the int8 loss against fp32's, and the file size ratio.
def _quantize(ctx: StageContext, out: Path) -> dict[str, Any]:
    metrics = quantize.run_quantize(ctx.cfg, ctx.run, out, device=ctx.device)
    ctx.log(
        f"quantize: int8 held-out loss {metrics['int8_loss']:.4f} vs fp32 {metrics['fp32_loss']:.4f} "
        f"({metrics['relative_loss_change']:+.2%}), file {metrics['int8_size_ratio']:.0%} of fp32"
    )
    return metrics


# Export checks parity (ONNX and Hugging Face against PyTorch) and warns, without failing, when
# the difference exceeds the tolerance.
def _export(ctx: StageContext, out: Path) -> dict[str, Any]:
    m = export.run_export(ctx.cfg, ctx.run, out)
    ctx.log(
        f"export: ONNX opset {m['onnx_opset']}, parity full {m['onnx_fp32_full_forward_max_abs_diff']:.1e} "
        f"cached {m['onnx_fp32_cached_decode_max_abs_diff']:.1e} HF {m['hf_llama_max_abs_diff']:.1e}; "
        f"int8 ONNX {m['onnx_int8_size_ratio']:.0%} of fp32, loss {m['onnx_int8_relative_loss_change']:+.2%}"
    )
    if not m["parity_passed"]:
        ctx.log(f"export: WARNING parity above {m['parity_tolerance']:g}; see export/metrics.json")
    return m


# The benchmark's bar counts rounds; each round decodes with all four variants.
def _benchmark(ctx: StageContext, out: Path) -> dict[str, Any]:
    with ctx.bar(ctx.cfg.benchmark.repeats, "benchmark: decode", unit="round") as bar:
        m = benchmark.run_benchmark(ctx.cfg, ctx.run, progress=bar.update)
    for name, v in m["variants"].items():
        ctx.log(
            f"benchmark: {name:<17} {v['tokens_per_s']:8.1f} tok/s  {v['ms_per_token']:7.2f} ms/token  "
            f"{v['speedup_vs_torch_fp32']:5.2f}x  {v['file_mb']:7.2f} MB"
        )
    return m


# ## The table of stages
#
# One row per stage, in pipeline order: its name (also its folder's), the stages whose output it
# reads, the function that runs it, and whether it writes progressively (the training stage's
# checkpoints, so that an interrupted stage can resume) instead of through a temporary folder.
@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline."""

    name: str
    needs: tuple[str, ...]
    run: Callable[[StageContext, Path], dict[str, Any]]
    resumable: bool = False


# Evaluate, quantize and export each need only the trained model; the benchmark times the
# quantized and exported models, so it needs both.
STAGE_TABLE: tuple[Stage, ...] = (
    Stage("corpus", (), _corpus),
    Stage("tokenizer", ("corpus",), _tokenizer),
    Stage("data", ("tokenizer",), _data),
    Stage("train", ("data",), _train, resumable=True),
    Stage("evaluate", ("train",), _evaluate),
    Stage("quantize", ("train",), _quantize),
    Stage("export", ("train",), _export),
    Stage("benchmark", ("quantize", "export"), _benchmark),
)
STAGES: tuple[str, ...] = tuple(s.name for s in STAGE_TABLE)
_BY_NAME = {s.name: s for s in STAGE_TABLE}


# The table is in pipeline order, so one pass finds every stage downstream of `stage`.
def dependents(stage: str) -> list[str]:
    """`stage` and every stage that needs it, directly or through others, in pipeline order.

    >>> dependents("quantize")
    ['quantize', 'benchmark']
    """
    found = {stage}
    for s in STAGE_TABLE:
        if any(n in found for n in s.needs):
            found.add(s.name)
    return [s for s in STAGES if s in found]


# Rerunning a stage invalidates everything downstream of it, so those are forgotten first.
def run_stage(ctx: StageContext, stage: str) -> dict[str, Any]:
    """Run one stage (again), record its time, and forget the stages after it."""
    if stage not in _BY_NAME:
        raise CapstoneError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    row = _BY_NAME[stage]
    for needed in row.needs:
        if not ctx.run.is_done(needed):
            raise CapstoneError(f"stage {stage} needs stage {needed}, which has not finished")
    # Under torchrun every process runs the stage, but only rank 0 keeps the books.
    main = int(os.environ.get("RANK", "0")) == 0
    if main:
        for later in dependents(stage):
            ctx.run.forget(later)
    # A resumable stage writes into its final folder (its checkpoints survive a crash); any other
    # writes into a temporary folder renamed into place only on success.
    start = time.perf_counter()
    final = ctx.run.stage_path(stage)
    try:
        if row.resumable:
            final.mkdir(exist_ok=True)
            metrics = row.run(ctx, final)
            if not main:
                return metrics
            atomic_write_json(final / STAGE_METRICS, metrics)
        else:
            with staged_folder(final) as tmp:
                metrics = row.run(ctx, tmp)
                atomic_write_json(tmp / STAGE_METRICS, metrics)
        ctx.run.mark_done(stage, time.perf_counter() - start)
    except OSError as e:
        # A full disk in any stage: one line naming the stage and its folder.
        error = stage_error(stage, final, e)
        if error is None:
            raise
        raise error from None
    return metrics


# Finished stages are skipped, which is all that resuming a run means; the report is always
# rewritten, so it describes whatever has finished.
def run_pipeline(ctx: StageContext, *, until: str | None = None) -> None:
    """Run every stage that has not finished yet, in order (up to `until`), then the report."""
    names = list(STAGES)
    if until is not None:
        if until not in names:
            raise CapstoneError(f"unknown stage {until!r}; stages are {', '.join(names)}")
        names = names[: names.index(until) + 1]
    for stage in names:
        if ctx.run.is_done(stage):
            ctx.log(f"{stage}: already done, skipped")
            continue
        run_stage(ctx, stage)
    # The report is not a stage (nothing depends on it), but a full disk while writing it gets
    # the same one-line error.
    try:
        paths = report.write_report(ctx.run)
    except OSError as e:
        error = stage_error("report", ctx.run.report_dir, e)
        if error is None:
            raise
        raise error from None
    ctx.log(f"report: {paths['report']}")


# A bad input removes the new run folder (nothing in it is worth keeping); a full disk keeps it,
# since the finished stages are valid and `capstone resume` continues once space is freed.
def start_run(
    cfg: RunConfig,
    out: Path,
    *,
    until: str | None = None,
    quiet: bool = False,
    log: Callable[[str], None] | None = None,
) -> RunFolder:
    """Create a run folder for `cfg` at `out` and run the pipeline; on bad input remove the folder.

    `out` must be absent or empty (`RunFolder.create` refuses anything else), so everything in it
    after a failure was written by this run.
    """
    # The device is resolved before the folder exists, so a missing GPU leaves nothing behind.
    device = resolve_device(cfg.device)
    run = RunFolder.create(out, cfg.to_dict())
    ctx = StageContext(cfg, run, device, quiet=quiet)
    if log is not None:
        ctx.log = log
    try:
        run_pipeline(ctx, until=until)
    except DiskFullError:
        raise  # the run folder is consistent and resumable: keep it
    except CapstoneError:
        run.remove_own_files()
        raise
    return run


# Every command on an existing run starts here: the config comes from the folder, not the flags.
def open_run(
    path: Path, *, quiet: bool = False, log: Callable[[str], None] | None = None
) -> StageContext:
    """Open an existing run folder and rebuild its context (config from run.json)."""
    run = RunFolder.open(path)
    cfg = from_dict(run.config)
    ctx = StageContext(cfg, run, resolve_device(cfg.device), quiet=quiet)
    if log is not None:
        ctx.log = log
    return ctx
