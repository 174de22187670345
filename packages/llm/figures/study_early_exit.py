r"""# Figure: early exit's trade between block compute and agreement with the full model

Drawn from the committed output of `bench/studies.py --only context,exit`
(`bench/results/studies_context_exit.txt`, the command on its first line); nothing is typed in by
hand."""

import runpy
from pathlib import Path

import matplotlib.figure


def figure() -> matplotlib.figure.Figure:
    """Agreement against the share of block compute spent, one point per confidence threshold."""
    studies = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "studies.py"))
    results = studies["read_results"]("studies_context_exit")
    rows = results["tables"][2]  # the early-exit table follows the two context tables
    spent = [float(r["layers_fraction"]) for r in rows]
    agree = [float(r["agreement"]) for r in rows]
    fig = matplotlib.figure.Figure(figsize=(6, 3.8))
    ax = fig.add_subplot()
    ax.plot(spent, agree, "o-")
    # Thresholds beside the points, alternately below and above; the numbers in a box.
    notes = ["λ       spent  agreement"]
    for i, (row, x, y) in enumerate(zip(rows, spent, agree)):
        threshold = float(row["threshold"])
        name = "never" if threshold > 1 else f"{threshold:g}"
        ax.annotate(
            f"λ={name}",
            (x, y),
            textcoords="offset points",
            xytext=(0, -14 if i % 2 == 0 else 8),
            fontsize=7,
            ha="center",
        )
        notes.append(f"{name:<7} {x:.3f}  {y:.3f}")
    ax.text(
        0.98,
        0.04,
        "\n".join(notes),
        transform=ax.transAxes,
        fontsize=7,
        family="monospace",
        ha="right",
        va="bottom",
    )
    ax.set_xlabel("share of (token, layer) block compute spent")
    ax.set_ylabel("agreement with the full model")
    ax.set_xlim(min(spent) - 0.08, 1.05)
    ax.set_ylim(min(agree) - 0.12, 1.04)
    ax.set_title("4-layer byte model, 16 held-out windows of 64 bytes", fontsize=9)
    fig.text(0.01, 0.005, results["command"], fontsize=6, family="monospace", color="0.4")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
