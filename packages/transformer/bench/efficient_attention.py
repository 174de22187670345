"""Wall-clock time of efficient attention against exact attention, as ratios measured in one run.

    .venv/bin/python packages/transformer/bench/efficient_attention.py [--lengths 1024 4096]

For each sequence length, times exact attention (torch's `scaled_dot_product_attention` and ours)
and the linear-time methods of this module on the same inputs, and prints each time as a ratio to
torch's SDPA (below 1 is faster). Non-causal, float32, batch 1, 4 heads of width 32, one thread
by default (multi-threaded timings are erratic on a shared machine).
"""

import argparse
import time

import torch
import torch.nn.functional as F

from masterclass.transformer.attention import scaled_dot_product_attention
from masterclass.transformer.linear_attention import linear_attention
from masterclass.transformer.linformer import linformer_attention
from masterclass.transformer.longformer import sliding_window_attention
from masterclass.transformer.performer import performer_attention


def _time(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _measure(T: int, H: int = 4, D: int = 32, r: int = 128) -> dict[str, float]:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, H, T, D, generator=g) for _ in range(3))
    E = torch.randn(r, T, generator=g) / r**0.5
    methods = {
        "torch SDPA (exact)": lambda: F.scaled_dot_product_attention(q, k, v),
        "ours, exact": lambda: scaled_dot_product_attention(q, k, v),
        "linear attention (elu+1)": lambda: linear_attention(q, k, v),
        "Performer m=128": lambda: performer_attention(
            q, k, v, 128, generator=torch.Generator().manual_seed(0)
        ),
        "sliding window w=64": lambda: sliding_window_attention(q, k, v, 64),
        "Linformer r=128": lambda: linformer_attention(q, k, v, E, E),
    }
    with torch.no_grad():
        return {name: _time(fn) for name, fn in methods.items()}


def main() -> None:
    """Print a table of time ratios against torch's SDPA."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'T':>6} {'method':<28} {'seconds':>9} {'vs SDPA':>8}")
    for T in args.lengths:
        times = _measure(T)
        base = times["torch SDPA (exact)"]
        for name, t in times.items():
            print(f"{T:>6} {name:<28} {t:>9.4f} {t / base:>8.2f}")


if __name__ == "__main__":
    main()
