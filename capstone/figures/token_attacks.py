"""# Token attacks on the trained tiny capstone model

The fraction of forceable next tokens that HotFlip and GCG force within a budget of B gradient
evaluations and 8 B forward passes, beside random search with the same forward passes. The
numbers are `bench/token_attacks.py`'s committed output (`bench/results/token_attacks.txt`),
read here, not typed in: HotFlip's first flips are the best of the three, and then it stalls
where its first-order estimate misranks the one right token; GCG, which samples among the
top-ranked swaps, keeps climbing; both beat random search at every budget.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results" / "token_attacks.txt"


def read_results(path: Path = RESULTS) -> dict[str, list[float]]:
    """Columns of the results table: budget (gradient evaluations), HotFlip, GCG, random."""
    cols: dict[str, list[float]] = {"budget": [], "hotflip": [], "gcg": [], "random": []}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[0].isdigit() and parts[1] == "/":
            for key, value in zip(cols, (parts[0], *parts[3:6])):
                cols[key].append(float(value))
    if not cols["budget"]:
        raise ValueError(f"{path} holds no results table; run capstone/bench/token_attacks.py")
    return cols


def figure() -> Figure:
    """Success rate against the budget for HotFlip, GCG and random search."""
    r = read_results()
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    for key, label, style in (
        ("hotflip", "HotFlip", "o-"),
        ("gcg", "GCG", "s-"),
        ("random", "random search (expected)", "^--"),
    ):
        ax.plot(r["budget"], r[key], style, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("gradient evaluations per target (8 forward passes each)")
    ax.set_ylabel("targets forced")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
