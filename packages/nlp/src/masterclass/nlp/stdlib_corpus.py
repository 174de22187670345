r"""# The standard library as a corpus

Every machine that runs this course has a corpus on it already: the source of Python's standard
library. It is real text written by many people over thirty years (code, comments, docstrings,
some prose and data), a few megabytes at the top level of the library folder and about thirty
with its sub-packages, under one permissive licence, and it needs no download, which matters
here because the tests and benchmarks run offline. The tokenizers of this module train on it,
the n-gram baselines are measured on it, Module 6's masked-language-model run and Module 7's
tiny runs pretrain on it, and it is the capstone's default corpus.

What a corpus needs beyond text is a **definition**: the same call must return the same bytes on
every run, so that a benchmark, a figure and a test can refer to "the first 200,000 bytes" and
mean one thing. This chapter is that definition, and the one reader every later module uses.

## The file order

The files are visited depth-first in **walk order**: inside a folder, first its files, sorted
by name, then its sub-folders, sorted by name, each one entirely before the next. "Sorted" is
Python's `sorted` on `str`, code-point order, never the locale's collation, which differs
between machines (a shell's `sort` ignores `_` and case under `en_US`, not under `C`).
Folders named `__pycache__`, `site-packages` (the installed third-party packages, which differ
between environments) and `.git` are skipped, and links to folders are not followed (a link
cycle would never end). For the top level only (`recursive=False`) the order is simply the sorted
names of the folder's `.py` files.

A different order is a different corpus with the same files: the capstone's split into train and
held-out documents, and "every tenth file is held out" in the tokenizer benchmark, both depend on
it. `sorted(stdlib_files(recursive=True))` gives the order of full paths, which is what
`sorted(root.rglob("*.py"))` returns; it differs from walk order where a folder `a/` and a file
`ab.py` meet (`/` sorts before `b`).

## The byte budget

`stdlib_corpus(n, skip_bytes=s)` is a window of the *concatenation* $C = F_0 F_1 F_2 \cdots$ of
the files' raw bytes in that order (no separator, no decoding: a byte-level model sees exactly
the files): it returns $C[s : s + n]$, and refuses, rather than returns less, when
$|C| < s + n$. Reading all thirty megabytes to return the first thousand bytes would be wasteful,
so the files are read one by one and the reading stops as soon as the window is full. Which part
of file $i$ falls in the window follows from its offset: with $c_i = \sum_{j < i} |F_j|$, file
$i$ occupies $[c_i, c_i + |F_i|)$ of $C$, and its part of the window is the intersection

$$ [c_i, c_i + |F_i|) \cap [s, s + n) = [\max(c_i, s), \min(c_i + |F_i|, s + n)), $$

which is $F_i[\max(0, s - c_i) : \min(|F_i|, s + n - c_i)]$ in the file's own coordinates;
it is empty when $c_i + |F_i| \le s$ (the file lies before the window, skipped without being
kept) or $c_i \ge s + n$ (after it: the loop has stopped). Two consequences the callers rely on:

- a **prefix property**, `stdlib_corpus(n, skip_bytes=s) == stdlib_corpus(s + n)[s:]`, because
  both are the same slice of the same $C$;
- **disjoint splits**: `stdlib_corpus(a)` and `stdlib_corpus(b, skip_bytes=s)` share no byte
  position when $s \ge a$, so a training window and a validation window taken this way never
  overlap (Module 7's tiny runs take validation from `skip_bytes=2_000_000`).

`every=k` keeps every $k$-th file of the order (files $0, k, 2k, \ldots$), a thinner sample of
the same library, spread over more of its modules for the same number of bytes.

The corpus depends on the Python version: 3.12's library is not 3.11's. Results are therefore
reproducible per version, and a report should state `sys.version` beside them.

>>> first = stdlib_corpus(1000)
>>> len(first), first == stdlib_corpus(1000)
(1000, True)
>>> stdlib_corpus(300, skip_bytes=700) == first[700:]
True
>>> stdlib_files()[0].suffix
'.py'

Left out: deduplication, filtering and document boundaries (the capstone's corpus stage adds
them on top of `walk_files`), and non-source data files of the library.

## Exercises

1. Write `window_parts(sizes, skip_bytes, n_bytes)`: given the sizes $|F_i|$ of the files in
   order, the list of `(i, start, stop)` that the window $[s, s + n)$ takes from each file, in
   the file's own coordinates, leaving out the files it does not touch (the intersection
   derived above). Check it: `uv run pytest --exercise nlp.stdlib_corpus`
2. Write `walk_order(tree)` for a folder given as nested dicts (`{"a.py": None, "pkg": {...}}`,
   `None` for a file): the relative paths of its files in walk order, the skipped folders left
   out. The checker builds each tree on disk and compares with `walk_files`, on the cases where
   walk order, sorted full paths and a locale's collation disagree. Check it:
   `uv run pytest --exercise nlp.stdlib_corpus`
"""

from __future__ import annotations

import os
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["SKIPPED_FOLDERS", "stdlib_corpus", "stdlib_files", "stdlib_root", "walk_files"]

# Folders never entered: byte-code caches, installed third-party packages, version control.
SKIPPED_FOLDERS = frozenset({"__pycache__", "site-packages", ".git"})


def stdlib_root() -> Path:
    """The folder of the running interpreter's standard library (`sysconfig`'s `stdlib` path)."""
    return Path(sysconfig.get_paths()["stdlib"])


# ## Walking a folder
#
# `os.walk` visits a folder before its sub-folders (top-down), and lets us decide which
# sub-folders it enters, and in which order, by editing `dirs` in place: sorting it fixes the
# order, removing names skips them. It reports a folder it cannot list through `onerror` and
# otherwise skips it silently; a caller that must know (the capstone counts unreadable folders)
# passes a callback.
def walk_files(
    folder: str | os.PathLike,
    *,
    skip: frozenset[str] = SKIPPED_FOLDERS,
    onerror: Callable[[OSError], None] | None = None,
) -> Iterator[Path]:
    """Yield every file under `folder` in walk order: a folder's files by name, then sub-folders.

    Args:
        folder: where to start.
        skip: names of sub-folders not to enter.
        onerror: called with the `OSError` of a folder that cannot be listed (default: skip it).
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a str or a path, got {type(folder).__name__}")
    for root, dirs, files in os.walk(folder, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        for name in sorted(files):
            yield Path(root) / name


# The corpus files: the top-level `.py` modules, or every `.py` file of the tree in walk order.
def stdlib_files(*, recursive: bool = False) -> list[Path]:
    """The standard library's `.py` files in walk order (top level only unless `recursive`)."""
    root = stdlib_root()
    if not recursive:
        return sorted(p for p in root.iterdir() if p.suffix == ".py" and p.is_file())
    return [p for p in walk_files(root) if p.suffix == ".py" and p.is_file()]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ## The window
#
# The loop keeps `seen` $= c_i$, the offset of the current file in the concatenation, and cuts
# each file to its intersection with $[s, s + n)$ as derived above. `n_bytes=None` means "to the
# end", for a caller that wants all of a thinned sample.
def stdlib_corpus(
    n_bytes: int | None,
    skip_bytes: int = 0,
    *,
    recursive: bool = False,
    every: int = 1,
) -> bytes:
    """`n_bytes` of standard-library source after the first `skip_bytes`, in walk order.

    Args:
        n_bytes: how many bytes to return; `None` for everything after `skip_bytes`.
        skip_bytes: how many bytes of the concatenation to skip first.
        recursive: include the sub-packages (about 30 MB instead of about 5).
        every: keep every `every`-th file of the order (1: all of them).

    Raises `ValueError` if the library holds fewer than `skip_bytes + n_bytes` bytes.
    """
    if n_bytes is not None and (not _is_int(n_bytes) or n_bytes < 0):
        raise ValueError(f"n_bytes must be an int >= 0 or None (all), got {n_bytes!r}")
    if not _is_int(skip_bytes) or skip_bytes < 0:
        raise ValueError(f"skip_bytes must be an int >= 0, got {skip_bytes!r}")
    if not _is_int(every) or every < 1:
        raise ValueError(f"every must be an int >= 1 (1 keeps every file), got {every!r}")
    # Walk the files with `seen` bytes behind us, keep the part of each file that falls inside
    # the window, and stop as soon as the window's end is behind us too.
    end = None if n_bytes is None else skip_bytes + n_bytes
    out, seen = bytearray(), 0
    for path in stdlib_files(recursive=recursive)[::every]:
        if end is not None and seen >= end:
            break
        data = path.read_bytes()
        if seen + len(data) > skip_bytes:
            stop = len(data) if end is None else min(len(data), end - seen)
            out += data[max(0, skip_bytes - seen) : stop]
        seen += len(data)
    # A library too small for the window is an error, never a silently short corpus.
    if end is not None and seen < end:
        raise ValueError(
            f"the standard library under {stdlib_root()} has {seen} bytes of source in this "
            f"selection (recursive={recursive}, every={every}), fewer than skip_bytes + n_bytes "
            f"= {end}; ask for fewer bytes, or pass recursive=True"
        )
    return bytes(out)
