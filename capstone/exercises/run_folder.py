r"""# Exercises: The run folder: one directory that holds everything a run made

Whose folder is it (an `--out` that overlaps the data, seen through `..` and symbolic links), and
the corpus split's offsets file, checked against the chapter's own checks and reader."""

import os
import random
import tempfile
from pathlib import Path

import numpy as np

from masterclass.capstone.run_folder import (
    CapstoneError,
    CorpusSplit,
    check_new_run_folder,
    write_split,
)


def solution_1_overlaps(out: Path, data: list[Path]) -> bool:
    """Whether `out` lies inside one of the `data` paths or holds one (after `resolve()`)."""
    o = Path(out).resolve()
    for d in data:
        s = Path(d).resolve()
        if o == s or s in o.parents or o in s.parents:
            return True
    return False


def check_1_overlaps(fn) -> None:
    """Against `check_new_run_folder`, which refuses exactly those `--out` folders."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data" / "notes").mkdir(parents=True)
        (root / "runs").mkdir()
        (root / "link").symlink_to(root / "data")
        cases = [
            (root / "runs" / "a", [root / "data"]),
            (root / "data" / "run", [root / "data"]),
            (root / "data" / "notes" / "run", [root / "runs", root / "data" / "notes"]),
            (root / "data" / ".." / "data" / "run", [root / "data"]),
            (root / "link" / "run", [root / "data"]),
            (root / "runs" / "b", [root / "link"]),
            (root / "dataset", [root / "data"]),  # a common prefix is not containment
            (root / "runs" / "c", [root / "runs" / "c" / "corpus.jsonl"]),
            (root / "runs" / "d", []),
            (root / "data" / "notes", [root / "data" / "notes" / ".." / "notes"]),
        ]
        rng = random.Random(0)
        names = ["x", "y", "z"]
        for _ in range(10):
            a = root.joinpath(*rng.choices(names, k=rng.randint(1, 3)))
            b = root.joinpath(*rng.choices(names, k=rng.randint(1, 3)))
            cases.append((a, [b]))
        for out, data in cases:
            try:
                check_new_run_folder(out, [str(d) for d in data])
                want = False
            except CapstoneError as e:
                assert "data path" in str(e), f"unexpected refusal of {out}: {e}"
                want = True
            got = fn(out, list(data))
            rel = os.path.relpath(out, root)
            shown = [os.path.relpath(d, root) for d in data]
            assert bool(got) == want and isinstance(got, bool), (
                f"overlaps({rel!r}, {shown}) = {got!r}; the run folder check "
                f"{'refuses' if want else 'accepts'} it (paths are compared after resolve(): "
                "'..' and symbolic links followed, whole path components only)"
            )


def solution_2_split_offsets(documents: list[bytes]) -> np.ndarray:
    """The n + 1 byte offsets of n documents written back to back (int64)."""
    return np.concatenate([[0], np.cumsum([len(d) for d in documents], dtype=np.int64)])


def check_2_split_offsets(fn) -> None:
    """Against the file the chapter's `write_split` writes, read back through `CorpusSplit`."""
    rng = random.Random(1)
    cases = [[b"abc", b"", b"de"], [b"x"], []]
    cases += [
        [bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))) for _ in range(n)]
        for n in (3, 7, 12)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for i, documents in enumerate(cases):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            write_split(folder, "train", documents)
            want = np.load(folder / "train.idx.npy")
            got = np.asarray(fn(documents))
            assert got.shape == want.shape and np.array_equal(got, want), (
                f"split_offsets of documents of lengths {[len(d) for d in documents]} = "
                f"{got.tolist()}, the split file holds {want.tolist()}"
            )
            blob = b"".join(documents)
            back = [blob[got[k] : got[k + 1]] for k in range(len(got) - 1)]
            assert back == list(CorpusSplit(folder, "train")) == documents, (
                "slicing the concatenated bytes at the offsets must give the documents back"
            )
