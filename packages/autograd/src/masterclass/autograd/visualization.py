"""# Visualisation with Matplotlib and Seaborn

Two rules make plots in a code base reliable. First, build figures with the object API,
`matplotlib.figure.Figure()` and its `Axes`, never the global `pyplot` state machine: a function
that receives data and returns a `Figure` has no hidden state, works in a test, a script or a
notebook, and can be checked. Second, let seaborn do the statistics-aware drawing (bar heights from
a tidy frame, histograms with sensible bins) *on axes you own*, by passing `ax=`.

`plot_token_statistics` draws the tables of `token_statistics.py`:

- left, a seaborn `barplot` of the most common token types (a bar per category; the height is
  the count, so the figure is a faithful picture of `summarise_by_type`);
- right, a `histplot` of identifier (`NAME` token) lengths, on a log count axis, because a few very
  common short names (`self`, `i`, `x`) dominate a long tail.

The tests read the bar heights and the histogram's total back out of the returned figure and
compare them with the pandas summary: a plot is code, and code is tested.

matplotlib and seaborn are docs/dev dependencies: they are imported inside the function, never at
module level. The site's figure script, `figures/token_statistics.py`, calls this function.

![Token types and identifier lengths in a sample of the standard library](figures/token_statistics.png)

Left out: interactive backends, animation, styling themes beyond seaborn's defaults.
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
