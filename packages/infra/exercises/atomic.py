r"""# Exercises: Writing a file atomically

What a reader sees during an in-place write, and finding what a killed atomic writer left."""

import os
import tempfile
from pathlib import Path

from masterclass.infra.atomic import stale_temp_files


def solution_1_reader_views(old: bytes, new: bytes, chunk: int) -> list[bytes]:
    views = [old, b""]
    for end in range(chunk, len(new) + chunk, chunk):
        views.append(new[: min(end, len(new))])
    if views[-1] != new:
        views.append(new)
    return views


def check_1_reader_views(fn) -> None:
    # The reference is the file system: overwrite a real file in place and read it, as a second
    # reader would, before the write starts, after the truncating open, and after every flush.
    for old, new, chunk in [(b"old!", b"abcdefg", 3), (b"x", b"abcdef", 2), (b"", b"hi", 5)]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "f"
            path.write_bytes(old)
            seen = [path.read_bytes()]
            with open(path, "wb") as f:
                seen.append(path.read_bytes())
                for start in range(0, len(new), chunk):
                    f.write(new[start : start + chunk])
                    f.flush()
                    seen.append(path.read_bytes())
        got = fn(old, new, chunk)
        assert got == seen, (
            f"reader_views({old!r}, {new!r}, {chunk}) = {got!r}, a reader saw {seen!r}"
        )


def solution_2_stale_temp_files(path: str) -> list[str]:
    target = Path(path)
    found = []
    for name in os.listdir(target.parent):
        head = f".{target.name}."
        if not name.startswith(head):
            continue
        parts = name[len(head) :].split(".")
        if parts[-1:] != ["tmp"] or len(parts) not in (3, 4) or not parts[0].isdigit():
            continue
        if len(parts) == 4 and parts[2] != "old":
            continue
        try:
            os.kill(int(parts[0]), 0)
        except ProcessLookupError:
            found.append(name)
        except PermissionError:
            pass
    return sorted(found)


def check_2_stale_temp_files(fn) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        names = [
            ".data.bin.999999998.ab_c1.tmp",  # dead writer: stale
            ".data.bin.999999999.zz9.old.tmp",  # dead folder writer's old copy: stale
            f".data.bin.{os.getpid()}.live1.tmp",  # this process is alive: not stale
            ".data.bin.1.999999999.abc.tmp",  # a temporary file of `data.bin.1`
            ".data.bins.999999999.abc.tmp",  # another target
            "data.bin",
        ]
        for name in names:
            (root / name).write_bytes(b"x")
        want = [p.name for p in stale_temp_files(root / "data.bin")]
        got = fn(str(root / "data.bin"))
        assert list(got) == want, f"stale_temp_files found {got!r}, expected {want!r}"
