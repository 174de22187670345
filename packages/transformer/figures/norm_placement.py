"""Gradient norm per block at initialization, pre-norm vs post-norm, for several depths."""

import matplotlib.figure
import torch

from masterclass.transformer.transformer_block import layer_gradient_norms


def _draw() -> matplotlib.figure.Figure:
    """Left: per-block gradient norms at depth 24. Right: last block's gradient vs depth."""
    fig = matplotlib.figure.Figure(figsize=(10, 3.6))
    left, right = fig.subplots(1, 2)
    depths = [2, 4, 8, 16, 24]
    last = {True: [], False: []}
    for norm_first, label in ((True, "pre-norm"), (False, "post-norm")):
        for L in depths:
            norms = layer_gradient_norms(norm_first, L)
            last[norm_first].append(norms[-1])
            if depths[-1] == L:
                left.plot(range(1, L + 1), norms, marker="o", ms=3, label=label)
        right.plot(depths, last[norm_first], marker="o", label=label)
    left.set(
        xlabel="block (1 = nearest the input)", ylabel="gradient norm", title="depth 24, at init"
    )
    right.set(
        xlabel="depth L", ylabel="last block's gradient norm", title="top-layer gradient vs depth"
    )
    for ax in (left, right):
        ax.legend()
        ax.grid(alpha=0.3)
    return fig


def figure() -> matplotlib.figure.Figure:
    """Draw with one torch thread (these tiny tensors run fastest on one), restoring the setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _draw()
    finally:
        torch.set_num_threads(threads)
