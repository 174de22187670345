r"""# Figure: the suffix array and LCP array of a short string

The sorted suffixes of `abracadabra`, each with its start position and its longest common prefix
with the suffix above it; the repeated substrings are the highlighted prefixes."""

import matplotlib.figure
import matplotlib.patches

from masterclass.infra.suffix_array import lcp_array, suffix_array


def figure() -> matplotlib.figure.Figure:
    """One row per rank: `SA[r]`, `LCP[r]` and the suffix, its shared prefix highlighted."""
    text = "abracadabra"
    sa = suffix_array(text)
    lcp = lcp_array(text, sa).tolist()
    sa = sa.tolist()
    fig = matplotlib.figure.Figure(figsize=(7.5, 4.4))
    ax = fig.add_subplot()
    x0 = 3.2  # where the suffixes start, after the two number columns
    ax.text(0.0, 1.0, "r", ha="center", weight="bold")
    ax.text(1.0, 1.0, "SA[r]", ha="center", weight="bold")
    ax.text(2.2, 1.0, "LCP[r]", ha="center", weight="bold")
    ax.text(x0, 1.0, "suffix (prefix shared with the row above)", weight="bold")
    for r, (start, common) in enumerate(zip(sa, lcp)):
        y = -r
        ax.text(0.0, y, str(r), ha="center", va="center")
        ax.text(1.0, y, str(start), ha="center", va="center")
        ax.text(
            2.2, y, str(common), ha="center", va="center", color="tab:orange" if common else "k"
        )
        if common:
            ax.add_patch(
                matplotlib.patches.Rectangle(
                    (x0 - 0.05, y - 0.4), 0.5 * common, 0.8, color="tab:orange", alpha=0.3
                )
            )
        for k, ch in enumerate(text[start:]):
            ax.text(x0 + 0.5 * k + 0.2, y, ch, ha="center", va="center", family="monospace")
    ax.set_xlim(-0.6, x0 + 0.5 * len(text) + 0.4)
    ax.set_ylim(-len(text) + 0.4, 1.5)
    ax.axis("off")
    ax.set_title("Sorted suffixes of 'abracadabra': repeats sit next to each other")
    fig.tight_layout()
    return fig
