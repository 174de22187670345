r"""# Figure: validation loss of each feed-forward activation on one budget

Drawn from the committed output of `bench/studies.py --only act` (`bench/results/studies_act.txt`,
the command on its first line); nothing is typed in by hand."""

import runpy
from pathlib import Path

import matplotlib.figure


def figure() -> matplotlib.figure.Figure:
    """Horizontal bars of validation loss, labelled with the loss and the parameter count."""
    studies = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "studies.py"))
    return studies["loss_bars"](
        "studies_act",
        "2 layers, width 64, 200 steps, one seed (orange: gated)",
        colors=lambda names: ["C1" if "GLU" in n else "C0" for n in names],
        baseline=False,
    )
