r"""# Figure: memory per rank under data parallelism and the three ZeRO stages

Bytes of fp32 weights, gradients and Adam moments per rank for a 7-billion-parameter model on
8 ranks, from the chapter's table, against the memory of an 80 GiB accelerator."""

import matplotlib.figure
import numpy as np


def figure() -> matplotlib.figure.Figure:
    """Stacked bars per stage: weights $4N$, gradients $4N$, moments $8N$, each divided by $W$
    once its stage shards it."""
    n, world = 7e9, 8
    stages = ["DP", "ZeRO-1", "ZeRO-2", "ZeRO-3"]
    # The first stage that shards each kind of state: moments at 1, gradients at 2, weights at 3.
    kinds = [("weights", 4 * n, 3), ("gradients", 4 * n, 2), ("Adam moments", 8 * n, 1)]
    gib = 2.0**30
    fig = matplotlib.figure.Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    bottom = np.zeros(len(stages))
    for (name, size, sharded_from), color in zip(kinds, ["tab:blue", "tab:green", "tab:orange"]):
        heights = np.array([size / (world if s >= sharded_from else 1) for s in range(4)]) / gib
        ax.bar(stages, heights, bottom=bottom, label=name, color=color)
        bottom += heights
    for x, total in enumerate(bottom):
        ax.text(x, total + 1.5, f"{total:.0f} GiB", ha="center")
    ax.axhline(80, color="k", linestyle="--", linewidth=1)
    ax.text(3.45, 82, "80 GiB device", ha="right")
    ax.set_ylabel("GiB per rank (activations not counted)")
    ax.set_ylim(0, 120)
    ax.set_title(f"A {n / 1e9:.0f}B-parameter model, fp32 + AdamW, on W = {world} ranks")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig
