r"""# Figure: validation loss of each one-change variant of the LLaMA-style baseline

Drawn from the committed output of `bench/studies.py --only arch` (`bench/results/studies_arch.txt`,
the command on its first line); nothing is typed in by hand."""

import runpy
from pathlib import Path

import matplotlib.figure


def figure() -> matplotlib.figure.Figure:
    """Horizontal bars of validation loss, the baseline's as a line, labelled with loss and size."""
    studies = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "studies.py"))
    results = studies["read_results"]("studies_arch")
    rows = results["tables"][0]
    names = [r["variant"] for r in rows]
    losses = [float(r["val_loss"]) for r in rows]
    fig = matplotlib.figure.Figure(figsize=(8, 0.42 * len(rows) + 1.4))
    ax = fig.add_subplot()
    bars = ax.barh(names, losses, color=["C2"] + ["C0"] * (len(rows) - 1))
    ax.invert_yaxis()
    # The baseline is the first row: every other bar differs from it in one choice.
    ax.axvline(losses[0], color="C2", linestyle="--", linewidth=1)
    for bar, row in zip(bars, rows):
        delta = float(row["val_loss"]) - losses[0]
        change = f", {delta:+.3f}" if bar is not bars[0] else ""
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {float(row['val_loss']):.3f}{change}  ({int(row['params']):,} params)",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(min(losses) - 0.3, max(losses) + 0.35)
    ax.set_xlabel("validation loss, nats per byte (lower is better)")
    ax.set_title("2 layers, width 64, 200 steps of 16 x 64 bytes, one seed", fontsize=9)
    fig.text(0.01, 0.005, results["command"], fontsize=6, family="monospace", color="0.4")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
