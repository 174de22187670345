r"""# Figure: loss within and beyond the training length under each RoPE scaling

Drawn from the committed output of `bench/studies.py --only context,exit`
(`bench/results/studies_context_exit.txt`, the command on its first line); nothing is typed in by
hand."""

import runpy
from pathlib import Path

import matplotlib.figure

NAMES = {"none": "none", "linear": "linear (PI)", "ntk": "NTK-aware", "yarn": "YaRN"}


def figure() -> matplotlib.figure.Figure:
    """Grouped bars per scheme (loss over the first 64 positions and over the rest), one panel
    per evaluated length, each bar labelled with its loss."""
    studies = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "studies.py"))
    results = studies["read_results"]("studies_context_exit")
    # The first two tables are the evaluations at 2x and 4x the training length (64).
    fig = matplotlib.figure.Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, rows, length in zip(axes, results["tables"][:2], (128, 256)):
        xs = range(len(rows))
        for offset, column, label in (
            (-0.2, "loss_within", "positions < 64"),
            (0.2, "loss_beyond", "positions ≥ 64"),
        ):
            values = [float(r[column]) for r in rows]
            bars = ax.bar([x + offset for x in xs], values, width=0.4, label=label)
            ax.bar_label(bars, fmt="%.2f", fontsize=7)
        ax.set_xticks(list(xs), [NAMES.get(r["scheme"], r["scheme"]) for r in rows])
        ax.set_title(f"evaluated at length {length}", fontsize=9)
    top = max(float(r[c]) for t in results["tables"][:2] for r in t for c in r if c != "scheme")
    axes[0].set_ylim(1.5, top + 0.15)
    axes[0].set_ylabel("loss, nats per byte")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("4-layer byte model trained at length 64, no fine-tuning", fontsize=10)
    fig.text(0.01, 0.005, results["command"], fontsize=6, family="monospace", color="0.4")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
