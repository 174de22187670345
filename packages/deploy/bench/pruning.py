"""Structured pruning speed: FFN neurons and attention heads removed, against the dense model.

Run: `python packages/deploy/bench/pruning.py [--keep 0.5 0.25] [--tokens 256] [--reps 20]
[--threads 1]`.
The capstone's `base` model size with random weights (speed does not depend on the weights);
each pruned model is timed against the dense one in the same run: the two forwards alternate,
`--reps` pairs, and the speedup is the median of the per-pair ratios, so that a load that changes
during the run (a shared machine) moves both sides of each ratio alike.
"""

import argparse
import copy
import statistics
import time

import torch

from masterclass.deploy.pruning import prune_attention_heads, prune_ffn_neurons
from masterclass.llm import LanguageModel, LMConfig


def _paired(dense, small, x, reps=20) -> tuple[float, float, float]:
    """Median seconds of `dense` and `small` on `x`, and the median of their per-pair ratios."""
    with torch.no_grad():
        dense(x), small(x)
        td, ts = [], []
        for _ in range(reps):
            for model, out in ((dense, td), (small, ts)):
                t = time.perf_counter()
                model(x)
                out.append(time.perf_counter() - t)
    ratio = statistics.median(d / s for d, s in zip(td, ts))
    return statistics.median(td), statistics.median(ts), ratio


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", type=float, nargs="+", default=[0.5, 0.25])
    p.add_argument("--tokens", type=int, default=256)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (1: robust under load)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=4096, d_model=384, n_layers=6, n_heads=6, max_seq_len=512)
    dense = LanguageModel(cfg).eval()
    x = torch.randint(0, 4096, (1, a.tokens))
    calib = torch.randint(0, 4096, (4, 64))
    print(f"forward of {a.tokens} tokens, d_model 384, 6 layers, d_ff {cfg.d_ff}, 6 heads (MHA)")
    print(f"{a.reps} alternating pairs, {a.threads} thread(s); speedup = median per-pair ratio")
    print(f"{'model':<24}{'params (M)':>12}{'ms':>10}{'dense ms':>10}{'speedup':>10}")
    print(f"{'dense':<24}{dense.num_parameters() / 1e6:>12.2f}")
    # Each variant: FFN neurons alone, attention heads alone, and both at the same fraction.
    for keep in a.keep:
        variants = {
            f"FFN neurons kept {keep:.0%}": lambda m, k=keep: prune_ffn_neurons(m, k, calib),
            f"heads kept {keep:.0%}": lambda m, k=keep: prune_attention_heads(m, k, calib),
            f"both kept {keep:.0%}": lambda m, k=keep: prune_attention_heads(
                prune_ffn_neurons(m, k, calib), k, calib
            ),
        }
        for label, prune in variants.items():
            small = prune(copy.deepcopy(dense))
            td, ts, ratio = _paired(dense, small, x, a.reps)
            params = small.num_parameters() / 1e6
            print(f"{label:<24}{params:>12.2f}{ts * 1e3:>10.1f}{td * 1e3:>10.1f}{ratio:>10.2f}")


if __name__ == "__main__":
    main()
