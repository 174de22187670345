r"""# Figure: validation loss of each feed-forward activation on one budget

Drawn from the committed output of `bench/studies.py --only act` (`bench/results/studies_act.txt`,
the command on its first line); nothing is typed in by hand."""

import runpy
from pathlib import Path

import matplotlib.figure


def figure() -> matplotlib.figure.Figure:
    """Horizontal bars of validation loss, labelled with the loss and the parameter count."""
    studies = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "studies.py"))
    results = studies["read_results"]("studies_act")
    rows = results["tables"][0]
    names = [r["variant"] for r in rows]
    losses = [float(r["val_loss"]) for r in rows]
    fig = matplotlib.figure.Figure(figsize=(7, 0.45 * len(rows) + 1.4))
    ax = fig.add_subplot()
    bars = ax.barh(names, losses, color=["C1" if "GLU" in n else "C0" for n in names])
    ax.invert_yaxis()
    for bar, row in zip(bars, rows):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {float(row['val_loss']):.3f}  ({int(row['params']):,} params)",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(min(losses) - 0.3, max(losses) + 0.25)
    ax.set_xlabel("validation loss, nats per byte (lower is better)")
    ax.set_title("2 layers, width 64, 200 steps, one seed (orange: gated)", fontsize=9)
    fig.text(0.01, 0.005, results["command"], fontsize=6, family="monospace", color="0.4")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
