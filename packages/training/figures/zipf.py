"""Rank-frequency of Zipfian token samples with the fitted line, and their coverage curves."""

import numpy as np
from matplotlib.figure import Figure

from masterclass.training.token_distribution import coverage_curve, token_counts, zipf_fit


def figure() -> Figure:
    """Two samples (s = 0.9 and 1.2, 5,000 types, 300k tokens), log-log ranks and coverage."""
    fig = Figure(figsize=(8, 3.2))
    ax, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    V = 5000
    for s, color in [(0.9, "C0"), (1.2, "C1")]:
        p = np.arange(1, V + 1, dtype=float) ** -s
        ids = np.random.default_rng(0).choice(V, size=300_000, p=p / p.sum())
        counts = token_counts(ids, V)
        fit = zipf_fit(counts, min_count=5)
        c = np.sort(counts)[::-1]
        k = np.arange(1, V + 1)
        ax.loglog(k[c > 0], c[c > 0], ".", ms=2, color=color, label=f"sample, s={s}")
        ax.loglog(
            k,
            np.exp(fit.intercept) * k**-fit.exponent,
            "-",
            color=color,
            lw=1,
            label=f"fit: s={fit.exponent:.2f}",
        )
        ax2.semilogx(k, coverage_curve(counts), color=color, label=f"s={s}")
    ax.set_xlabel("rank k")
    ax.set_ylabel("count")
    ax.legend(fontsize=7)
    ax2.set_xlabel("k most frequent types")
    ax2.set_ylabel("share of tokens covered")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig
