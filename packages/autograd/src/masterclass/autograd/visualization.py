"""# Visualisation with Matplotlib and Seaborn

Two rules make plots in a code base reliable. First, build figures with the object API,
`matplotlib.figure.Figure()` and its `Axes`, never the global `pyplot` state machine: a function
that receives data and returns a `Figure` has no hidden state, works in a test, a script or a
notebook, and can be checked. Second, let seaborn do the statistics-aware drawing (bar heights from
a tidy frame, histograms with sensible bins) *on axes you own*, by passing `ax=`.

`plot_token_statistics` draws the tables of [`token_statistics.py`](token_statistics.md):

- left, a seaborn `barplot` of the most common token types (a bar per category; the height is
  the count, so the figure is a faithful picture of `summarise_by_type`);
- right, a `histplot` of identifier (`NAME` token) lengths, on a log count axis, because a few very
  common short names (`self`, `i`, `x`) dominate a long tail.

The tests read the bar heights and the histogram's total back out of the returned figure and
compare them with the pandas summary: a plot is code, and code is tested.

**A worked example.** Six tokens on six lines of one file: four names of lengths 4, 4, 1 and 6,
an `=` and a two-digit number. With `top=2` the bars are `NAME` (4 tokens) and, of the two types
seen once, `NUMBER`, the longer (ties go to the larger mean length). The histogram has one bin
per integer length from 1 to 6, the empty ones included:

>>> from masterclass.autograd.token_statistics import clean_tokens, token_frame
>>> lexed = [("NAME", 4), ("NAME", 4), ("NAME", 1), ("EQUAL", 1), ("NAME", 6), ("NUMBER", 2)]
>>> rows = [{"file": "f.py", "package": "f", "type": kind, "length": n, "line": i, "error": None}
...         for i, (kind, n) in enumerate(lexed, start=1)]
>>> fig = plot_token_statistics(clean_tokens(token_frame(rows)), top=2)
>>> bars, hist = fig.axes
>>> [label.get_text() for label in bars.get_yticklabels()]
['NAME', 'NUMBER']
>>> [float(p.get_width()) for p in bars.patches]
[4.0, 1.0]
>>> [(float(p.get_x() + p.get_width() / 2), int(p.get_height())) for p in hist.patches]
[(1.0, 1), (2.0, 0), (3.0, 0), (4.0, 2), (5.0, 0), (6.0, 1)]
>>> hist.get_yscale()
'log'

matplotlib and seaborn are docs/dev dependencies: they are imported inside the function, never at
module level. The site's figure script, `figures/token_statistics.py`, calls this function.

![Token types and identifier lengths in a sample of the standard library](figures/token_statistics.png)

Left out: interactive backends, animation, styling themes beyond seaborn's defaults.

## Exercises

1. Write `bar_counts(fig)`: given a figure from `plot_token_statistics`, return
   `{token type: count}` read from its left `Axes` alone (its rectangles and tick labels). Check
   it (against `summarise_by_type`): `uv run pytest --exercise autograd.visualization`.
2. Write `discrete_histogram(lengths)`: the `(bin centres, counts)` that
   `sns.histplot(x=lengths, discrete=True)` draws, computed with NumPy. Check it (against the
   rectangles seaborn draws): `uv run pytest --exercise autograd.visualization`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from masterclass.autograd.token_statistics import summarise_by_type

if TYPE_CHECKING:
    import matplotlib.figure
    import pandas as pd


def plot_token_statistics(tokens: pd.DataFrame, top: int = 10) -> matplotlib.figure.Figure:
    """A two-panel figure: counts of the `top` token types, and the NAME-length histogram.

    `tokens` is a cleaned frame from `token_statistics.clean_tokens`.
    """
    import matplotlib.figure
    import seaborn as sns

    if top < 1:
        raise ValueError(f"plot_token_statistics: top must be >= 1, got {top}")
    if tokens.empty:
        raise ValueError("plot_token_statistics: the token table is empty (nothing to plot)")
    # Left, a bar per token type, most common first; right, the distribution of identifier
    # lengths on a log scale, since short names dominate.
    by_type = summarise_by_type(tokens).head(top).reset_index()
    by_type["type"] = by_type["type"].astype(str)  # drop unused categories from the axis
    fig = matplotlib.figure.Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    sns.barplot(data=by_type, x="count", y="type", ax=left, color="tab:blue", orient="h")
    left.set(title=f"{top} most common token types", xlabel="tokens", ylabel="")
    names = tokens.loc[tokens["type"] == "NAME", "length"]
    sns.histplot(x=names, discrete=True, ax=right, color="tab:orange")
    right.set(title="identifier length", xlabel="characters", ylabel="tokens", yscale="log")
    n_files = tokens["file"].nunique()
    fig.suptitle(f"Tokens in {n_files} standard-library files ({len(tokens):,} tokens)")
    return fig
