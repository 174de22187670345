"""Which default preset? Candidates trained for the same wall-clock budget, side by side.

The default preset should be the one that reaches the lowest held-out bits per byte in the time a
user gives it, on the machine the user has. This script measures that: it makes one run folder up
to the data stage (corpus, tokenizer, shards) per vocabulary, then trains each candidate on those very shards for
the same time budget and scores it on the whole held-out split. Two candidates train at once, one
thread each: each has one core and a neighbour that keeps the other busy, which is the `busy`
condition of `bench/headline.py`. Candidates with the same vocabulary share one data stage.

    uv run python capstone/bench/preset.py runs/presets [--budget 480] [--only NAME ...]

Each line reads: held-out bits per byte, the steps the time plan reached, its seconds per step,
and the candidate's overrides of the default preset (every candidate trains at batch 16 unless
its name gives a batch). The results of a run are kept in
`bench/results/preset.txt`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# name -> overrides of the default preset, as `--set` assignments.
# Each names its vocabulary: candidates with the same one share a data stage. Heads are 32 wide
# except where the name says 2 heads (of 64 at width 128, of 48 at width 96).
CANDIDATES: dict[str, list[str]] = {
    "width 192, vocab 4096": ["model.d_model=192", "model.n_heads=6", "tokenizer.vocab_size=4096"],
    "width 128, vocab 4096": ["model.d_model=128", "model.n_heads=4", "tokenizer.vocab_size=4096"],
    "width 128, vocab 2048": ["model.d_model=128", "model.n_heads=4", "tokenizer.vocab_size=2048"],
    "width 128, vocab 1024": ["model.d_model=128", "model.n_heads=4", "tokenizer.vocab_size=1024"],
    "width 96, vocab 2048": ["model.d_model=96", "model.n_heads=3", "tokenizer.vocab_size=2048"],
    "width 128, vocab 2048, 2 heads": [
        "model.d_model=128",
        "model.n_heads=2",
        "tokenizer.vocab_size=2048",
    ],
    "width 96, vocab 2048, 2 heads": [
        "model.d_model=96",
        "model.n_heads=2",
        "tokenizer.vocab_size=2048",
    ],
    "width 128, vocab 2048, 2 heads, 3 layers": [
        "model.d_model=128",
        "model.n_heads=2",
        "model.n_layers=3",
        "tokenizer.vocab_size=2048",
    ],
    "width 128, vocab 2048, 2 heads, batch 8": [
        "model.d_model=128",
        "model.n_heads=2",
        "train.batch_size=8",
        "tokenizer.vocab_size=2048",
    ],
    "width 128, vocab 2048, 2 heads, batch 4": [
        "model.d_model=128",
        "model.n_heads=2",
        "train.batch_size=4",
        "tokenizer.vocab_size=2048",
    ],
    "width 96, vocab 2048, 2 heads, batch 8": [
        "model.d_model=96",
        "model.n_heads=2",
        "train.batch_size=8",
        "tokenizer.vocab_size=2048",
    ],
    "width 128, vocab 2048, 2 heads, context 128": [
        "model.d_model=128",
        "model.n_heads=2",
        # The same tokens per step in windows half as long; the benchmark's prompt and decode
        # must fit the shorter context for the config to validate.
        "model.max_seq_len=128",
        "train.batch_size=32",
        "benchmark.decode_tokens=96",
        "tokenizer.vocab_size=2048",
    ],
    "width 128, vocab 2048, lr 6e-3": [
        "model.d_model=128",
        "model.n_heads=4",
        "tokenizer.vocab_size=2048",
        "train.lr=6e-3",
        "train.min_lr=6e-4",
    ],
}


def _capstone(*args: str) -> None:
    # One `capstone` command in its own process (each candidate gets its own torch).
    command = [sys.executable, "-m", "masterclass.capstone", *args, "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")


def _data_folder(root: Path, sets: list[str]) -> Path:
    # The data stage for the candidate's vocabulary, made once per vocabulary.
    (vocab,) = [s for s in sets if s.startswith("tokenizer.vocab_size=")]
    folder = root / f"data-{vocab.split('=')[1]}"
    if not (folder / "data").is_dir():
        _capstone("run", "--until", "data", "--out", str(folder), *_flags([vocab]))
    return folder


def _flags(sets: list[str]) -> list[str]:
    return [flag for s in sets for flag in ("--set", s)]


def _train(root: Path, name: str, sets: list[str], budget: float) -> dict:
    # A new run folder with the candidate's config, holding the data folder's finished stages
    # (hard links: the shards are read, never written), then its train stage.
    from masterclass.capstone.config import apply_overrides, build_config
    from masterclass.capstone.pipeline import STAGES
    from masterclass.capstone.run_folder import RunFolder

    data = RunFolder.open(_data_folder(root, sets))
    out = root / name.replace(" ", "").replace(",", "-")
    # Every candidate was measured at batch 16 unless its name says otherwise (the default's
    # batch until round 5 chose 8), so a result keeps its meaning after the default moved.
    fixed = ["train.threads=1", f"train.time_budget_s={budget}", "train.batch_size=16"]
    cfg = build_config(sets=[*fixed, *sets])
    apply_overrides(cfg, {"out": str(out)}, source="preset bench")
    run = RunFolder.create(out, cfg.to_dict())
    for stage in STAGES[: STAGES.index("train")]:
        shutil.copytree(data.stage_path(stage), run.stage_path(stage), copy_function=os.link)
        run.record["stages"][stage] = data.record["stages"][stage]
    run.save_record()
    start = time.perf_counter()
    _capstone("stage", "train", str(out))
    wall = time.perf_counter() - start
    return {"name": name, "sets": sets, "wall_s": wall, **_score(out)}


def _score(out: Path) -> dict:
    # The whole held-out split, in bits per byte, as the evaluate stage measures it.
    import torch

    from masterclass.capstone.measure import heldout_nll, token_bytes_table
    from masterclass.capstone.run_folder import RunFolder

    torch.set_num_threads(1)
    run = RunFolder.open(out)
    scored = heldout_nll(
        run.load_model("cpu"),
        run.heldout_stream(),
        run.config["model"]["max_seq_len"],
        token_bytes=token_bytes_table(run.load_tokenizer()),
        batch_size=16,
        device="cpu",
    )
    train = run.stage_metrics("train")
    return {
        "bpb": scored["bits_per_byte"],
        "steps": train["steps"],
        "s_per_step": train["seconds_per_step_measured"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a new folder for the runs")
    parser.add_argument("--budget", type=float, default=480.0, help="training seconds each")
    parser.add_argument("--only", nargs="+", choices=list(CANDIDATES), help="candidates to run")
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    names = args.only or list(CANDIDATES)
    # Data folders first, one at a time, so the training pairs start together.
    for name in names:
        _data_folder(args.root, CANDIDATES[name])
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(_train, args.root, n, CANDIDATES[n], args.budget) for n in names]
        for job in jobs:
            r = job.result()
            print(
                f"{r['name']:24s} {r['bpb']:.3f} bits/byte  {r['steps']:5d} steps  "
                f"{r['s_per_step']:.3f} s/step  {' '.join(r['sets']) or '(the default)'}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
