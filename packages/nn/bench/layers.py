"""Speed of our from-scratch layers relative to PyTorch's kernels, measured in the same run.

Run: `.venv/bin/python packages/nn/bench/layers.py`. Prints, for each layer, the median forward +
backward time of ours and of torch's, and the ratio ours / torch (lower is better; 1.0 = parity).
"""

import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from masterclass.nn.conv import conv2d
from masterclass.nn.normalization import LayerNorm, RMSNorm


def _time(fn, repeats: int = 20) -> float:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def _fwd_bwd(f, *inputs):
    def run():
        for t in inputs:
            t.grad = None
        f(*inputs).sum().backward()

    return run


def main() -> None:
    """Print one line per layer: ours, torch, ratio."""
    torch.manual_seed(0)
    x = torch.randn(32, 128, 512, requires_grad=True)
    ln_ours, ln_ref = LayerNorm(512), nn.LayerNorm(512)
    rms_ours, rms_ref = RMSNorm(512), nn.RMSNorm(512, eps=1e-6)
    img = torch.randn(16, 32, 32, 32, requires_grad=True)
    w = torch.randn(64, 32, 3, 3, requires_grad=True)
    cases = {
        "LayerNorm (32x128x512)": (_fwd_bwd(ln_ours, x), _fwd_bwd(ln_ref, x)),
        "RMSNorm (32x128x512)": (_fwd_bwd(rms_ours, x), _fwd_bwd(rms_ref, x)),
        "conv2d im2col 3x3 (16x32x32x32 -> 64)": (
            _fwd_bwd(lambda a, b: conv2d(a, b, padding=1), img, w),
            _fwd_bwd(lambda a, b: F.conv2d(a, b, padding=1), img, w),
        ),
    }
    print(f"{'layer':42s} {'ours ms':>9s} {'torch ms':>9s} {'ratio':>7s}")
    for name, (ours, ref) in cases.items():
        a, b = _time(ours), _time(ref)
        print(f"{name:42s} {1e3 * a:9.2f} {1e3 * b:9.2f} {a / b:7.2f}")


if __name__ == "__main__":
    main()
