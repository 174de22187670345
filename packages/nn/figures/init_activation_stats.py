"""Activation std through 50 layers for each initialization, ReLU and tanh (init.py)."""

import matplotlib.figure

from masterclass.nn.init import INITS, activation_stds


def figure() -> matplotlib.figure.Figure:
    """One panel per nonlinearity; one log-scale curve per initialization."""
    fig = matplotlib.figure.Figure(figsize=(9, 3.5))
    for k, nl in enumerate(("relu", "tanh")):
        ax = fig.add_subplot(1, 2, k + 1)
        for name in INITS:
            stds = activation_stds(name, nl, depth=50, width=256, batch=256)
            ax.plot(range(1, 51), [max(s, 1e-30) for s in stds], label=name)
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_ylabel("activation std (floored at 1e-30)")
        ax.set_title(f"{nl}, width 256")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
