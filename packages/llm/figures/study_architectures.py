r"""# Figure: validation loss of each one-change variant of the LLaMA-style baseline

Drawn from the committed output of `bench/studies.py --only arch` (`bench/results/studies_arch.txt`,
the command on its first line); nothing is typed in by hand."""

import runpy
from pathlib import Path

import matplotlib.figure


def figure() -> matplotlib.figure.Figure:
    """Horizontal bars of validation loss, the baseline's as a line, labelled with loss and size."""
    studies = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "studies.py"))
    return studies["loss_bars"](
        "studies_arch",
        "2 layers, width 64, 200 steps of 16 x 64 bytes, one seed",
        colors=lambda names: ["C2"] + ["C0"] * (len(names) - 1),
        baseline=True,
    )
