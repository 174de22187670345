"""The committed result of `bench/curriculum.py` rendered as a table (no experiment is rerun)."""

from pathlib import Path

from matplotlib.figure import Figure

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results" / "curriculum.txt"


def figure() -> Figure:
    """A table of held-out answer loss per number of digits, for both orders."""
    lines = RESULTS.read_text().splitlines()
    header = lines[2].split()  # "order 1 digits 2 digits ... all"
    columns = ["order", *(f"{header[i]} {header[i + 1]}" for i in range(1, 9, 2)), "all"]
    rows = [line.split() for line in lines[3:5]]
    fig = Figure(figsize=(7, 2.0))
    ax = fig.add_subplot()
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=columns, loc="center")
    table.scale(1, 1.4)
    ax.set_title(f"{lines[1].lstrip('# ')}\n{lines[5]}", fontsize=8)
    fig.tight_layout()
    return fig
