r"""# Exercises: Visualisation with Matplotlib and Seaborn

A figure built with the object API is data you can read back: the bars of the chapter's figure,
checked against the pandas summary they draw, and the bins of a discrete histogram, checked
against the patches seaborn itself draws."""

import functools
import string
import textwrap
from pathlib import Path

import numpy as np

from masterclass.autograd.token_statistics import (
    clean_tokens,
    summarise_by_type,
    token_frame,
    token_records,
)
from masterclass.autograd.visualization import plot_token_statistics


def solution_1_bar_counts(fig) -> dict[str, float]:
    """`{token type: bar length}` read from the left `Axes` of `plot_token_statistics`'s figure."""
    bars = fig.axes[0]
    labels = [label.get_text() for label in bars.get_yticklabels()]
    # Horizontal bars: the count is each rectangle's width, in the order of the y tick labels.
    return {
        label: float(patch.get_width()) for label, patch in zip(labels, bars.patches, strict=True)
    }


@functools.cache
def _tokens():
    # Two real standard-library files, found through their modules (no directory walk).
    return clean_tokens(
        token_frame(token_records([Path(string.__file__), Path(textwrap.__file__)]))
    )


def check_1_bar_counts(fn) -> None:
    """Compare with `summarise_by_type`, the table the bars are drawn from."""
    tokens = _tokens()
    for top, subset in [(5, tokens), (3, tokens[tokens["file"] == "string.py"]), (8, tokens[::2])]:
        fig = plot_token_statistics(subset, top=top)
        want = {str(k): float(v) for k, v in summarise_by_type(subset)["count"].head(top).items()}
        got = {str(k): float(v) for k, v in fn(fig).items()}
        assert got == want, (
            f"top={top}: got {got}, the summary has {want} (read the widths of the left Axes' "
            "patches, labelled by its y tick labels)"
        )


def solution_2_discrete_histogram(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(centres, counts)` of `histplot(discrete=True)`: one bin per integer from min to max."""
    lengths = np.asarray(lengths, dtype=np.int64)
    low = lengths.min()
    counts = np.bincount(lengths - low)  # empty bins included
    return np.arange(low, low + len(counts), dtype=np.float64), counts


def check_2_discrete_histogram(fn) -> None:
    """Compare with the rectangles `seaborn.histplot(discrete=True)` draws on an `Axes` we own."""
    import matplotlib.figure
    import seaborn as sns

    rng = np.random.default_rng(0)
    for trial in range(4):
        lengths = rng.geometric(0.3, size=int(rng.integers(5, 60))) + trial
        ax = matplotlib.figure.Figure().subplots()
        sns.histplot(x=lengths, discrete=True, ax=ax)
        want_centres = np.array([p.get_x() + p.get_width() / 2 for p in ax.patches])
        want_counts = np.array([p.get_height() for p in ax.patches])
        centres, counts = fn(lengths.copy())
        centres, counts = np.asarray(centres, dtype=float), np.asarray(counts, dtype=float)
        assert centres.shape == want_centres.shape, (
            f"lengths {sorted(lengths.tolist())}: {len(centres)} bins, seaborn draws "
            f"{len(want_centres)} (one per integer from min to max, empty ones included)"
        )
        # Bin edges are k +- 0.5 in floating point: centres agree to rounding, counts exactly.
        assert np.allclose(centres, want_centres, atol=1e-9), (
            f"bin centres {centres.tolist()}, seaborn's {want_centres.tolist()}"
        )
        assert np.array_equal(counts, want_counts), (
            f"counts {counts.tolist()}, seaborn's {want_counts.tolist()}"
        )
