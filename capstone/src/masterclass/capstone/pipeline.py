"""# The pipeline: stages in order, each once, each timed

`run_pipeline` walks the stages of the capstone in order:

$$ \\text{corpus} \\to \\text{tokenizer} \\to \\text{data} \\to \\text{train} \\to \\text{evaluate}
   \\to \\text{quantize} \\to \\text{export} \\to \\text{benchmark} \\to \\text{report}. $$

Each stage reads only what earlier stages left in the run folder and writes only its own
sub-folder, through `staged_folder`, so that a stage either finished completely or left nothing.
The run folder's `run.json` records which stages finished and how long each took; resuming a run
skips finished stages, and the training stage itself resumes from its last checkpoint. Running one
stage again (`capstone stage NAME RUN`) forgets the stages after it, since they were computed from
its old output.

Bad input found by any stage is a `CapstoneError`. When it happens in a fresh run, the run folder
this invocation created is removed, so nothing half-made is left behind.

Every long stage shows a `tqdm` progress bar with its throughput and remaining time; every line of
log goes through `tqdm.write` so that bars and log lines do not tear each other.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from masterclass.capstone import corpus
from masterclass.capstone.config import RunConfig, from_dict
from masterclass.capstone.run_folder import (
    STAGES,
    CapstoneError,
    RunFolder,
    atomic_write_json,
    staged_folder,
)


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
    return metrics


STAGE_FUNCTIONS: dict[str, Callable[[StageContext, Path], dict[str, Any]]] = {
    "corpus": _corpus,
}

# Stages that write into their folder progressively (checkpoints) instead of through a temporary
# folder, so that an interrupted stage can resume.
RESUMABLE = ("train",)


def run_stage(ctx: StageContext, stage: str) -> dict[str, Any]:
    """Run one stage (again), record its time, and forget the stages after it."""
    if stage not in STAGE_FUNCTIONS:
        raise CapstoneError(f"unknown stage {stage!r}; stages are {', '.join(STAGE_FUNCTIONS)}")
    for earlier in STAGES[: STAGES.index(stage)]:
        if earlier in STAGE_FUNCTIONS and not ctx.run.is_done(earlier):
            raise CapstoneError(f"stage {stage} needs stage {earlier}, which has not finished")
    for later in STAGES[STAGES.index(stage) :]:
        ctx.run.forget(later)
    start = time.perf_counter()
    final = ctx.run.stage_path(stage)
    if stage in RESUMABLE:
        final.mkdir(exist_ok=True)
        metrics = STAGE_FUNCTIONS[stage](ctx, final)
        atomic_write_json(final / "metrics.json", metrics)
    else:
        with staged_folder(final) as tmp:
            metrics = STAGE_FUNCTIONS[stage](ctx, tmp)
            atomic_write_json(tmp / "metrics.json", metrics)
    ctx.run.mark_done(stage, time.perf_counter() - start)
    return metrics


def run_pipeline(ctx: StageContext, *, until: str | None = None) -> None:
    """Run every stage that has not finished yet, in order (up to `until`), then the report."""
    names = [s for s in STAGES if s in STAGE_FUNCTIONS]
    if until is not None:
        if until not in names:
            raise CapstoneError(f"unknown stage {until!r}; stages are {', '.join(names)}")
        names = names[: names.index(until) + 1]
    for stage in names:
        if ctx.run.is_done(stage):
            ctx.log(f"{stage}: already done, skipped")
            continue
        run_stage(ctx, stage)


def start_run(
    cfg: RunConfig,
    out: Path,
    *,
    until: str | None = None,
    quiet: bool = False,
    log: Callable[[str], None] | None = None,
) -> RunFolder:
    """Create a run folder for `cfg` at `out` and run the pipeline; on bad input remove the folder."""
    device = resolve_device(cfg.device)
    existed = out.exists()
    run = RunFolder.create(out, cfg.to_dict())
    ctx = StageContext(cfg, run, device, quiet=quiet)
    if log is not None:
        ctx.log = log
    try:
        run_pipeline(ctx, until=until)
    except CapstoneError:
        if not existed:
            shutil.rmtree(out, ignore_errors=True)
        else:
            # The folder was the user's: remove only what this run wrote.
            for name in (*STAGES, "report"):
                shutil.rmtree(out / name, ignore_errors=True)
            for name in ("run.json", "report.md", "metrics.json"):
                (out / name).unlink(missing_ok=True)
        raise
    return run


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


def stage_names() -> Sequence[str]:
    """The stages this capstone runs, in order."""
    return [s for s in STAGES if s in STAGE_FUNCTIONS]
