r"""# The run folder: one directory that holds everything a run made

A capstone run writes every artifact into one folder, `runs/<name>/` by default:

```
run.json          format version, the full config, and when each stage finished and how long it took
corpus/           train and held-out documents, corpus statistics
tokenizer/        the trained byte-level BPE and its statistics
data/             token shards (memory-mapped) for the train and held-out splits
train/            checkpoints, metrics.jsonl, the time plan, the final weights
evaluate/         held-out loss, bits per byte, baselines, samples
quantize/         the int8 PyTorch model and its held-out loss
export/           model.onnx, model.int8.onnx, the Hugging Face folder, parity numbers
benchmark/        decode speed and file sizes
report.md         the report, with plots in report/
metrics.json      every number above in one file
```

This chapter is the **one owner of that layout**: every file name, every path and every loader
lives here, in `RunFolder`, and the stages ask it (`run.load_tokenizer()`, `run.weights_file`)
instead of joining path strings themselves. A stage therefore depends on this module and on the
library packages, never on another stage's module.

Three rules keep the folder trustworthy.

**A run folder is ours only if we made it.** `capstone run --out DIR` accepts a `DIR` that does
not exist or is empty, and refuses anything else: a folder holding the user's files (a failed run
would otherwise remove whatever it had written, and a successful one would replace folders named
like stages, `data/` or `report/`, with its own), a folder that holds the `--data`, or one that
lies inside it. Nothing outside the run folder is ever removed, and inside it only what the run
wrote.

**Nothing half-written.** A stage writes into a hidden temporary folder and renames it into place
only when it has finished; a single file is written to a temporary name, flushed to the disk with
`fsync`, and renamed (`atomic_write`, Module 9's one implementation). A rename within one file
system is atomic (POSIX `rename(2)`), so a reader, or a resumed run, sees either the old complete
artifact or the new complete one, never a torn file. The training stage is the one exception: its
checkpoints are written atomically, one by one, by `infra`, so that a killed run can resume from
the last one. A disk that fills up mid-stage therefore leaves the previous state intact, and the
error names the stage and the folder (`DiskFullError`).

**A recorded format.** `run.json` names the folder's format version. A later capstone that changes
the layout bumps `FORMAT_VERSION`, and refuses, with a one-line message, to resume or report on a
folder it cannot read instead of failing deep inside a stage.

Errors the user can fix (bad data, bad config, bad folder, a damaged file) are raised as
`CapstoneError`, which the command line turns into one line on stderr and exit status 2.

**A worked example.** A stage that finishes leaves its folder; a stage that crashes halfway
leaves nothing, not even its temporary folder; and an `--out` inside the data is refused before
anything is written:

>>> import shutil, tempfile
>>> run = Path(tempfile.mkdtemp())
>>> with staged_folder(run / "evaluate") as tmp:
...     _ = (tmp / "metrics.json").write_text("{}")
>>> try:
...     with staged_folder(run / "export") as tmp:
...         _ = (tmp / "model.onnx").write_bytes(b"half an ONNX file")
...         raise RuntimeError("killed mid-stage")
... except RuntimeError:
...     pass
>>> sorted(p.name for p in run.iterdir())  # no export/, no .export.tmp/
['evaluate']
>>> check_new_run_folder(run / "data" / ".." / "data" / "out", [run / "data"])
Traceback (most recent call last):
    ...
masterclass.capstone.run_folder.CapstoneError: output folder ... lies inside the data path ...
>>> shutil.rmtree(run)

## Exercises

1. Write `overlaps(out, data)`: whether the folder `out` lies inside one of the `data` paths or
   holds one, compared after `resolve()` (so `data/../data/run` and a symbolic link to the data
   count) and by whole path components (`dataset/` is not inside `data/`). Check it against the
   chapter's `check_new_run_folder`: `uv run pytest --exercise capstone.run_folder`.
2. Write `split_offsets(documents)`: the $n + 1$ byte offsets (int64, starting at 0) of $n$
   documents written back to back, the `<name>.idx.npy` of a corpus split. Check it against the
   file `write_split` writes: `uv run pytest --exercise capstone.run_folder`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from masterclass.infra.atomic import (  # noqa: F401 (re-exported for the stages)
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)
from masterclass.nlp.stdlib_corpus import stdlib_root

# Bump when the layout of a run folder changes in a way an older reader would misread.
# Version 2: the model and train sections use the library configs' field names.
FORMAT_VERSION = 2

RUN_FILE = "run.json"
# File names inside each stage's folder; the only place they are spelled.
CORPUS_SPLITS = ("train", "heldout")
TOKENIZER_FILE = "bpe.json"
WEIGHTS_FILE = "model.safetensors"
MODEL_CONFIG_FILE = "model_config.json"
SCHEDULE_FILE = "schedule.json"
TRAIN_LOG = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
# The deployable artifacts, then the files every stage and the report write.
INT8_FILE = "model.int8.safetensors"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
HF_FOLDER = "hf"
STAGE_METRICS = "metrics.json"
REPORT_FILE = "report.md"
REPORT_FOLDER = "report"
METRICS_FILE = "metrics.json"


# Two kinds of expected failure: bad input (the run is removed) and a full disk (it is kept).
class CapstoneError(Exception):
    """A problem with the user's input (data, config, folder), reported as one line, exit code 2."""


class DiskFullError(CapstoneError):
    """The disk filled up during a stage; the run folder keeps its last consistent state."""


# ## Writing a file atomically
#
# Every capstone file goes through one implementation, Module 9's
# [`masterclass.infra.atomic`](../infra/atomic.md), whose `atomic_write`, `atomic_write_bytes`,
# `atomic_write_text` and `atomic_write_json` this module re-exports, so that stages import
# their helpers from here only. `write(tmp)` fills a temporary file next to the target (same
# folder, so the same file system, so the rename is atomic); the bytes are `fsync`ed before the
# rename and the folder after it, so that after a power cut the new name never points at an
# empty file. On any failure (a full disk included) the temporary file is removed and the old
# file, if any, is untouched. JSON is written strictly: a number that is not finite (a diverged
# loss) becomes `null`, and `read_json` reads it back.
def read_json(path: Path) -> Any:
    """Read a JSON file written by `atomic_write_json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` is the operating system saying the disk (or the quota) is full."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


# A stage's folder appears only when the stage succeeds: the stage writes into
# `.<stage>.tmp/`, and on success that folder replaces `<stage>/` (an earlier result is moved
# aside first and deleted after, so a crash in between leaves one complete copy). On any
# exception the temporary folder is removed and the old result, if any, is untouched. Only ever
# called on folders inside a run folder, which are ours.
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
    # Success: two renames, never a moment without a complete `<stage>/` or `.<stage>.old/`.
    old = final.with_name(f".{final.name}.old")
    if final.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)


# Permissions are checked by trying: write and delete a probe file, which also catches read-only
# mounts and access lists that `os.access` misreads.
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


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


# ## Whose folder is it?
#
# The checks run before anything is written. Paths are compared after `resolve()` (symbolic
# links and `..` followed), so `--out data/../data` is recognised as the data folder.
def check_new_run_folder(path: Path, data: Sequence[str | os.PathLike] = ()) -> None:
    """Refuse an `--out` that holds a run, holds other files, or overlaps the `--data` paths."""
    path = Path(path)
    if (path / RUN_FILE).exists():
        raise CapstoneError(
            f"output folder {path} already holds a run; use `capstone resume {path}` or pick "
            "another --out"
        )
    if path.is_dir() and any(path.iterdir()):
        raise CapstoneError(
            f"output folder {path} exists and is not empty; a run folder must be new or empty "
            "(the run never writes among your files); pick another --out"
        )
    # Overlap either way is refused: a run inside the data would be read back as data next time,
    # and data inside the run would be deleted with a failed run.
    out = path.resolve()
    for d in data:
        src = Path(d).resolve()
        if _inside(out, src):
            raise CapstoneError(
                f"output folder {path} lies inside the data path {d}; pick another --out"
            )
        if _inside(src, out):
            raise CapstoneError(
                f"output folder {path} contains the data path {d}; pick another --out"
            )


# ## The corpus split format
#
# The corpus stage writes each split as `<name>.bin` (the documents' bytes back to back) and
# `<name>.idx.npy` (the $n+1$ byte offsets of the $n$ documents); `CorpusSplit` reads it back
# through a memory map. Writer and reader sit together so that the format has one owner.
def write_split(folder: Path, name: str, documents: list[bytes]) -> None:
    """Write documents as `<name>.bin` (bytes back to back) and `<name>.idx.npy` (offsets)."""
    offsets = np.zeros(len(documents) + 1, dtype=np.int64)  # (n + 1,)
    offsets[1:] = np.cumsum([len(d) for d in documents])

    def write_bin(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            for d in documents:
                f.write(d)

    atomic_write(folder / f"{name}.bin", write_bin)
    atomic_write(folder / f"{name}.idx.npy", lambda tmp: _save_npy(tmp, offsets))


# `np.save` given a path appends `.npy` to it; given an open file it writes exactly there, which
# the temporary name of `atomic_write` needs.
def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array)


# Document `i` is the byte range `offsets[i]:offsets[i + 1]` of the memory map, so reading one
# touches only its own pages; an empty split has nothing to map.
class CorpusSplit:
    """The documents of one split of a finished corpus stage, memory-mapped.

    Indexing gives a document's bytes; `len()` the number of documents; `n_bytes` the total.
    """

    def __init__(self, folder: Path, name: str):
        if name not in CORPUS_SPLITS:
            raise ValueError(f"split must be one of {CORPUS_SPLITS}, got {name!r}")
        self.offsets = np.load(Path(folder) / f"{name}.idx.npy")  # (n + 1,)
        self.n_bytes = int(self.offsets[-1])
        path = Path(folder) / f"{name}.bin"
        self._data = np.memmap(path, dtype=np.uint8, mode="r") if self.n_bytes else np.empty(0)

    # A split behaves as a read-only sequence of documents.
    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> bytes:
        return bytes(self._data[self.offsets[i] : self.offsets[i + 1]])

    def __iter__(self) -> Iterator[bytes]:
        return (self[i] for i in range(len(self)))

    def all_bytes(self) -> bytes:
        """Every document of the split back to back (what the compressors are given)."""
        return bytes(self._data)


# `run.json` is the run's memory: the config it was started with and each finished stage. Every
# command reads it first and rewrites it atomically after any change.
class RunFolder:
    """The run folder at `path`: its `run.json` record, every artifact's path, and the loaders."""

    def __init__(self, path: Path, record: dict[str, Any], *, made_folder: bool = False):
        self.path = Path(path)
        self.record = record
        # Whether `create` made the folder itself (else it was an empty folder of the user's).
        self.made_folder = made_folder

    @property
    def config(self) -> dict[str, Any]:
        """The run's configuration, as the plain dict stored in `run.json`."""
        return self.record["config"]

    # A new run: every check on the folder happens before the first byte is written, and the
    # record is the first file, so a folder with `run.json` is always a run.
    @classmethod
    def create(cls, path: Path, config: dict[str, Any]) -> RunFolder:
        """Start a new run at `path` (absent or empty) with `config`."""
        path = Path(path)
        # With no --data the corpus is the standard library, which must not receive a run either.
        data = config.get("corpus", {}).get("data") or [stdlib_root()]
        check_new_run_folder(path, data)
        made = not path.exists()
        check_writable(path)
        record = {
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": config,
            "stages": {},
        }
        atomic_write_json(path / RUN_FILE, record)
        return cls(path, record, made_folder=made)

    # An old run: its record must parse and carry this code's format version, since the layout
    # of the stage folders may differ between versions.
    @classmethod
    def open(cls, path: Path) -> RunFolder:
        """Open an existing run, refusing folders that are missing or of another format version."""
        path = Path(path)
        meta = path / RUN_FILE
        if not meta.is_file():
            raise CapstoneError(f"{path} is not a capstone run folder (no {RUN_FILE})")
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

    # `create` refused any folder with files in it, so whatever is inside now is this run's.
    def remove_own_files(self) -> None:
        """Delete what a failed fresh run wrote: the folder was absent or empty, so all of it.

        A folder the user made (empty) stays, empty; one this run made goes.
        """
        if self.made_folder:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for child in self.path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)

    # ### Stage bookkeeping

    def stage_path(self, stage: str) -> Path:
        """The folder of `stage` (it exists only once the stage has finished, except `train`)."""
        return self.path / stage

    def is_done(self, stage: str) -> bool:
        """Whether `stage` finished in this run folder."""
        return stage in self.record["stages"] and self.stage_path(stage).exists()

    # Finishing and forgetting a stage rewrite `run.json` at once; `is_done` asks for both the
    # record and the folder, so a crash between the two never counts a stage as finished.
    def mark_done(self, stage: str, seconds: float) -> None:
        """Record that `stage` finished after `seconds` of wall time."""
        self.record["stages"][stage] = {
            "seconds": round(seconds, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self.save_record()

    def forget(self, stage: str) -> None:
        """Mark `stage` (to be re-run) as not finished."""
        if self.record["stages"].pop(stage, None) is not None:
            self.save_record()

    def save_record(self) -> None:
        """Write `run.json` again (atomically)."""
        atomic_write_json(self.path / RUN_FILE, self.record)

    def stage_metrics(self, stage: str) -> dict[str, Any]:
        """The `metrics.json` a finished stage wrote, or `{}`."""
        path = self.stage_path(stage) / STAGE_METRICS
        return read_json(path) if path.is_file() else {}

    # ### Paths of the artifacts

    @property
    def tokenizer_file(self) -> Path:
        """The trained BPE (`nlp`'s JSON format)."""
        return self.path / "tokenizer" / TOKENIZER_FILE

    @property
    def train_dir(self) -> Path:
        """The training stage's folder (written progressively, not staged)."""
        return self.path / "train"

    @property
    def weights_file(self) -> Path:
        """The trained fp32 weights (safetensors)."""
        return self.train_dir / WEIGHTS_FILE

    # The training stage's other files: the model's shape, the time plan, the log, checkpoints.
    @property
    def model_config_file(self) -> Path:
        """The trained model's `LMConfig` as JSON."""
        return self.train_dir / MODEL_CONFIG_FILE

    @property
    def schedule_file(self) -> Path:
        """The training time plan (`train.py`)."""
        return self.train_dir / SCHEDULE_FILE

    @property
    def train_log(self) -> Path:
        """The training loop's `metrics.jsonl`."""
        return self.train_dir / TRAIN_LOG

    @property
    def checkpoints_dir(self) -> Path:
        """The training loop's checkpoints."""
        return self.train_dir / CHECKPOINTS

    # The deployable artifacts: int8 weights, the two ONNX models and the Hugging Face folder.
    @property
    def int8_file(self) -> Path:
        """The int8 PyTorch weights of the quantize stage."""
        return self.path / "quantize" / INT8_FILE

    @property
    def onnx_file(self) -> Path:
        """The fp32 ONNX model with a KV cache."""
        return self.path / "export" / ONNX_FILE

    @property
    def onnx_int8_file(self) -> Path:
        """The int8 ONNX model."""
        return self.path / "export" / ONNX_INT8_FILE

    @property
    def hf_dir(self) -> Path:
        """The Hugging Face folder."""
        return self.path / "export" / HF_FOLDER

    # The report's outputs sit at the top of the run folder, where a reader looks first.
    @property
    def report_file(self) -> Path:
        """`report.md`."""
        return self.path / REPORT_FILE

    @property
    def report_dir(self) -> Path:
        """The report's plots."""
        return self.path / REPORT_FOLDER

    @property
    def metrics_file(self) -> Path:
        """Every number of the run in one JSON file."""
        return self.path / METRICS_FILE

    # ### Loaders
    #
    # Each loader turns an unreadable artifact into a `CapstoneError` that names the file, so a
    # damaged run folder costs the user one line, not a traceback from inside safetensors.

    def corpus_split(self, name: str) -> CorpusSplit:
        """The `train` or `heldout` documents of the corpus stage."""
        return CorpusSplit(self.path / "corpus", name)

    def token_shards(self, split: str):
        """The token shards (`infra.TokenShards`) of `split` of the data stage."""
        from masterclass.infra.shards import TokenShards

        return TokenShards(self.path / "data" / split)

    def heldout_stream(self, max_tokens: int | None = None) -> np.ndarray:
        """The held-out token stream `[EOT, d1, EOT, d2, ...]`, cut to `max_tokens` if given."""
        stream = self.token_shards("heldout").to_numpy()
        return stream[:max_tokens] if max_tokens is not None else stream

    # The loaders import their libraries only when called, and load weights strictly:
    # a missing or extra tensor is a damaged file, not a silently half-initialised model.
    def load_tokenizer(self):
        """The tokenizer (`nlp.BPETokenizer`) of the tokenizer stage."""
        from masterclass.nlp.bpe import BPETokenizer

        return _load(self.tokenizer_file, BPETokenizer.load)

    def load_model(self, device: str = "cpu"):
        """The trained model (`llm.LanguageModel`) in eval mode on `device`."""
        from safetensors.torch import load_model

        from masterclass.llm import LanguageModel, LMConfig

        config = _load(self.model_config_file, lambda p: LMConfig.from_dict(read_json(p)))
        model = LanguageModel(config)
        _load(self.weights_file, lambda p: load_model(model, str(p), strict=True))
        return model.to(device).eval()

    # The int8 model is rebuilt from the fp32 weights (quantizing is deterministic and fast).
    def load_int8(self, device: str = "cpu"):
        """The trained model with linear layers and embeddings quantized to int8 (`deploy`)."""
        from masterclass.deploy.quantization import quantize_int8

        return quantize_int8(self.load_model("cpu")).to(device).eval()


# Any failure of a reader becomes one line naming the file and the command that rewrites it.
def _load(path: Path, reader: Callable[[Path], Any]) -> Any:
    if not path.is_file():
        raise CapstoneError(f"{path} is missing; run the stage that writes it again")
    try:
        return reader(path)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CapstoneError(
            f"{path} is damaged ({reason}); run the stage that writes it again "
            "(`capstone stage NAME RUN`)"
        ) from None


# A full disk is the one OS error a user can fix without a traceback; it is a `DiskFullError`,
# so `start_run` knows to keep the folder.
def stage_error(stage: str, folder: Path, error: BaseException) -> CapstoneError | None:
    """The one-line error for an OS error during `stage` (disk full), or None for other errors."""
    if is_disk_full(error):
        return DiskFullError(
            f"stage {stage}: the disk is full while writing in {folder}; the run folder keeps "
            "its last consistent state: free some space and run `capstone resume "
            f"{folder.parent}`"
        )
    return None
