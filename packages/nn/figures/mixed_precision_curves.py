"""fp32 vs bf16-autocast loss curves of the same regression MLP (mixed_precision.py)."""

import matplotlib.figure

from masterclass.nn.mixed_precision import curve_gap, train_precision_comparison


def figure() -> matplotlib.figure.Figure:
    """Two loss curves, same initialization and data, on a log scale."""
    fp32, mixed = train_precision_comparison(steps=150)
    fig = matplotlib.figure.Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    ax.plot(fp32, label="float32")
    ax.plot(mixed, "--", label="bf16 autocast")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training MSE")
    ax.set_title(
        f"fp32 vs mixed precision (max gap {100 * curve_gap(fp32, mixed):.2f}% of initial loss)"
    )
    ax.legend()
    fig.tight_layout()
    return fig
