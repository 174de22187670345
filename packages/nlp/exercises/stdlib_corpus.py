r"""# Exercises: The standard library as a corpus

The two definitions the corpus rests on: which part of each file falls in a window of the
concatenation, and the walk order that fixes the concatenation in the first place."""

import random
import tempfile
from pathlib import Path

from masterclass.nlp.stdlib_corpus import stdlib_corpus, stdlib_files, walk_files


def solution_1_window_parts(
    sizes: list[int], skip_bytes: int, n_bytes: int
) -> list[tuple[int, int, int]]:
    r"""`(i, start, stop)` for every file $i$ with bytes in $[s, s + n)$ of the concatenation:
    $F_i[\max(0, s - c_i) : \min(|F_i|, s + n - c_i)]$, $c_i$ the file's offset."""
    parts, offset, end = [], 0, skip_bytes + n_bytes
    for i, size in enumerate(sizes):
        start, stop = max(0, skip_bytes - offset), min(size, end - offset)
        if start < stop:
            parts.append((i, start, stop))
        offset += size
    return parts


def check_1_window_parts(fn) -> None:
    """Where every byte of the concatenation is distinct (its own position), the parts, read
    and joined, must be exactly the slice `C[s : s + n]`, each part non-empty, in file order;
    then the same on the real library against `stdlib_corpus`."""
    rng = random.Random(0)
    cases = [([5, 0, 3, 7], 0, 15), ([5, 0, 3, 7], 5, 3), ([5, 0, 3, 7], 4, 2), ([4], 1, 0)]
    for _ in range(30):
        sizes = [rng.choice([0, 1, rng.randint(1, 50)]) for _ in range(rng.randint(1, 8))]
        total = sum(sizes)
        s = rng.randint(0, total)
        cases.append((sizes, s, rng.randint(0, total - s)))
    for sizes, s, n in cases:
        concatenation = list(range(sum(sizes)))
        files, offset = [], 0
        for size in sizes:
            files.append(concatenation[offset : offset + size])
            offset += size
        parts = [tuple(part) for part in fn(list(sizes), s, n)]
        assert all(stop > start for _, start, stop in parts), (
            f"sizes {sizes}, window [{s}, {s + n}): {parts} has an empty part; leave such files out"
        )
        assert [i for i, _, _ in parts] == sorted({i for i, _, _ in parts}), (
            f"sizes {sizes}: parts {parts} must name each file once, in order"
        )
        joined = [b for i, start, stop in parts for b in files[i][start:stop]]
        want = concatenation[s : s + n]
        assert joined == want, (
            f"sizes {sizes}, window [{s}, {s + n}): your parts {parts} read positions "
            f"{joined[:10]}..., the window is {want[:10]}... (file i starts at c_i, the sum of "
            "the sizes before it)"
        )
    # The library itself: a window that straddles several files, read part by part.
    paths = stdlib_files()[:40]
    sizes = [p.stat().st_size for p in paths]
    s, n = sizes[0] + sizes[1] // 2, sizes[2] + sizes[3] + 100
    joined = b"".join(paths[i].read_bytes()[start:stop] for i, start, stop in fn(sizes, s, n))
    assert joined == stdlib_corpus(n, skip_bytes=s), (
        "on the standard library's files, the parts do not read back stdlib_corpus(n, skip_bytes=s)"
    )


def solution_2_walk_order(tree: dict) -> list[str]:
    """The files of a nested `{name: None (a file) or {...} (a folder)}` in walk order, as
    relative POSIX paths: a folder's files sorted by name, then each sub-folder, sorted by name,
    entirely; `__pycache__`, `site-packages` and `.git` skipped."""
    files = sorted(name for name, child in tree.items() if child is None)
    folders = sorted(
        name
        for name, child in tree.items()
        if child is not None and name not in {"__pycache__", "site-packages", ".git"}
    )
    out = list(files)
    for folder in folders:
        out += [f"{folder}/{path}" for path in solution_2_walk_order(tree[folder])]
    return out


def _build(root: Path, tree: dict) -> None:
    for name, child in tree.items():
        if child is None:
            (root / name).write_text("")
        else:
            (root / name).mkdir()
            _build(root / name, child)


def check_2_walk_order(fn) -> None:
    """Build each tree in a temporary folder and compare with the chapter's `walk_files`. The
    trees hold the cases that separate walk order from sorted paths and from a locale's
    collation: `a/` beside `ab.py`, capitals before lower case, `_` and digits."""
    trees = [
        {"b.py": None, "a.py": None},
        {"ab.py": None, "a": {"z.py": None}, "a.py": None},
        {"Zeta.py": None, "alpha.py": None, "_private.py": None, "9.py": None},
        {
            "pkg": {"__init__.py": None, "sub": {"x.py": None}, "mod.py": None},
            "pkg_extra.py": None,
            "__pycache__": {"pkg.cpython-311.pyc": None},
            "site-packages": {"numpy.py": None},
            ".git": {"HEAD": None},
            "empty": {},
            "README": None,
        },
    ]
    for tree in trees:
        with tempfile.TemporaryDirectory() as folder:
            _build(Path(folder), tree)
            want = [p.relative_to(folder).as_posix() for p in walk_files(folder)]
        got = list(fn(tree))
        assert got == want, (
            f"for {tree}: got {got}, walk order is {want} (a folder's files first, each sorted "
            "by code point; then its sub-folders, each one entirely before the next)"
        )
