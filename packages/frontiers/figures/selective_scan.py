"""Hillis-Steele rounds of the parallel scan against the sequential recurrence."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from masterclass.frontiers.mamba import parallel_scan, sequential_scan


def figure():
    """Left: which steps each position has composed after each round; right: states agree."""
    T = 16
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    # After round r, position t has composed min(2^r, t + 1) steps: once 2^r >= T, all of them.
    rounds = 5
    spans = torch.stack(
        [torch.clamp(torch.arange(1, T + 1), max=2**r) for r in range(rounds)]
    ).float()  # (rounds, T)
    ax1.imshow(spans, aspect="auto", cmap="viridis")
    for r in range(rounds):
        for t in range(T):
            ax1.text(t, r, int(spans[r, t]), ha="center", va="center", fontsize=7, color="w")
    ax1.set(
        xlabel="position t", ylabel="after round", title="steps folded into position t (T = 16)"
    )
    g = torch.Generator().manual_seed(0)
    a, b = 0.9 + 0.1 * torch.rand(1, 64, 1, generator=g), torch.randn(1, 64, 1, generator=g)
    ax2.plot(sequential_scan(a, b)[0, :, 0], label="sequential loop", lw=3, alpha=0.4)
    ax2.plot(parallel_scan(a, b)[0, :, 0], "--", label="parallel scan (6 rounds)")
    ax2.set(xlabel="t", ylabel="h_t", title="h_t = a_t h_{t-1} + b_t")
    ax2.legend()
    fig.tight_layout()
    return fig
