"""Bandwidth of the Triton RMSNorm / LayerNorm (forward and forward+backward) against torch on a GPU.

    .venv/bin/python kernels/bench/norms.py [--dtype fp16] [--norm rms]

GB/s counts the bytes of x and y (forward), plus dy and dx (backward).
"""

# The timed lambdas are called inside the loop iteration that defines them.
# ruff: noqa: B023

import argparse

import torch
import torch.nn.functional as F
from _timing import DTYPES, need_cuda, time_ms

from masterclass.kernels.norms import layer_norm, rms_norm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=list(DTYPES), default="fp16")
    parser.add_argument("--norm", choices=["rms", "layer"], default="rms")
    args = parser.parse_args()
    need_cuda()
    dtype = DTYPES[args.dtype]
    for n in (1024, 4096, 8192):
        x = torch.randn(8192, n, device="cuda", dtype=dtype, requires_grad=True)
        w = torch.ones(n, device="cuda", dtype=dtype, requires_grad=True)
        b = torch.zeros(n, device="cuda", dtype=dtype, requires_grad=True)
        dy = torch.randn_like(x)
        if args.norm == "rms":
            ours_fn, ref_fn = (lambda: rms_norm(x, w)), (lambda: F.rms_norm(x, (n,), w))
        else:
            ours_fn, ref_fn = (lambda: layer_norm(x, w, b)), (lambda: F.layer_norm(x, (n,), w, b))
        torch.testing.assert_close(ours_fn(), ref_fn(), rtol=1e-2, atol=1e-2)
        nbytes = x.numel() * x.element_size()
        for name, mult, wrap in (
            ("fwd", 2, lambda f: f),
            ("fwd+bwd", 4, lambda f: lambda: f().backward(dy)),
        ):
            ours, ref = time_ms(wrap(ours_fn)), time_ms(wrap(ref_fn))
            gb = mult * nbytes / 1e9
            print(
                f"8192 x {n:5d} {name:8s} triton {gb / ours * 1e3:7.1f} GB/s  torch {gb / ref * 1e3:7.1f} GB/s  ratio {ref / ours:.2f}"
            )


if __name__ == "__main__":
    main()
