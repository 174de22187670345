"""# Data manipulation with pandas: token statistics of the standard library

A real table, made here from data every Python installation ships: the source of the standard
library, read from the running interpreter (the project's default corpus). Each row is one token
that Python's own `tokenize` module produced, with its file, package, token type and length.

The pipeline is the everyday one:

1. **Collect** raw records (`token_records`): plain dicts, one per token, and one *error record*
   for each file that cannot be read or tokenized. Real data is dirty; we keep the failures in the
   table rather than hiding them, and clean them in the open.
2. **Load** into a `DataFrame` (`token_frame`).
3. **Clean** (`clean_tokens`): drop the error rows (missing `type`), drop layout tokens that carry
   no text (`NEWLINE`, `INDENT`, ...), drop exact duplicate rows, fix dtypes (`type` becomes a
   categorical, `length` an integer).
4. **Group and aggregate** (`summarise_by_type`, `summarise_by_package`): `groupby` + `agg` with
   named aggregations, shares via `transform`-free division, sorting.

**A worked example**, by hand: the tokens of `n = len(items)` on line 1 of `f.py`, one of them
recorded twice, and a file that failed to tokenize. Cleaning keeps the six tokens with text:

>>> base = {"file": "f.py", "package": "f", "line": 1, "error": None}
>>> lexed = [("NAME", 1), ("EQUAL", 1), ("NAME", 3), ("LPAR", 1), ("NAME", 5), ("RPAR", 1),
...          ("NEWLINE", 1)]
>>> records = [base | {"type": kind, "length": n} for kind, n in lexed]
>>> records.append(records[0])  # the same row twice
>>> records.append({"file": "g.py", "package": "g", "type": None, "length": None, "line": None,
...                 "error": "EOF in multi-line string"})
>>> tokens = clean_tokens(token_frame(records))
>>> len(records), len(tokens)
(9, 6)
>>> summarise_by_type(tokens)
       count     share  mean_length  max_length
type
NAME       3  0.500000          3.0           5
EQUAL      1  0.166667          1.0           1
LPAR       1  0.166667          1.0           1
RPAR       1  0.166667          1.0           1
>>> summarise_by_package(tokens)
         files  tokens  name_share  tokens_per_file
package
f            1       6         0.5              6.0

The same summaries are plotted in [`visualization.py`](visualization.md), and the site's figure
is made from them at build time:

![Token types and identifier lengths in a sample of the standard library](figures/token_statistics.png)

pandas is a docs/dev dependency, not a run-time one: it is imported inside the functions that need
it, never at the top of this module, so `import masterclass.autograd` works without it.

Left out: joins and reshaping (`merge`, `pivot`), time series, out-of-core frames.

## Exercises

1. Write `type_shares(frame)`: from a *raw* frame (`token_frame`, error rows, layout tokens and
   duplicate rows included), clean it as step 3 does and return `{type: share}`, each token
   type's share of the tokens left. Check it (against `Counter`s over the same records):
   `uv run pytest --exercise autograd.token_statistics`.
2. Write `tokens_per_line(tokens)`: from a cleaned frame, `{file: tokens per line}`, the number of
   tokens of each file divided by the number of distinct lines that hold a token (one `groupby`
   with two named aggregations). Check it: `uv run pytest --exercise autograd.token_statistics`.
"""

from __future__ import annotations

import functools
import io
import random
import sysconfig
import tokenize
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# Tokens that only mark layout; they have no text worth measuring.
LAYOUT_TOKENS = ("NEWLINE", "NL", "INDENT", "DEDENT", "ENDMARKER")


# Walking the whole standard library takes a second or two; the listing never changes while the
# interpreter runs, so it is computed once per `max_bytes`.
# (Module 5 owns the shared reader, `masterclass.nlp.stdlib_corpus`; Module 2 comes before it in
# the layering and so keeps this small listing of its own.)
@functools.cache
def _stdlib_candidates(max_bytes: int) -> tuple[Path, ...]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return tuple(
        sorted(
            p
            for p in root.rglob("*.py")
            if "site-packages" not in p.parts
            and "test" not in p.parts
            and "tests" not in p.parts
            and p.stat().st_size <= max_bytes
        )
    )


# The sample is drawn with a seeded generator from the sorted listing, and sorted again, so the
# same seed on the same Python gives the same files.
def stdlib_source_files(n_files: int, seed: int = 0, max_bytes: int = 30_000) -> list[Path]:
    """A seeded sample of `n_files` `.py` files of the running interpreter's standard library.

    Test suites, `site-packages` and files over `max_bytes` are excluded, so that tokenizing the
    sample stays fast; the sample is sorted, so it is the same for the same seed and Python.
    """
    candidates = _stdlib_candidates(max_bytes)
    if n_files < 1 or n_files > len(candidates):
        raise ValueError(
            f"stdlib_source_files: n_files must be in [1, {len(candidates)}], got {n_files}"
        )
    return sorted(random.Random(seed).sample(candidates, n_files))


# One record per token, tidy-data style: a row per observation, a column per variable. A file that
# cannot be read or tokenized becomes a single error row instead of an exception.
def token_records(paths: list[Path], root: Path | None = None) -> list[dict]:
    """One record per token of each file; one error record per unreadable file.

    Keys: `file` (path relative to `root`), `package` (first path component, or the module name),
    `type` (token type name, None for errors), `length` (characters, None for errors),
    `line` (1-based), `error` (None, or the exception's message).
    """
    root = root or Path(sysconfig.get_paths()["stdlib"])
    records = []
    for path in paths:
        rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
        package = rel.parts[0].removesuffix(".py")
        base = {"file": rel.as_posix(), "package": package}
        try:
            source = path.read_bytes()
            tokens = list(tokenize.tokenize(io.BytesIO(source).readline))
        except (OSError, SyntaxError, tokenize.TokenError, UnicodeDecodeError) as err:
            records.append(base | {"type": None, "length": None, "line": None, "error": str(err)})
            continue
        # Operators get their exact type (`LPAR`, `PLUS`) rather than the generic `OP`.
        for tok in tokens:
            if tok.type == tokenize.ENCODING:
                continue  # a marker, not part of the source
            records.append(
                base
                | {
                    "type": tokenize.tok_name[
                        tok.exact_type if tok.type == tokenize.OP else tok.type
                    ],
                    "length": len(tok.string),
                    "line": tok.start[0],
                    "error": None,
                }
            )
    return records


# From records to a frame, then cleaning: error rows, layout tokens and duplicate rows go, and the
# text columns become categories.
def token_frame(records: list[dict]) -> pd.DataFrame:
    """The raw records as a DataFrame (pandas imported here, not at module level)."""
    import pandas as pd

    columns = ["file", "package", "type", "length", "line", "error"]
    return pd.DataFrame.from_records(records, columns=columns)


def clean_tokens(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop error rows, layout tokens and duplicates; set dtypes. Returns a new frame."""
    df = frame.dropna(subset=["type"])  # error rows have no type
    df = df[~df["type"].isin(LAYOUT_TOKENS)]
    df = df.drop_duplicates()  # identical rows (same file, type, length, line) count once
    return (
        df.drop(columns="error")
        .astype({"type": "category", "length": "int64", "line": "int64", "package": "category"})
        .reset_index(drop=True)
    )


# Two summaries by `groupby`: per token type, and per package with the share of identifiers.
def summarise_by_type(tokens: pd.DataFrame) -> pd.DataFrame:
    """Per token type: `count`, `share` of all tokens, `mean_length`, `max_length`; most common first."""
    summary = tokens.groupby("type", observed=True).agg(
        count=("length", "size"), mean_length=("length", "mean"), max_length=("length", "max")
    )
    summary["share"] = summary["count"] / summary["count"].sum()
    return summary.sort_values(["count", "mean_length"], ascending=[False, False])[
        ["count", "share", "mean_length", "max_length"]
    ]


# The package view counts distinct files, and the mean of a boolean column is a share.
def summarise_by_package(tokens: pd.DataFrame) -> pd.DataFrame:
    """Per package: number of `files`, `tokens`, `tokens_per_file` and the share of `NAME` tokens."""
    is_name = tokens["type"] == "NAME"
    summary = (
        tokens.assign(is_name=is_name)
        .groupby("package", observed=True)
        .agg(files=("file", "nunique"), tokens=("length", "size"), name_share=("is_name", "mean"))
    )
    summary["tokens_per_file"] = summary["tokens"] / summary["files"]
    return summary.sort_values("tokens", ascending=False)
