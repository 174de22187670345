"""# Checkpointing: atomic, complete, resumable

A training run that takes hours will be interrupted: a pre-empted machine, a full disk, a
`Ctrl-C`. A *checkpoint* is everything needed to continue as if nothing had happened, and
"everything" is more than the weights:

| what | why it is needed | file |
|---|---|---|
| model parameters and buffers | the thing being trained | `model.safetensors` |
| optimizer state ($m_t$, $v_t$, step counts) | AdamW's update depends on its moments | `optimizer.pt` |
| RNG states (torch, numpy, Python) | dropout masks and sampling must continue the same stream | `rng.pt` |
| data position | the next batch must be the one that would have come next | `meta.json` |
| step, free-form extras, checksums | bookkeeping and integrity | `meta.json` |

With all five restored, resumed training on the CPU is *bitwise* equal to an uninterrupted
run (the tests check `torch.equal`, not `allclose`).

**Atomicity.** A crash while writing must never leave a half-written checkpoint that looks
valid. Each checkpoint is written into a temporary directory, every file is `fsync`ed, and the
directory is then `rename`d into place: on POSIX a rename within one file system is atomic, so a
reader sees either the old state or the new one. A small `latest` file, itself replaced
atomically, points at the newest complete checkpoint, and only the last `keep` checkpoints are
kept.

**Formats.** Weights go to [safetensors](https://github.com/huggingface/safetensors), which
cannot execute code on load; the rest is plain tensors, numbers and strings saved with
`torch.save` and read back with `torch.load(weights_only=True)`, which refuses arbitrary
pickled objects.

**A worked example.** Three steps of AdamW, a checkpoint after each, the last two kept. A fresh
model and optimizer loaded from the run folder hold the same weights, and take the same next
step, bit for bit, because the moments came back too. Then one byte of the optimizer state is cut
off, and loading names the damaged file instead of resuming from it:

>>> import tempfile
>>> tmp = tempfile.TemporaryDirectory()
>>> _ = torch.manual_seed(0)
>>> def make():
...     model = torch.nn.Linear(4, 2)
...     return model, torch.optim.AdamW(model.parameters(), lr=0.1)
>>> def train_step(model, opt, x):
...     model(x).pow(2).mean().backward()
...     opt.step()
...     opt.zero_grad()
>>> model, opt = make()
>>> for step in range(1, 4):
...     train_step(model, opt, torch.randn(8, 4))
...     _ = save_checkpoint(tmp.name, model=model, optimizer=opt, step=step,
...                         data_state={"position": 8 * step}, keep=2)
>>> [p.name for p in list_checkpoints(tmp.name)], latest_checkpoint(tmp.name).name
(['step_000000002', 'step_000000003'], 'step_000000003')
>>> sorted(p.name for p in latest_checkpoint(tmp.name).iterdir())
['meta.json', 'model.safetensors', 'optimizer.pt', 'rng.pt']
>>> fresh, fresh_opt = make()
>>> meta = load_checkpoint(tmp.name, model=fresh, optimizer=fresh_opt)
>>> meta["step"], meta["data_state"]
(3, {'position': 24})
>>> x = torch.randn(8, 4)
>>> train_step(model, opt, x)
>>> train_step(fresh, fresh_opt, x)
>>> all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters()))
True
>>> damaged = latest_checkpoint(tmp.name) / "optimizer.pt"
>>> _ = damaged.write_bytes(damaged.read_bytes()[:-1])
>>> load_checkpoint(tmp.name, model=fresh, optimizer=fresh_opt)
Traceback (most recent call last):
...
ValueError: checkpoint file ...optimizer.pt is missing or corrupted
>>> tmp.cleanup()

Left out: sharded (per-rank) checkpoints of models too large for one process (the
[sharded-checkpoint chapter](sharded_checkpoint.md)), asynchronous saving in a background thread,
and remote storage. Data-parallel runs save from rank 0 only.

## Exercises

1. Write `surviving_steps(saves, keep)`: the sorted steps left on disk after `save_checkpoint` is
   called with the steps `saves` in that order and retention `keep` (`None` keeps all). The
   smallest steps are deleted first, but never the checkpoint just written, and saving a step
   again replaces it: what survives when a run resumes from an older checkpoint? Check it
   (against real saves): `uv run pytest --exercise infra.checkpoint`.
2. Write `corrupted_files(checkpoint)`: the sorted names of the files listed in a checkpoint's
   `meta.json` that are missing or whose SHA-256 differs from the one recorded; files it does not
   list are not damage. Check it: `uv run pytest --exercise infra.checkpoint`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model

# Weights go through safetensors (no pickle, shared tensors stored once); the optimizer and RNG
# states through `torch.save`, read back with `weights_only=True`.
from masterclass.infra.atomic import atomic_write_text, fsync_directory, fsync_file

__all__ = [
    "CHECKPOINT_FORMAT",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "save_checkpoint",
]

# The version of the on-disk layout; `load_checkpoint` refuses any other, with a clear message,
# rather than guessing how to read a future format.
CHECKPOINT_FORMAT = 1
_PREFIX = "step_"
_LATEST = "latest"


# ## Writing files durably
#
# `write` only hands bytes to the operating system's page cache; `fsync` asks it to put them on
# the disk. We fsync every file and then the directory that holds it (so that the *name* is
# durable too) before the rename that publishes the checkpoint. The two calls, and the single-file
# write used for the `latest` pointer, are [the atomic-write chapter's](atomic.md).
_fsync_file = fsync_file
_fsync_dir = fsync_directory


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ## The random number generators
#
# Three generators can influence a PyTorch training step: torch's (dropout, `torch.randn`), the
# legacy global numpy one and Python's `random`. Their states are converted to tensors and plain
# tuples of ints so that `torch.load(weights_only=True)` can read them back.
def _rng_state() -> dict[str, Any]:
    kind, key, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(key.astype(np.int64)), pos, has_gauss, cached),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


# Restoring undoes both conversions: numpy's key back to `uint32`, Python's state back to a tuple.
# CUDA states are restored only where there is a GPU to take them.
def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# A checkpoint is a `step_<N>` folder with a `meta.json`: `meta.json` is written last, so a folder
# without it is incomplete and is never listed.
def _step_of(path: Path) -> int:
    return int(path.name[len(_PREFIX) :])


def list_checkpoints(root: str | os.PathLike) -> list[Path]:
    """The complete checkpoints under `root`, oldest first (temporary directories are ignored)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [
        p
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith(_PREFIX) and p.name[len(_PREFIX) :].isdigit()
    ]
    return sorted((p for p in found if (p / "meta.json").is_file()), key=_step_of)


# Finding the newest: the `latest` pointer first, the listing as the fallback.
def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint under `run_dir`, or `None` if there is none.

    `run_dir` is the directory `save_checkpoint` was given. The `latest` pointer is trusted when
    it names an existing checkpoint; otherwise (say the pointer's target was deleted by hand) the
    newest complete `step_*` directory is returned.
    """
    root = Path(run_dir)
    pointer = root / _LATEST
    if pointer.is_file():
        target = root / pointer.read_text().strip()
        if (target / "meta.json").is_file():
            return target
    found = list_checkpoints(root)
    return found[-1] if found else None


# ## Saving
#
# The sequence is: write everything into `.tmp-step_N-<pid>/`, fsync, rename to `step_N/`,
# fsync the parent, then atomically replace the `latest` pointer and prune old checkpoints. If
# the process dies at any point, the previous `latest` still names a complete checkpoint, and a
# leftover `.tmp-*` directory is ignored by readers and cleaned up by the next save.
def save_checkpoint(
    path_dir: str | os.PathLike,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    step: int,
    data_state: dict[str, Any],
    rng: bool = True,
    extra: dict[str, Any] | None = None,
    keep: int | None = 3,
) -> Path:
    """Write a complete checkpoint of a training run atomically; return its directory.

    Args:
        path_dir: the run's checkpoint directory; the checkpoint goes to `path_dir/step_<step>`.
        model: the module whose parameters and buffers are saved (safetensors; tied weights are
            stored once).
        optimizer: optional; its `state_dict()` is saved to `optimizer.pt`.
        step: the number of optimizer steps completed (a non-negative int).
        data_state: JSON-serialisable position of the data pipeline (e.g. a batcher's
            `state_dict()`).
        rng: save the torch, numpy and Python RNG states.
        extra: JSON-serialisable metadata (config, metrics, versions).
        keep: how many checkpoints to keep (oldest deleted first); `None` keeps all.
    """
    # A step count is a non-negative int, and `keep` keeps at least the checkpoint just written.
    if not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    if keep is not None and keep < 1:
        raise ValueError(f"keep must be >= 1 or None, got {keep!r}")
    # JSON-encode first: a non-serialisable value fails here, before anything is written.
    meta: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "data_state": data_state,
        "extra": extra or {},
        "time": time.time(),
        "torch_version": torch.__version__,
    }
    try:
        json.dumps(meta)
    except TypeError as err:
        raise TypeError(f"data_state and extra must be JSON-serialisable: {err}") from err

    # Build the checkpoint in a temporary folder whose name carries the process id; leftovers of
    # earlier crashed saves are removed first.
    root = Path(path_dir)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    final = root / f"{_PREFIX}{step:09d}"
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    tmp.mkdir()
    try:
        # Weights, optimizer and RNG states, then every file fsynced and its checksum written into
        # `meta.json`, which is fsynced last; the rename to `step_<N>` publishes the whole folder at
        # once.
        save_model(model, str(tmp / "model.safetensors"))
        if optimizer is not None:
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        if rng:
            torch.save(_rng_state(), tmp / "rng.pt")
        files = sorted(p.name for p in tmp.iterdir())
        for name in files:
            _fsync_file(tmp / name)
        meta["files"] = {name: _sha256(tmp / name) for name in files}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        _fsync_file(tmp / "meta.json")
        _fsync_dir(tmp)
        # A checkpoint of the same step (a rerun) is replaced.
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(root)

    # The pointer is one line naming the directory, replaced atomically (`atomic_write_text`:
    # a temporary file, fsync, `os.replace`, fsync of the folder).
    atomic_write_text(root / _LATEST, final.name + "\n")

    if keep is not None:
        for old in list_checkpoints(root)[:-keep]:
            if old != final:
                shutil.rmtree(old, ignore_errors=True)
    return final


# ## Loading
#
# `load_checkpoint` accepts either one checkpoint directory or a run directory (then the latest
# checkpoint is used). It verifies the checksums written at save time, so a truncated or
# corrupted file is reported by name instead of producing a silently different model.
def load_checkpoint(
    path_dir: str | os.PathLike,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    rng: bool = True,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Restore a checkpoint into `model` (and `optimizer`, and the RNGs); return its metadata.

    Returns:
        a dict with `step`, `data_state`, `extra` and `path` (the checkpoint directory).

    Raises:
        FileNotFoundError: no checkpoint at `path_dir`.
        ValueError: unknown format version or a file whose checksum does not match.
    """
    # A run folder resolves to its latest checkpoint; the format version must be the one this code
    # writes.
    path = Path(path_dir)
    if not (path / "meta.json").is_file():
        found = latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"no checkpoint found at {path}")
        path = found
    meta = json.loads((path / "meta.json").read_text())
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"checkpoint {path} has format {meta.get('format')!r}; this version reads format "
            f"{CHECKPOINT_FORMAT} only"
        )
    # Every file is checked against its checksum before any of them is loaded, so a corrupted
    # checkpoint changes nothing.
    for name, digest in meta["files"].items():
        if not (path / name).is_file() or _sha256(path / name) != digest:
            raise ValueError(f"checkpoint file {path / name} is missing or corrupted")

    # `load_model` checks that every parameter and buffer is present with the right shape.
    load_model(model, str(path / "model.safetensors"), strict=True, device=str(map_location))
    if optimizer is not None:
        if "optimizer.pt" not in meta["files"]:
            raise ValueError(f"checkpoint {path} has no optimizer state")
        state = torch.load(path / "optimizer.pt", map_location=map_location, weights_only=True)
        optimizer.load_state_dict(state)
    if rng and "rng.pt" in meta["files"]:
        _set_rng_state(torch.load(path / "rng.pt", weights_only=True))
    return {
        "step": meta["step"],
        "data_state": meta["data_state"],
        "extra": meta["extra"],
        "path": path,
    }
