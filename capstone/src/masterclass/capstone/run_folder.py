"""# The run folder: one directory that holds everything a run made

A capstone run writes every artifact into one folder, `runs/<name>/` by default:

```
run.json          format version, the full config, and when each stage finished and how long it took
corpus/           train and held-out documents, corpus statistics
tokenizer/        the trained byte-level BPE and its statistics
data/             token shards (memory-mapped) for the train and held-out splits
train/            checkpoints and metrics.jsonl of the training loop
evaluate/         held-out loss, bits per byte, baselines, samples
quantize/         the int8 PyTorch model and its held-out loss
export/           model.onnx, model.int8.onnx, the Hugging Face folder, parity numbers
benchmark/        decode speed and file sizes
report.md         the report, with plots in report/
metrics.json      every number above in one file
```

Two rules keep the folder trustworthy.

**Nothing half-written.** A stage writes into a hidden temporary folder and renames it into place
only when it has finished; a single file is written to a temporary name and renamed. A rename within
one file system is atomic (POSIX `rename(2)`), so a reader, or a resumed run, sees either the old
complete artifact or the new complete one, never a torn file. The training stage is the one
exception: its checkpoints are written atomically, one by one, by `infra`, so that a killed run can
resume from the last one.

**A recorded format.** `run.json` names the folder's format version. A later capstone that changes
the layout bumps `FORMAT_VERSION`, and refuses, with a one-line message, to resume or report on a
folder it cannot read instead of failing deep inside a stage.

Errors the user can fix (bad data, bad config, bad folder) are raised as `CapstoneError`, which the
command line turns into one line on stderr and exit status 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Bump when the layout of a run folder changes in a way an older reader would misread.
FORMAT_VERSION = 1

# The stages in pipeline order; each owns the sub-folder of the same name.
STAGES = ("corpus", "tokenizer", "data", "train", "evaluate", "quantize", "export", "benchmark")


class CapstoneError(Exception):
    """A problem with the user's input (data, config, folder), reported as one line, exit code 2."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file readable by its owner only; give it the usual permissions.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file written by `atomic_write_json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


# A stage's folder appears only when the stage succeeds: the stage writes into
# `.<stage>.tmp/`, and on success that folder replaces `<stage>/` (an earlier result is moved
# aside first and deleted after, so a crash in between leaves one complete copy). On any
# exception the temporary folder is removed and the old result, if any, is untouched.
@contextlib.contextmanager
def staged_folder(final: Path) -> Iterator[Path]:
    """Yield a temporary folder that is renamed to `final` if the block finishes without error."""
    final = Path(final)
    tmp = final.with_name(f".{final.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = final.with_name(f".{final.name}.old")
    if final.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)


def check_writable(folder: Path) -> None:
    """Create `folder` if needed and prove that a file can be written in it, else `CapstoneError`."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise CapstoneError(f"output folder {folder} is not writable: {reason}") from None


class RunFolder:
    """The run folder at `path`: its `run.json` record, stage folders and stage bookkeeping."""

    def __init__(self, path: Path, record: dict[str, Any]):
        self.path = Path(path)
        self.record = record

    @property
    def config(self) -> dict[str, Any]:
        """The run's configuration, as the plain dict stored in `run.json`."""
        return self.record["config"]

    @classmethod
    def create(cls, path: Path, config: dict[str, Any]) -> RunFolder:
        """Start a new run at `path` (which must be empty or absent) with `config`."""
        path = Path(path)
        if (path / "run.json").exists():
            raise CapstoneError(
                f"output folder {path} already holds a run; use `capstone resume {path}` or pick "
                "another --out"
            )
        check_writable(path)
        record = {
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": config,
            "stages": {},
        }
        atomic_write_json(path / "run.json", record)
        return cls(path, record)

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        """Open an existing run, refusing folders that are missing or of another format version."""
        path = Path(path)
        meta = path / "run.json"
        if not meta.is_file():
            raise CapstoneError(f"{path} is not a capstone run folder (no run.json)")
        try:
            record = read_json(meta)
        except (OSError, ValueError) as e:
            raise CapstoneError(f"cannot read {meta}: {e}") from None
        version = record.get("format_version") if isinstance(record, dict) else None
        if version != FORMAT_VERSION:
            raise CapstoneError(
                f"run folder {path} has format version {version!r}, but this capstone reads "
                f"version {FORMAT_VERSION}; start a new run with another --out"
            )
        return cls(path, record)

    def stage_path(self, stage: str) -> Path:
        """The folder of `stage` (it exists only once the stage has finished, except `train`)."""
        return self.path / stage

    def is_done(self, stage: str) -> bool:
        """Whether `stage` finished in this run folder."""
        return stage in self.record["stages"] and self.stage_path(stage).exists()

    def mark_done(self, stage: str, seconds: float) -> None:
        """Record that `stage` finished after `seconds` of wall time."""
        self.record["stages"][stage] = {
            "seconds": round(seconds, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        atomic_write_json(self.path / "run.json", self.record)

    def forget(self, stage: str) -> None:
        """Mark `stage` (to be re-run) as not finished."""
        if self.record["stages"].pop(stage, None) is not None:
            atomic_write_json(self.path / "run.json", self.record)

    def stage_metrics(self, stage: str) -> dict[str, Any]:
        """The `metrics.json` a finished stage wrote, or `{}`."""
        path = self.stage_path(stage) / "metrics.json"
        return read_json(path) if path.is_file() else {}
