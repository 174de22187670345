"""Warmup-stable-decay against warmup + cosine, at the same number of steps.

The time planner needs a schedule whose rate before the decay does not depend on the run's length
(warmup-stable-decay); this measures what that choice costs, if anything, against the cosine
schedule it replaced. Loss is a function of the step, not of the clock, so the comparison is exact
even on a busy machine. Both runs share one corpus, tokenizer and token shards (built once),
the same seed, batches and step count; only `train.schedule` differs. Prints the held-out bits per
byte of each and their ratio.

    uv run python capstone/bench/schedule.py [--steps 300] [--width 96] [--layers 3]
        [--fractions 0.2 0.35] [--corpus-bytes 3000000] [--vocab 1024]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from masterclass.capstone import cli


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--fractions", type=float, nargs="+", default=[0.2])
    p.add_argument("--corpus-bytes", type=int, default=3_000_000)
    p.add_argument("--vocab", type=int, default=1024)
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="schedule-bench-"))
    common = [
        "--preset", "small", "--device", "cpu", "--quiet",
        "--set", f"corpus.max_bytes={args.corpus_bytes}", "--set", "corpus.heldout_fraction=0.1",
        "--set", f"tokenizer.vocab_size={args.vocab}",
        "--set", f"model.d_model={args.width}", "--set", f"model.n_layers={args.layers}",
        "--set", "model.n_heads=4", "--set", "model.max_seq_len=128",
        "--set", "train.time_budget_s=0", "--set", f"train.steps={args.steps}",
        "--set", "train.warmup=30", "--set", f"train.eval_every={args.steps}",
        "--set", f"train.checkpoint_every={args.steps}", "--set", "evaluate.max_tokens=60000",
        "--set", "evaluate.kn_order=2", "--set", "evaluate.kn_max_train_bytes=10000",
        "--set", "benchmark.decode_tokens=64",
    ]  # fmt: skip
    base = root / "data"
    assert cli.main(["run", "--out", str(base), *common, "--until", "data"]) == 0
    variants = [("cosine", None)] + [("wsd", f) for f in args.fractions]
    results = {}
    for schedule, fraction in variants:
        name = schedule if fraction is None else f"wsd-{fraction:g}"
        out = root / name
        shutil.copytree(base, out)
        record = json.loads((out / "run.json").read_text())
        record["config"]["train"]["schedule"] = schedule
        if fraction is not None:
            record["config"]["train"]["decay_fraction"] = fraction
        (out / "run.json").write_text(json.dumps(record))
        start = time.perf_counter()
        assert cli.main(["resume", str(out), "--quiet", "--until", "evaluate"]) == 0
        ev = json.loads((out / "evaluate" / "metrics.json").read_text())
        results[name] = ev["model"]["bits_per_byte"]
        print(f"{name:<10} {results[name]:.4f} bits/byte   ({time.perf_counter() - start:.0f} s)")
    ref = results["cosine"]
    for name, bpb in results.items():
        print(f"{name:<10} / cosine = {bpb / ref:.4f}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
