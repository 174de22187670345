"""Peak memory of flash attention (PyTorch) against naive attention at sequence length 4,096.

Each variant runs forward and backward in a fresh subprocess; the peak resident set size of that
process (`ru_maxrss`, a high-water mark kept by the kernel) minus that of a baseline process that
only builds the inputs is the memory the attention itself needed. Target: flash <= 1/4 of naive.

    .venv/bin/python packages/llm/bench/flash_memory.py [--seq 4096] [--heads 8] [--dim 64]
"""

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, torch
from masterclass.llm.flash_attention import flash_attention, naive_attention
variant, B, H, T, D = sys.argv[1], *map(int, sys.argv[2:6])
torch.set_num_threads(1)
torch.manual_seed(0)
q, k, v = (torch.randn(B, H, T, D, requires_grad=True) for _ in range(3))
if variant != "baseline":
    fn = naive_attention if variant == "naive" else flash_attention
    out = fn(q, k, v, True)
    out.sum().backward()
print(json.dumps({"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def peak_kib(variant: str, b: int, h: int, t: int, d: int) -> int:
    """Peak RSS in KiB of a subprocess running `variant` (baseline, naive or flash)."""
    res = subprocess.run(
        [sys.executable, "-c", CHILD, variant, str(b), str(h), str(t), str(d)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])["maxrss_kib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    shape = (args.batch, args.heads, args.seq, args.dim)
    base = peak_kib("baseline", *shape)
    naive = peak_kib("naive", *shape) - base
    flash = peak_kib("flash", *shape) - base
    print(f"shape (B, H, T, D) = {shape}, causal, forward + backward, float32")
    print(f"naive attention: {naive / 1024:8.1f} MiB above baseline")
    print(f"flash attention: {flash / 1024:8.1f} MiB above baseline")
    print(f"ratio flash / naive: {flash / naive:.3f}  (target <= 0.25)")


if __name__ == "__main__":
    main()
