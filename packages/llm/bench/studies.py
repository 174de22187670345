"""Run the study chapters' experiments and print their tables (Markdown).

Every measured number of `scaling_laws.py`, `architecture_choices.py`, `activations.py`,
`context_window.py` and `conditional_compute.py` comes from this script: byte-level models trained
on the standard-library corpus (`tiny_runs.py`), seeded, on one CPU thread. Takes a few minutes on
a laptop. Its output is committed, one file per part, with the command on the first line:

    .venv/bin/python packages/llm/bench/studies.py --only memory        > results/studies_memory.txt
    .venv/bin/python packages/llm/bench/studies.py --only context,exit  > results/studies_context_exit.txt
    .venv/bin/python packages/llm/bench/studies.py --only act           > results/studies_act.txt
    .venv/bin/python packages/llm/bench/studies.py --only arch          > results/studies_arch.txt
    .venv/bin/python packages/llm/bench/studies.py --only scaling       > results/studies_scaling.txt

and the chapters' figures (`figures/study_*.py`) draw those files when the site is built, so no
result is typed into a page by hand. Rerun a part and commit its file when the code it measures
changes. `read_results` parses a file back.
"""

import argparse
import time
from pathlib import Path

import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.activations import compare_activations
from masterclass.llm.architecture_choices import compare_architectures, markdown_table
from masterclass.llm.conditional_compute import MixtureOfDepthsLM, early_exit_savings
from masterclass.llm.context_window import context_extension_table
from masterclass.llm.memory_patterns import measure_cache_memory
from masterclass.llm.scaling_laws import CHINCHILLA, fit_scaling_law, run_grid
from masterclass.llm.tiny_runs import BYTE_VOCAB, byte_data, train_tiny

RESULTS = Path(__file__).resolve().parent / "results"


def read_results(name: str) -> dict:
    """`results/<name>.txt` as {"command": first line, "lines": all lines, "tables": [rows]},
    each table a list of {column: cell} dicts in the order printed."""
    lines = (RESULTS / f"{name}.txt").read_text().splitlines()
    tables, header = [], None
    for line in lines:
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            tables.append([])
        elif not set("".join(cells)) <= set("-:"):
            tables[-1].append(dict(zip(header, cells)))
    return {"command": lines[0], "lines": lines, "tables": tables}


def loss_bars(name: str, title: str, colors, baseline: bool = False):
    """A figure of `results/<name>.txt`'s first table: one bar of validation loss per variant,
    labelled with the loss (and, with `baseline`, its change from the first row) and the size;
    `colors(names)` gives the bar colours. The figures of the studies' chapters draw with it."""
    import matplotlib.figure

    results = read_results(name)
    rows = results["tables"][0]
    names = [r["variant"] for r in rows]
    losses = [float(r["val_loss"]) for r in rows]
    fig = matplotlib.figure.Figure(figsize=(8, 0.45 * len(rows) + 1.4))
    ax = fig.add_subplot()
    bars = ax.barh(names, losses, color=colors(names))
    ax.invert_yaxis()
    if baseline:
        # The baseline is the first row: every other bar differs from it in one choice.
        ax.axvline(losses[0], color="C2", linestyle="--", linewidth=1)
    for i, (bar, row) in enumerate(zip(bars, rows, strict=True)):
        change = f", {losses[i] - losses[0]:+.3f}" if baseline and i > 0 else ""
        label = f" {losses[i]:.3f}{change}  ({int(row['params']):,} params)"
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, label, va="center", fontsize=8)
    ax.set_xlim(min(losses) - 0.3, max(losses) + 0.45)
    ax.set_xlabel("validation loss, nats per byte (lower is better)")
    ax.set_title(title, fontsize=9)
    fig.text(0.01, 0.005, results["command"], fontsize=6, family="monospace", color="0.4")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def scaling(data) -> None:
    rows = run_grid(data)
    print(markdown_table(rows))
    law = fit_scaling_law(
        *(torch.tensor([float(r[k]) for r in rows]) for k in ("N", "D", "val_loss"))
    )
    print(
        f"\nfit: E={law.E:.3f} A={law.A:.1f} alpha={law.alpha:.3f} B={law.B:.1f} beta={law.beta:.3f}"
    )
    print(f"Chinchilla: {CHINCHILLA}")
    n, d = law.compute_optimal(1e13)
    print(
        f"compute-optimal at 1e13 FLOPs by our fit: N={n:.3g}, D={d:.3g} ({d / n:.1f} bytes per parameter)"
    )


def context_and_exit(data) -> None:
    cfg = LMConfig.llama(vocab_size=BYTE_VOCAB, d_model=64, n_layers=4, n_heads=4, max_seq_len=64)
    r = train_tiny(cfg, data, steps=300)
    print(f"trained at length 64: val loss {r.val_loss:.3f}\n")
    for factor in (2.0, 4.0):
        print(f"evaluated at length {int(64 * factor)} (factor {factor:g}):")
        print(markdown_table(context_extension_table(r.model, data[1], factor)))
        print()
    idx = torch.stack([data[1][i * 1000 : i * 1000 + 64] for i in range(16)])
    rows = [early_exit_savings(r.model, idx, t) for t in (0.2, 0.4, 0.6, 0.8, 0.9, 1.01)]
    print("early exit on the same model:")
    print(markdown_table(rows))
    mod = MixtureOfDepthsLM(r.model, capacity=0.125, every=2)
    print(
        f"\nmixture-of-depths, capacity 1/8 on every 2nd block: block FLOPs {mod.block_flops_fraction(64):.3f} of dense at T=64"
    )


def memory() -> None:
    model = LanguageModel(
        LMConfig.llama(
            vocab_size=4096,
            d_model=192,
            n_layers=4,
            n_heads=6,
            n_kv_heads=2,
            sliding_window=64,
            global_every=2,
        )
    ).eval()
    rows = [
        {"cache": k, "KiB": v / 1024}
        for k, v in measure_cache_memory(model, 512, n_sink=4, window=64).items()
    ]
    print("KV cache after 512 decoded tokens (capstone-size model, float32, window 64, 4 sinks):")
    print(markdown_table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="scaling,arch,act,context,exit,memory")
    args = parser.parse_args()
    torch.set_num_threads(1)
    parts = set(args.only.split(","))
    data = byte_data()
    t0 = time.time()
    if "memory" in parts:
        print("## memory patterns\n")
        memory()
    if "context" in parts or "exit" in parts:
        print("\n## context window and early exit\n")
        context_and_exit(data)
    if "arch" in parts:
        print("\n## architecture choices\n")
        print(markdown_table(compare_architectures(data)))
    if "act" in parts:
        print("\n## activations\n")
        print(markdown_table(compare_activations(data)))
    if "scaling" in parts:
        print("\n## scaling laws\n")
        scaling(data)
    print(f"\n(total {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
