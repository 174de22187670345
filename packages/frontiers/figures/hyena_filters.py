"""Implicit Hyena filters at initialisation: MLP of positional features times decay windows."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from masterclass.frontiers.hyena import ImplicitFilter


def figure():
    """Left: a few channels' filters over 256 steps; right: the decay windows of all channels."""
    torch.manual_seed(0)
    T = 256
    filt = ImplicitFilter(16, T)
    with torch.no_grad():
        h = filt(T)
    t = torch.arange(T) / T
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    for c in (0, 5, 10, 15):
        ax1.plot(h[c], lw=1, label=f"channel {c} (rate {float(filt.rates[c]):.1f})")
    ax1.set(xlabel="lag", ylabel="h_t", title="implicit filters: one MLP, any length")
    ax1.legend(fontsize=8)
    windows = torch.exp(-filt.rates[:, None] * t)
    ax2.imshow(windows, aspect="auto", cmap="magma")
    ax2.set(xlabel="lag", ylabel="channel", title="decay windows: near and far memory")
    fig.tight_layout()
    return fig
