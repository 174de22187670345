r"""# Data tools on the command line

Every data tool of this module (`python -m masterclass.infra.dedup`, `... .filtering`,
`... .quality`, `... .augmentation`) reads a corpus, transforms it document by document and writes
the result. They share three habits, written once here:

- **One input format**: JSON Lines, one object per line with a `"text"` field (other fields are
  carried through untouched), or a plain `.txt` file, one document per line.
- **A progress bar** on standard error, so a long run shows that it is alive and how far it is,
  while standard output stays clean for the summary.
- **Bad input gets one clear line**: a missing file, a line that is not JSON, an object without a
  text: the tool prints `error: <what> (<where>)` and exits with status 2, never a traceback; and
  the output is written to a temporary name and renamed into place, so a failed run leaves no
  half-written file.

**A worked run.** A tool reads a corpus, transforms each document and writes the result; fields
other than `"text"` travel through. Then a corpus with a typo in line 2: the tool stops with one
line naming the file and the line, status 2, and the previous output is still whole, because the
new one never replaced it:

>>> import contextlib, io, tempfile
>>> from pathlib import Path
>>> tmp = tempfile.TemporaryDirectory()
>>> src, out = Path(tmp.name) / "in.jsonl", Path(tmp.name) / "out.jsonl"
>>> _ = src.write_text('{"text": "Hello", "id": 1}\n\n{"text": "World", "id": 2}\n')
>>> docs = read_documents(src)  # the blank line is skipped
>>> docs
[{'text': 'Hello', 'id': 1}, {'text': 'World', 'id': 2}]
>>> write_documents(out, ({**d, "text": d["text"].upper()} for d in docs))
2
>>> print(out.read_text(), end="")
{"text": "HELLO", "id": 1}
{"text": "WORLD", "id": 2}
>>> def main(argv):
...     write_documents(out, ({**d, "text": d["text"].lower()} for d in read_documents(src)))
>>> _ = src.write_text('{"text": "ok"}\n{"txt": "typo"}\n')
>>> err = io.StringIO()
>>> with contextlib.redirect_stderr(err):
...     status = run_tool(main, [])
>>> status
2
>>> print(err.getvalue(), end="")
error: ...in.jsonl:2: expected an object with a "text" string
>>> print(out.read_text(), end="")  # untouched by the failed run
{"text": "HELLO", "id": 1}
{"text": "WORLD", "id": 2}

The progress bar goes to its own stream; once done it shows every item:

>>> bar = io.StringIO()
>>> sum(progress([1, 2, 3], "dedup", stream=bar, width=10))
6
>>> print(bar.getvalue().splitlines()[-1])
dedup [##########] 3/3 ... it/s
>>> tmp.cleanup()

Left out: compressed inputs (`.jsonl.gz`, `.zst`) and parallel workers; both are a few lines with
`gzip.open` and `multiprocessing.Pool` once the single-process tool is right.

## Exercises

1. Write `first_bad_line(lines)`: given the lines of a `.jsonl` file, the number (from 1, blank
   lines counted but skipped) of the first line `read_documents` rejects: not JSON, not an object,
   or without a `"text"` string; `None` when every line is good. Check it:
   `uv run pytest --exercise infra.data_cli`.
2. Write `write_atomically(path, docs)`: write the documents (an iterable of dicts, perhaps a
   generator that fails half-way) as JSON Lines, exactly as `write_documents` formats them, so
   that a reader never sees a half-written `path` and a failed run leaves the old file and no
   temporary file behind; return how many documents were written. Check it:
   `uv run pytest --exercise infra.data_cli`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from masterclass.infra.atomic import atomic_write

__all__ = ["DataError", "progress", "read_documents", "run_tool", "write_documents"]


class DataError(ValueError):
    """Bad input to a data tool: reported as one line and exit status 2."""


# ## Reading a corpus
#
# A document is a dict with at least `"text"`. Every malformed line raises `DataError` naming the
# file and the line number, which is what a user needs to fix it.
def read_documents(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a `.jsonl` file (objects with a `"text"` string) or a `.txt` file (one per line)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"input file {str(p)!r} does not exist or is not a file")
    docs: list[dict[str, Any]] = []
    with p.open(encoding="utf-8", errors="strict") as f:
        try:
            lines = f.read().splitlines()
        except UnicodeDecodeError as e:
            raise DataError(f"{p} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    # A `.txt` file is one document per non-empty line; a `.jsonl` line must be an object with a
    # `"text"` string, and the first bad line stops the read with its line number.
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if p.suffix != ".jsonl":
            docs.append({"text": line})
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{p}:{n}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise DataError(f'{p}:{n}: expected an object with a "text" string')
        docs.append(obj)
    return docs


# ## Writing it back, atomically
#
# The output is written through [`atomic_write`](atomic.md): a temporary file in the target's
# folder, renamed over the target only when complete, so a reader (or a crash) never sees half a
# file. The documents are streamed into it; they are never all held as one string.
def write_documents(path: str | os.PathLike, docs: Iterable[dict[str, Any]]) -> int:
    """Write documents as JSON Lines via a temporary file and a rename; return how many."""
    count = 0

    def write(tmp: Path) -> None:
        nonlocal count
        with tmp.open("w", encoding="utf-8") as f:
            for doc in docs:
                f.write(json.dumps(doc, ensure_ascii=False) + "\n")
                count += 1

    atomic_write(path, write)
    return count


# ## A progress bar
#
# A bar redrawn in place with `\r` at most ten times a second (redrawing on every item would
# cost more than the work for fast tools), with the rate and the items done.
def progress(
    items: Sequence[Any], desc: str, stream: TextIO | None = None, width: int = 30
) -> Iterator[Any]:
    """Yield `items` while drawing `desc [#####.....] k/n  r it/s` on `stream` (stderr)."""
    out = sys.stderr if stream is None else stream
    n = len(items)
    start = last = time.monotonic()

    def draw(k: int) -> None:
        filled = width * k // max(n, 1)
        rate = k / max(time.monotonic() - start, 1e-9)
        bar = "#" * filled + "." * (width - filled)
        out.write(f"\r{desc} [{bar}] {k}/{n} {rate:.0f} it/s")
        out.flush()

    # The bar is redrawn at most every 0.1 s, so drawing costs the loop little, and once at the end.
    for k, item in enumerate(items):
        yield item
        now = time.monotonic()
        if now - last > 0.1:
            draw(k + 1)
            last = now
    draw(n)
    out.write("\n")


# ## Running a tool
#
# Each tool's `main` does the work and raises `DataError` (or `ValueError` from the library,
# whose messages already name the argument) on bad input; `run_tool` turns that into one line
# and exit status 2.
def run_tool(main: Any, argv: Sequence[str] | None = None) -> int:
    """Call `main(argv)`; on `ValueError` print `error: ...` to stderr and return 2."""
    try:
        main(argv)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
