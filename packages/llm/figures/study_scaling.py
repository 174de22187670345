r"""# Figure: the grid's validation losses and the scaling law fitted to them

Drawn from the committed output of `bench/studies.py --only scaling`
(`bench/results/studies_scaling.txt`, the command on its first line): the twelve losses as
points, the fitted $L(N, D)$ as curves, the fitted constants beside Chinchilla's. Nothing is typed
in by hand."""

import re
import runpy
from pathlib import Path

import matplotlib.figure

from masterclass.llm.scaling_laws import ScalingLaw


def figure() -> matplotlib.figure.Figure:
    """Loss against training bytes, one colour per model size, points measured, curves fitted."""
    studies = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "studies.py"))
    results = studies["read_results"]("studies_scaling")
    rows = results["tables"][0]
    # The fit line reads "fit: E=... A=... alpha=... B=... beta=...".
    fit_line = next(line for line in results["lines"] if line.startswith("fit:"))
    fit = {k: float(v) for k, v in re.findall(r"(\w+)=([-\d.e+]+)", fit_line)}
    law = ScalingLaw(**fit)
    fig = matplotlib.figure.Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    sizes = sorted({int(r["N"]) for r in rows})
    d_all = [int(r["D"]) for r in rows]
    d_grid = [min(d_all) * (max(d_all) / min(d_all)) ** (i / 40) for i in range(41)]
    for i, n in enumerate(sizes):
        mine = [r for r in rows if int(r["N"]) == n]
        color = f"C{i}"
        ax.plot(
            [int(r["D"]) for r in mine],
            [float(r["val_loss"]) for r in mine],
            "o",
            color=color,
            label=f"N = {n:,} (d_model {mine[0]['d_model']})",
        )
        ax.plot(d_grid, [float(law.loss(n, d)) for d in d_grid], "-", color=color, alpha=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("training bytes D")
    ax.set_ylabel("validation loss, nats per byte")
    ax.legend(fontsize=8, loc="upper right")
    chinchilla = next(line for line in results["lines"] if line.startswith("Chinchilla:"))
    optimal = next(line for line in results["lines"] if line.startswith("compute-optimal"))
    ax.text(
        0.02,
        0.03,
        f"{fit_line}\n{chinchilla}\n{optimal}",
        transform=ax.transAxes,
        fontsize=6.5,
        family="monospace",
    )
    ax.set_title("points: measured; curves: the fitted L(N, D) = E + A/N^α + B/D^β", fontsize=9)
    fig.text(0.01, 0.005, results["command"], fontsize=6, family="monospace", color="0.4")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
