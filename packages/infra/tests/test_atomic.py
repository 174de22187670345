"""Atomic writes: content, cleanup on failure, the old file intact, a writer killed mid-write.

The reference for "atomic" is the file system itself: each test looks at the real folder (what
names exist, what bytes they hold) after the write, the failure or the kill, never at our code's
own bookkeeping.
"""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from masterclass.infra import atomic
from masterclass.infra.atomic import (
    atomic_directory,
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    remove_stale_temp_files,
    stale_temp_files,
    temp_owner,
)

CHAPTER = Path(atomic.__file__)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_content_of_each_writer(tmp_path):
    assert atomic_write_bytes(tmp_path / "a.bin", b"\x00\xffabc") == tmp_path / "a.bin"
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\xffabc"
    atomic_write_text(tmp_path / "a.txt", "héllo\n")
    assert (tmp_path / "a.txt").read_bytes() == "héllo\n".encode()
    # json's own parser is the reference; NaN and infinities become null (strict JSON).
    obj = {"x": [1, 2.5, float("nan")], "y": {"z": float("-inf")}, "s": "ü"}
    atomic_write_json(tmp_path / "a.json", obj)
    assert json.loads((tmp_path / "a.json").read_text()) == {
        "x": [1, 2.5, None],
        "y": {"z": None},
        "s": "ü",
    }
    atomic_write(tmp_path / "b.bin", lambda p: p.write_bytes(b"via a path"))
    assert (tmp_path / "b.bin").read_bytes() == b"via a path"
    # Replacing keeps only the new content, and no temporary file is left.
    atomic_write_bytes(tmp_path / "a.bin", b"new")
    assert (tmp_path / "a.bin").read_bytes() == b"new"
    assert _names(tmp_path) == ["a.bin", "a.json", "a.txt", "b.bin"]


def test_new_file_mode_and_kept_mode(tmp_path):
    atomic_write_bytes(tmp_path / "new", b"1")
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o644
    (tmp_path / "script").write_bytes(b"old")
    os.chmod(tmp_path / "script", 0o750)
    atomic_write_bytes(tmp_path / "script", b"new")
    assert stat.S_IMODE(os.stat(tmp_path / "script").st_mode) == 0o750


def test_failure_removes_the_temp_file_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old, complete")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half of the ne")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old, complete"
    assert _names(tmp_path) == ["state.json"]

    # KeyboardInterrupt (Ctrl-C) is not an Exception, and must clean up as well.
    def interrupted(tmp: Path) -> None:
        tmp.write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert target.read_text() == "old, complete"
    assert _names(tmp_path) == ["state.json"]
    # A failure with no old file leaves no file at all.
    with pytest.raises(OSError):
        atomic_write(tmp_path / "fresh", half_then_fail)
    assert _names(tmp_path) == ["state.json"]


def test_order_is_data_fsync_rename_folder_fsync(tmp_path, monkeypatch):
    # Record the system calls in order: the folder fsync must come after the rename, the file
    # fsync before it (the introduction's table explains why each order matters).
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        events.append(f"fsync {kind}")
        real_fsync(fd)

    def replace(src, dst):
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write_bytes(tmp_path / "x", b"data")
    assert events == ["fsync file", "rename", "fsync folder"]
    events.clear()
    atomic_write_bytes(tmp_path / "y", b"scratch", durable=False)
    assert events == ["rename"]


# The kill: a child process starts an atomic write, writes half the new content, and is killed
# with SIGKILL (no handler, no `finally`, no cleanup) before the rename. The child loads the
# chapter file alone, so it starts in a tenth of a second instead of importing torch.
_CHILD = textwrap.dedent(
    """
    import importlib.util, os, signal, sys
    spec = importlib.util.spec_from_file_location("atomic_child", sys.argv[1])
    atomic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(atomic)

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(b"NEW" * 1000)
            f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    atomic.atomic_write(sys.argv[2], write)
    """
)


def test_writer_killed_before_the_rename_leaves_the_old_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_bytes(b"OLD COMPLETE")
    child = subprocess.run([sys.executable, "-c", _CHILD, str(CHAPTER), str(target)], timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"OLD COMPLETE"
    # The killed writer's temporary file is there, holding the half-written content ...
    leftovers = [p for p in tmp_path.iterdir() if p.name != target.name]
    assert len(leftovers) == 1 and leftovers[0].read_bytes() == b"NEW" * 1000
    assert stale_temp_files(target) == leftovers
    # ... and the next write of the same target removes it.
    atomic_write_bytes(target, b"NEXT")
    assert _names(tmp_path) == ["metrics.json"]
    assert target.read_bytes() == b"NEXT"


def test_live_writers_and_other_targets_are_left_alone(tmp_path):
    target = tmp_path / "model.onnx"
    mine = tmp_path / f".model.onnx.{os.getpid()}.abc.tmp"  # a live writer: this process
    not_ours = [
        # A dead writer's temporary file of `model.onnx.999999998`, which is not our target.
        tmp_path / ".model.onnx.999999998.999999999.abc.tmp",
        tmp_path / ".model.onnxx.999999999.abc.tmp",
        tmp_path / "model.onnx.999999999.abc.tmp",
    ]
    dead = tmp_path / ".model.onnx.999999999.q_z1.tmp"  # no process has this id
    for p in [mine, *not_ours, dead]:
        p.write_bytes(b"x")
    assert stale_temp_files(target) == [dead]
    assert remove_stale_temp_files(target) == 1
    assert not dead.exists() and mine.exists() and all(p.exists() for p in not_ours)


def test_temp_owner_parses_only_our_names():
    assert temp_owner(".a.b.12.xyz.tmp", "dir/a.b") == 12
    assert temp_owner(".a.b.12.xyz.old.tmp", "a.b") == 12
    assert temp_owner(".a.b.12.xyz.tmp", "a") is None
    assert temp_owner(".a.12.xyz", "a") is None
    assert temp_owner(".a.x.xyz.tmp", "a") is None
    assert temp_owner(".a.12..tmp", "a") is None  # mkstemp's random part is never empty


def test_directory_replace_and_failure(tmp_path):
    target = tmp_path / "hf"
    with atomic_directory(target) as tmp:
        (tmp / "config.json").write_text("{}")
    assert _names(target) == ["config.json"]
    with atomic_directory(target) as tmp:
        (tmp / "model.safetensors").write_bytes(b"w")
    assert _names(target) == ["model.safetensors"]
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "half").write_bytes(b"h")
        raise RuntimeError("export failed")
    assert _names(target) == ["model.safetensors"]
    assert _names(tmp_path) == ["hf"]


def test_directory_crash_between_the_renames_is_repaired(tmp_path):
    # The old folder moved aside by a writer that died before moving the new one in.
    target = tmp_path / "hf"
    aside = tmp_path / ".hf.999999999.beef.old.tmp"
    aside.mkdir()
    (aside / "config.json").write_text("old")
    assert remove_stale_temp_files(target) == 1
    assert (target / "config.json").read_text() == "old"
    assert _names(tmp_path) == ["hf"]


def test_bad_input_is_named(tmp_path):
    with pytest.raises(TypeError, match="path must be a str or a path"):
        atomic_write_bytes(3, b"x")
    with pytest.raises(TypeError, match="data must be bytes"):
        atomic_write_bytes(tmp_path / "x", "text")
    with pytest.raises(TypeError, match="text must be a str"):
        atomic_write_text(tmp_path / "x", b"bytes")
    with pytest.raises(TypeError, match="write must be a callable"):
        atomic_write(tmp_path / "x", b"bytes")
    with pytest.raises(ValueError, match="its folder does not exist"):
        atomic_write_bytes(tmp_path / "missing" / "x", b"x")
    with pytest.raises(ValueError, match="is a folder; use atomic_directory"):
        atomic_write_bytes(tmp_path, b"x")
    with pytest.raises(ValueError, match="did not leave a file"):
        atomic_write(tmp_path / "x", lambda tmp: tmp.unlink())
    assert _names(tmp_path) == []


def test_cleanup_never_publishes_a_dead_writers_file(tmp_path):
    # A half-written temporary file must be deleted, never renamed into place, even when the
    # target does not exist; only a folder's complete old copy (`.old.tmp`) is put back, and only
    # when nothing took its place.
    target = tmp_path / "shard.bin"
    half = tmp_path / ".shard.bin.999999999.abc.tmp"
    half.write_bytes(b"half")
    assert remove_stale_temp_files(target) == 1
    assert _names(tmp_path) == []
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text("new")
    aside = tmp_path / ".hf.999999999.beef.old.tmp"
    aside.mkdir()
    (aside / "config.json").write_text("old")
    assert remove_stale_temp_files(folder) == 1
    assert _names(tmp_path) == ["hf"] and (folder / "config.json").read_text() == "new"
