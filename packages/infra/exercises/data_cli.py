r"""# Exercises: Data tools on the command line

The input rules a data tool enforces, and an atomic writer that a failing run cannot damage,
checked against the chapter's own reader and writer on real files."""

import json
import os
import random
import re
import tempfile
from pathlib import Path

from masterclass.infra.data_cli import DataError, read_documents, write_documents


def solution_1_first_bad_line(lines: list[str]) -> int | None:
    """The 1-based number of the first line `read_documents` rejects in a `.jsonl`, or None."""
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            return n
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            return n
    return None


# Lines of every kind the reader meets: good documents, blank lines (skipped, but counted in the
# line numbers), and four ways to be wrong.
_GOOD = ['{"text": "a cat"}', '{"text": "", "id": 7}', '{"id": 1, "text": "ünïcode"}']
_BLANK = ["", "   "]
_BAD = ['{"text": 3}', '["text", "a list"]', "{not json}", '{"txt": "typo"}', '"just a string"']


def _reader_verdict(lines: list[str]) -> int | None:
    # The reference: write the lines to a real `.jsonl` file and let the chapter's reader judge.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "corpus.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            read_documents(path)
        except DataError as err:
            return int(re.search(r":(\d+): ", str(err)).group(1))
    return None


def check_1_first_bad_line(fn) -> None:
    """Compare with `read_documents` on files made of good, blank and bad lines."""
    rng = random.Random(0)
    cases = [["", '{"text": 3}'], [*_GOOD, *_BLANK], ['{"text": "ok"}', "", "", '["x"]'], []]
    for _ in range(12):
        lines = [rng.choice(_GOOD + _BLANK) for _ in range(rng.randint(0, 5))]
        if rng.random() < 0.8:
            lines.insert(rng.randint(0, len(lines)), rng.choice(_BAD))
        cases.append(lines + [rng.choice(_GOOD + _BAD) for _ in range(rng.randint(0, 2))])
    for lines in cases:
        want = _reader_verdict(lines)
        got = fn(list(lines))
        assert got == want, (
            f"first_bad_line({lines}) = {got!r}, but read_documents "
            + (f"stops at line {want}" if want else "accepts every line")
            + " (lines count from 1, blank lines included)"
        )


def solution_2_write_atomically(path: str, docs) -> int:
    """Write `docs` as JSON Lines to a temporary file beside `path`, then rename it into place."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for doc in docs:
                f.write(json.dumps(doc, ensure_ascii=False) + "\n")
                count += 1
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    return count


class _Boom(RuntimeError):
    pass


def check_2_write_atomically(fn) -> None:
    """Same bytes as `write_documents`; during and after a failed write the old file is whole."""
    docs = [{"text": "première ligne", "id": 1}, {"text": "second", "tags": ["a", "b"]}]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_documents(root / "want.jsonl", docs)
        got = fn(str(root / "out.jsonl"), iter(docs))
        assert got == len(docs), f"write_atomically returned {got!r}; it wrote {len(docs)} docs"
        want, wrote = (root / "want.jsonl").read_bytes(), (root / "out.jsonl").read_bytes()
        assert wrote == want, (
            f"the file holds {wrote!r}, write_documents writes {want!r} (one json.dumps per line, "
            "ensure_ascii=False)"
        )

        # A run that dies half-way: the generator reads the target (as another reader would)
        # while the writer is busy, then raises.
        old = (root / "out.jsonl").read_bytes()
        seen = []

        def failing():
            yield {"text": "new 1"}
            seen.append((root / "out.jsonl").read_bytes())
            yield {"text": "new 2"}
            raise _Boom("the transform failed")

        try:
            fn(str(root / "out.jsonl"), failing())
        except _Boom:
            pass
        else:
            raise AssertionError("write_atomically swallowed the error of its input; re-raise it")
        assert seen == [old], (
            "a reader saw the target change while it was being written: write to a temporary "
            "file and rename it into place at the end"
        )
        assert (root / "out.jsonl").read_bytes() == old, "a failed run changed the old output"
        left = sorted(os.listdir(root))
        assert left == ["out.jsonl", "want.jsonl"], (
            f"a failed run left {left} in the folder: delete the temporary file on error"
        )
