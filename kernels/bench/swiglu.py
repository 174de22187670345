"""Bandwidth of the fused Triton SwiGLU (forward and forward+backward) against `F.silu(g) * u`.

    .venv/bin/python kernels/bench/swiglu.py [--dtype fp16]

GB/s counts g, u and h (forward), plus dh, dg and du (backward).
"""

# The timed lambdas are called inside the loop iteration that defines them.
# ruff: noqa: B023

import argparse

import torch
import torch.nn.functional as F
from _timing import DTYPES, need_cuda, time_ms

from masterclass.kernels.swiglu import swiglu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=list(DTYPES), default="fp16")
    args = parser.parse_args()
    need_cuda()
    dtype = DTYPES[args.dtype]
    for tokens in (4096, 16384, 65536):
        g, u = (
            torch.randn(tokens, 4096, device="cuda", dtype=dtype, requires_grad=True)
            for _ in range(2)
        )
        dh = torch.randn_like(g)
        torch.testing.assert_close(swiglu(g, u), F.silu(g) * u, rtol=1e-2, atol=1e-2)
        nbytes = g.numel() * g.element_size()
        for name, mult, ours_fn, ref_fn in (
            ("fwd", 3, lambda: swiglu(g, u), lambda: F.silu(g) * u),
            ("fwd+bwd", 6, lambda: swiglu(g, u).backward(dh), lambda: (F.silu(g) * u).backward(dh)),
        ):
            ours, ref = time_ms(ours_fn), time_ms(ref_fn)
            gb = mult * nbytes / 1e9
            print(
                f"{tokens:6d} x 4096 {name:8s} triton {gb / ours * 1e3:7.1f} GB/s  torch {gb / ref * 1e3:7.1f} GB/s  ratio {ref / ours:.2f}"
            )


if __name__ == "__main__":
    main()
