r"""# Writing a file atomically

A program that overwrites a file in place, `open(path, "w")` and then `write`, passes through
states nobody wants to see: first an empty file, then a prefix of the new content, and only at
the end the new file. A reader that opens the file meanwhile (a dashboard reading `metrics.jsonl`,
a resumed run reading `run.json`) reads a torn file, and a crash in the middle leaves it torn for
good: the old content is already gone and the new one never arrived. Every tool of the later
modules that writes an artifact (token shards, checkpoints' `latest` pointer, a data tool's output,
the exported models, the capstone's run folder) therefore writes it through this one chapter:

1. write the new content into a **temporary file in the same folder**;
2. `fsync` it, so that its bytes are on the disk, not only in the page cache;
3. `os.replace(tmp, path)`: **rename** it over the target, one atomic step;
4. `fsync` the **folder**, so that the rename itself is on the disk.

## Why this is atomic: a crash at every point

Model the file system as two maps: the folder maps a *name* to a file (an inode), and each file
holds its bytes. Before the write, `path` names the complete old file $F_0$. Walk through the four
steps and ask, at each point, what a reader sees and what a crash (of the process, or of the whole
machine) leaves behind.

| point | the folder | what a reader of `path` sees | what a crash leaves |
|---|---|---|---|
| before step 1 | `path` → $F_0$ | $F_0$, complete | $F_0$ |
| during steps 1-2 | `path` → $F_0$, `tmp` → $F_1$ (partial) | $F_0$: `path` was not touched | $F_0$, and a stale `tmp` |
| after step 2 | as above, $F_1$ complete on disk | $F_0$ | $F_0$, and a stale `tmp` |
| step 3 | `path` → $F_1$ | $F_0$ before, $F_1$ after, nothing between | $F_0$ or $F_1$ |
| after step 4 | `path` → $F_1$, on disk | $F_1$ | $F_1$ |

The only step that changes what `path` names is step 3, and POSIX makes it indivisible: when the
new name exists, it "shall remain visible to other threads throughout the renaming operation and
refer either to the file referred to by new or old before the operation began" (Linux's manual
page says it is "atomically replaced, so that there is no point at which another process
attempting to access newpath will find it missing"). A reader therefore opens
either $F_0$ or $F_1$; one that opened $F_0$ before the rename keeps reading $F_0$ to the end (the
file lives while it is open, only its name moved). So at every row a reader sees a complete file,
which is the claim.

Why the two `fsync`s. The process-crash column holds with steps 1-3 alone: the kernel keeps the
page cache. A power cut is different: the kernel writes the cached data and the folder's new
entry to the disk in an order of its own choosing. Without step 2, it may write the rename first,
and after the reboot `path` names $F_1$ with no data in it, an empty file where a complete one
was (the ext4 "zero-length files" reports of 2009 were exactly this). With step 2 the data is on
the disk before the rename can be. Without step 4 the rename may be lost at the power cut: the
old file comes back, complete, which is still one of the two allowed outcomes, but a program that
said "saved" was wrong. So the order is data, `fsync`, rename, `fsync` of the folder.

## What can still go wrong

- **A crash before the rename leaves the temporary file.** Nothing is torn, but the folder keeps
  a `.<name>.<pid>.<random>.tmp` that nobody will rename. The name records the writer's process
  id, so the next write of the same target removes the temporary files whose writer is no longer
  alive (`remove_stale_temp_files`); a concurrent writer's file, whose process is alive, is left
  alone. This assumes the writers share one machine (process ids mean nothing across hosts).
- **Another file system.** A rename is atomic only inside one file system; across two,
  `os.replace` fails with `EXDEV`, and `shutil.move` would fall back to copy-then-delete, which is
  not atomic. That is why the temporary file lives in the target's own folder, never in `/tmp`.
- **Two writers of one file.** Each write is atomic, and the last rename wins: the other's
  content is lost as a whole. When both must land (appending to a log), a lock is needed, not
  this.
- **What the rename replaces is the name.** A symbolic link at `path` becomes a regular file; a
  hard link elsewhere keeps naming the old content. The old file's permission bits are kept (a new
  file gets `0o644`), its owner and extended attributes are not.
- **Folders.** There is no atomic swap of two non-empty folders in POSIX (`rename(2)` refuses to
  replace a non-empty folder). `atomic_directory` builds a folder under a temporary name and then
  moves the old one aside and the new one in: two renames, with a moment between them where
  `path` does not exist. A crash in that moment leaves the complete old folder under a temporary
  name, and the next `atomic_directory` of the same target puts it back.
- Left out: Windows, where `os.replace` fails while another process holds the target open, and
  network file systems, whose atomicity and `fsync` depend on the server.

References: the POSIX specification of
[`rename`](https://pubs.opengroup.org/onlinepubs/9699919799/functions/rename.html);
T. S. Pillai et al., [*All File Systems Are Not Created Equal: On the Complexity of Crafting
Crash-Consistent Applications*](https://www.usenix.org/conference/osdi14/technical-sessions/presentation/pillai)
(OSDI 2014), which found crash bugs of exactly this kind (a missing `fsync`, a rename before
the data) in widely used programs;
and the 2009 discussion of delayed allocation on ext4,
[*ext4 and data loss*](https://lwn.net/Articles/322823/) (LWN).

>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> _ = atomic_write_text(folder / "note.txt", "first")
>>> _ = atomic_write_json(folder / "note.txt", {"loss": float("nan"), "step": 3})
>>> print((folder / "note.txt").read_text(), end="")
{
  "loss": null,
  "step": 3
}
>>> sorted(p.name for p in folder.iterdir())  # no temporary file is left behind
['note.txt']

## Exercises

1. Write `reader_views(old, new, chunk)`: every content a reader can see when `new` (bytes)
   overwrites `old` in place, opened with `open(path, "wb")` and written `chunk` bytes at a time
   (each write flushed), in order: the old content, the empty file, then each longer prefix,
   ending with `new`. With `atomic_write`, the list would be `[old, new]`. Check it:
   `uv run pytest --exercise infra.atomic`.
2. Write `stale_temp_files(path)`: the sorted names of the temporary files in `path`'s folder that
   belong to `path` and whose writer process is no longer alive (the files a killed
   `atomic_write` left). Ignore other targets' temporary files and live writers'. Check it:
   `uv run pytest --exercise infra.atomic`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# The public calls: the ways to write a file (through a callback, or from bytes, text or JSON), a
# folder, the two fsyncs, and the clean-up of what killed writers left.
__all__ = [
    "atomic_directory",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fsync_directory",
    "fsync_file",
    "remove_stale_temp_files",
    "stale_temp_files",
    "temp_owner",
]

_SUFFIX = ".tmp"
# The old folder that `atomic_directory` moves aside ends with this, so that it can be put back.
_OLD_SUFFIX = ".old" + _SUFFIX


def _as_path(path: Any, name: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or a path, got {type(path).__name__} {path!r}")
    return Path(path)


# ## Durability: `fsync` of a file and of a folder
#
# `os.fsync` takes a file descriptor. A folder can be opened read-only on POSIX and its descriptor
# fsynced, which writes its entries (the names) to the disk. A few file systems refuse it with
# `EINVAL` (they have no separate folder metadata to flush); there is nothing to do then.
def fsync_file(path: str | os.PathLike) -> None:
    """Ask the operating system to put the bytes of the file at `path` on the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(folder: str | os.PathLike) -> None:
    """Put the entries of `folder` (a rename into it, a new file) on the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


# ## Temporary names that say who wrote them
#
# The temporary name of a write of `folder/name` is `.name.<pid>.<random>.tmp`: hidden (a leading
# dot), next to its target, unique (`tempfile` draws the random part and creates the file with
# `O_EXCL`, so two writers never share one), and it records the writer's process id. From the
# name alone we can tell which target a temporary file belongs to and whether its writer can still
# rename it.
def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


def temp_owner(temp_name: str, target: str | os.PathLike) -> int | None:
    """The process id in `temp_name` if it is a temporary name of a write of `target`, else None.

    >>> temp_owner(".model.onnx.4242.k3j_x9.tmp", "out/model.onnx")
    4242
    >>> temp_owner(".other.onnx.4242.k3j_x9.tmp", "out/model.onnx") is None
    True
    """
    # The random part never holds a dot, so the rest is exactly `pid.random.tmp` or
    # `pid.random.old.tmp`; anything else (say a temporary file of `model.onnx.1`) is not ours.
    head = f".{_as_path(target, 'target').name}."
    if not temp_name.startswith(head):
        return None
    parts = temp_name[len(head) :].split(".")
    if parts[-1:] != ["tmp"] or len(parts) not in (3, 4) or (len(parts) == 4 and parts[2] != "old"):
        return None
    if not parts[0].isdigit() or not parts[1]:
        return None
    return int(parts[0])


def _alive(pid: int) -> bool:
    # Signal 0 delivers nothing; it only asks whether the process exists. `PermissionError`
    # means it exists but belongs to another user.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# A temporary entry is stale when its name says it belongs to `path` and the process id in it is no
# longer running: a live writer's files are left alone.
def stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """The temporary files (or folders) of writes of `path` whose writer is dead, sorted by name."""
    target = _as_path(path)
    folder = target.parent
    if not folder.is_dir():
        return []
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            pid = temp_owner(entry.name, target)
            if pid is not None and not _alive(pid):
                found.append(folder / entry.name)
    return sorted(found)


# Cleaning up is done by the next writer of the same target, before it writes. A leftover folder
# whose name ends in `.old.tmp` is the complete old copy that `atomic_directory` had moved aside
# when its writer died; if nothing took its place, it goes back instead of being deleted.
def remove_stale_temp_files(path: str | os.PathLike) -> int:
    """Remove what killed writers of `path` left (see `stale_temp_files`); return how many."""
    target = _as_path(path)
    removed = 0
    for stale in stale_temp_files(target):
        if stale.name.endswith(_OLD_SUFFIX) and not os.path.lexists(target):
            os.replace(stale, target)
        elif stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        removed += 1
    return removed


# ## The write
#
# `write(tmp)` fills the temporary file: a caller with bytes passes `tmp.write_bytes`, a library
# that saves to a path (`torch.save`, safetensors, onnxruntime's quantizer) is handed the path.
# Then come the four steps of the introduction. `tempfile.mkstemp` creates the file readable by
# its owner only; it gets the old file's permission bits, or `0o644` for a new file. On any
# exception, `KeyboardInterrupt` included, the temporary file is removed and `path` is untouched.
def atomic_write(
    path: str | os.PathLike, write: Callable[[Path], None], *, durable: bool = True
) -> Path:
    """Create or replace `path` with what `write(tmp_path)` writes into `tmp_path`, atomically.

    Args:
        path: the target file; its folder must exist.
        write: called once with the path of an empty temporary file in the same folder; it must
            leave the complete new content at that path.
        durable: `fsync` the file before the rename and the folder after it, so the result
            survives a power cut (on by default; off only for scratch files).

    Returns the target path. A reader of `path` sees the old file or the new one, never a part.
    """
    # Refuse what cannot be replaced atomically: a target whose folder is missing, or a folder
    # (which `atomic_directory` handles).
    target = _as_path(path)
    if not callable(write):
        raise TypeError(f"write must be a callable taking the temporary path, got {write!r}")
    if not target.parent.is_dir():
        raise ValueError(f"path {str(target)!r}: its folder does not exist; create it first")
    if target.is_dir():
        raise ValueError(f"path {str(target)!r} is a folder; use atomic_directory for folders")
    # The temporary file lives in the target's own folder, so the final rename stays on one file
    # system (a rename across file systems is a copy, and not atomic). Its name carries this
    # process's id, which lets a later writer recognise it as stale if this one dies.
    remove_stale_temp_files(target)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(target), suffix=_SUFFIX)
    os.close(fd)
    tmp = Path(name)
    try:
        # Fill, check, flush to disk, copy the permission bits, then publish with one `os.replace`:
        # readers see the old content until that instant and the new content after it.
        write(tmp)
        if not tmp.is_file():
            raise ValueError(f"write({str(tmp)!r}) did not leave a file at the path it was given")
        if durable:
            fsync_file(tmp)
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        # A failed or interrupted write leaves no temporary file behind, and the target as it was.
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    # The rename itself is an entry in the folder: fsyncing the folder makes it survive a power cut.
    if durable:
        fsync_directory(target.parent)
    return target


# The common cases in one line each: bytes, or text as UTF-8, handed to `atomic_write`.
def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> Path:
    """Write `data` to `path` atomically; return `path`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}; encode text first")
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), durable=durable)


def atomic_write_text(path: str | os.PathLike, text: str, *, durable: bool = True) -> Path:
    """Write `text` to `path` as UTF-8, atomically; return `path`."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


# JSON has no NaN or infinity: Python writes them as the tokens `NaN` and `Infinity`, which other
# readers (JavaScript, `jq`, Rust's serde) refuse. A number that is not finite is written as
# `null`, "no value", and `allow_nan=False` guarantees that nothing else slips through.
def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any, *, durable: bool = True) -> Path:
    """Write `obj` as indented, strict JSON (non-finite numbers as `null`), atomically."""
    text = json.dumps(_finite(obj), indent=2, allow_nan=False) + "\n"
    return atomic_write_text(path, text, durable=durable)


# ## Folders
#
# A folder (a Hugging Face model folder, a finished stage) is built under a temporary name in the
# same parent, every file in it fsynced, and then renamed in. If an old folder is there, it is
# first renamed aside (to a name ending `.old.tmp`) and deleted after the new one is in place:
# the one window where `path` is missing is between those two renames, and
# `remove_stale_temp_files` repairs a crash inside it.
@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, durable: bool = True) -> Iterator[Path]:
    """Yield an empty temporary folder; when the block ends without error it becomes `path`.

    On an exception the temporary folder is removed and an existing `path` is untouched.
    """
    # The same checks and clean-up as for a file, then a temporary folder beside the target for the
    # caller to fill.
    target = _as_path(path)
    if not target.parent.is_dir():
        raise ValueError(f"path {str(target)!r}: its folder does not exist; create it first")
    if target.exists() and not target.is_dir():
        raise ValueError(f"path {str(target)!r} is a file; use atomic_write for files")
    remove_stale_temp_files(target)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=_temp_prefix(target), suffix=_SUFFIX))
    try:
        # The caller's block runs at the `yield`. Only if it finishes are its files and folders
        # fsynced; an exception in it (or in the fsyncs) deletes the half-built folder and
        # re-raises.
        yield tmp
        if durable:
            for root, _dirs, files in os.walk(tmp):
                for name in files:
                    fsync_file(Path(root) / name)
                fsync_directory(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # Publish: the old folder, if any, is renamed aside first (a folder cannot be replaced by rename
    # while it exists), then the new one renamed in; a failure there puts the old one back.
    old = None
    if target.exists():
        old = target.with_name(f"{_temp_prefix(target)}{os.urandom(4).hex()}{_OLD_SUFFIX}")
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            os.replace(old, target)
        raise
    # Only once the new folder's name is durable is the old copy deleted.
    if durable:
        fsync_directory(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
