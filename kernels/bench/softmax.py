"""Bandwidth of the fused Triton softmax against `torch.softmax` on a GPU, in GB/s (read + write).

.venv/bin/python kernels/bench/softmax.py [--dtype fp16]
"""

# The timed lambdas are called inside the loop iteration that defines them.
# ruff: noqa: B023

import argparse

import torch
from _timing import DTYPES, need_cuda, time_ms

from masterclass.kernels.softmax import softmax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=list(DTYPES), default="fp16")
    args = parser.parse_args()
    need_cuda()
    dtype = DTYPES[args.dtype]
    for n in (256, 1024, 4096, 16384):
        x = torch.randn(8192, n, device="cuda", dtype=dtype)
        torch.testing.assert_close(
            softmax(x), torch.softmax(x.float(), -1).to(dtype), rtol=1e-2, atol=1e-3
        )
        gb = 2 * x.numel() * x.element_size() / 1e9
        ours, ref = time_ms(lambda: softmax(x)), time_ms(lambda: torch.softmax(x, -1))
        print(
            f"8192 x {n:6d}: triton {gb / ours * 1e3:7.1f} GB/s  torch {gb / ref * 1e3:7.1f} GB/s  ratio {ref / ours:.2f}"
        )


if __name__ == "__main__":
    main()
