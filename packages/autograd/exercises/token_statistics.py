r"""# Exercises: Data manipulation with pandas: token statistics of the standard library

The chapter's pipeline in your own pandas: clean a dirty frame and take shares by group, then
combine two aggregations per group, each checked against plain-Python counts of the same records."""

import colorsys
import functools
import json.decoder
import string
import textwrap
from collections import Counter, defaultdict
from pathlib import Path

from masterclass.autograd.token_statistics import (
    LAYOUT_TOKENS,
    clean_tokens,
    token_frame,
    token_records,
)


def solution_1_type_shares(frame) -> dict[str, float]:
    """From a raw `token_frame`: drop error rows, layout tokens and duplicate rows, then return
    each token type's share of the tokens left, `{type: share}`."""
    df = frame.dropna(subset=["type"])
    df = df[~df["type"].isin(LAYOUT_TOKENS)].drop_duplicates()
    counts = df.groupby("type").size()
    return (counts / counts.sum()).to_dict()


@functools.cache
def _records() -> tuple[dict, ...]:
    # Four real standard-library files (found through their modules, no directory walk), plus
    # what dirty data looks like: error rows and rows recorded twice.
    paths = [Path(m.__file__) for m in (colorsys, string, textwrap, json.decoder)]
    records = token_records(paths)
    errors = [
        {"file": f"broken{i}.py", "package": f"broken{i}", "type": None, "length": None}
        | {"line": None, "error": "EOF in multi-line string"}
        for i in range(3)
    ]
    return tuple(records + errors + records[:50])


def _clean_reference(records: list[dict]) -> set[tuple]:
    """Cleaning with a set: the rows that are tokens with text, each counted once."""
    return {
        (r["file"], r["package"], r["type"], r["length"], r["line"])
        for r in records
        if r["type"] is not None and r["type"] not in LAYOUT_TOKENS
    }


def check_1_type_shares(fn) -> None:
    """Compare with shares counted by a `Counter` over a set of the cleaned rows."""
    records = list(_records())
    for subset in (records, records[::3], records[-400:]):
        rows = _clean_reference(subset)
        counts = Counter(row[2] for row in rows)
        want = {t: c / len(rows) for t, c in counts.items()}
        got = {str(k): float(v) for k, v in fn(token_frame(subset)).items()}
        assert set(got) == set(want), (
            f"types {sorted(set(got) ^ set(want))} are in one answer only: drop error rows "
            f"(no type) and the layout tokens {LAYOUT_TOKENS}"
        )
        # A share is a count over a count: exact up to one rounding.
        worst = max(want, key=lambda t: abs(got[t] - want[t]))
        assert abs(got[worst] - want[worst]) < 1e-12, (
            f"share of {worst}: got {got[worst]:.6f}, want {want[worst]:.6f} (drop duplicate "
            "rows before counting)"
        )


def solution_2_tokens_per_line(tokens) -> dict[str, float]:
    """From a cleaned frame: per file, its tokens over the number of distinct lines with a token."""
    per_file = tokens.groupby("file", observed=True).agg(
        tokens=("type", "size"), lines=("line", "nunique")
    )
    return (per_file["tokens"] / per_file["lines"]).to_dict()


def check_2_tokens_per_line(fn) -> None:
    """Compare with a `Counter` of rows and a set of lines per file."""
    rows = _clean_reference(_records())
    tokens, lines = Counter(), defaultdict(set)
    for file, _package, _type, _length, line in rows:
        tokens[file] += 1
        lines[file].add(line)
    want = {file: tokens[file] / len(lines[file]) for file in tokens}
    got = {str(k): float(v) for k, v in fn(clean_tokens(token_frame(list(_records())))).items()}
    assert set(got) == set(want), f"files: got {sorted(got)}, want {sorted(want)}"
    for file in want:
        # A ratio of two counts: exact up to one rounding.
        assert abs(got[file] - want[file]) < 1e-12, (
            f"{file}: got {got[file]:.4f} tokens per line, want {want[file]:.4f} (count lines "
            "once each: nunique, not size)"
        )
