"""Structured pruning speed: FFN neurons removed, forward time against the dense model.

Run: `python packages/deploy/bench/pruning.py [--keep 0.5 0.25] [--tokens 256]`.
The capstone's `base` model size with random weights (speed does not depend on the weights);
each pruned model is timed against the dense one in the same run (median of 20 forwards).
"""

import argparse
import copy
import statistics
import time

import torch

from masterclass.deploy.pruning import prune_ffn_neurons
from masterclass.llm import LanguageModel, LMConfig


def _time(model, x, reps=20) -> float:
    with torch.no_grad():
        model(x)
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            model(x)
            ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", type=float, nargs="+", default=[0.5, 0.25])
    p.add_argument("--tokens", type=int, default=256)
    a = p.parse_args()
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=4096, d_model=384, n_layers=6, n_heads=6, max_seq_len=512)
    dense = LanguageModel(cfg).eval()
    x = torch.randint(0, 4096, (1, a.tokens))
    calib = torch.randint(0, 4096, (4, 64))
    base = _time(dense, x)
    print(f"forward of {a.tokens} tokens, d_model 384, 6 layers, d_ff {cfg.d_ff}")
    print(f"{'model':<24}{'params (M)':>12}{'ms':>10}{'speedup':>10}")
    print(f"{'dense':<24}{dense.num_parameters() / 1e6:>12.2f}{base * 1e3:>10.1f}{1.0:>10.2f}")
    for keep in a.keep:
        small = prune_ffn_neurons(copy.deepcopy(dense), keep, calib)
        t = _time(small, x)
        label = f"FFN neurons kept {keep:.0%}"
        print(f"{label:<24}{small.num_parameters() / 1e6:>12.2f}{t * 1e3:>10.1f}{base / t:>10.2f}")


if __name__ == "__main__":
    main()
