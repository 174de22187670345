"""Bandwidth of the Triton vector add against `x + y` on a GPU, in GB/s (3 tensors moved).

.venv/bin/python kernels/bench/vector_add.py [--dtype fp32]
"""

# The timed lambdas are called inside the loop iteration that defines them.
# ruff: noqa: B023

import argparse

import torch
from _timing import DTYPES, need_cuda, time_ms

from masterclass.kernels.vector_add import vector_add


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=list(DTYPES), default="fp32")
    args = parser.parse_args()
    need_cuda()
    dtype = DTYPES[args.dtype]
    for n in (2**20, 2**24, 2**27):
        x, y = (torch.randn(n, device="cuda", dtype=dtype) for _ in range(2))
        assert torch.equal(vector_add(x, y), x + y)
        gb = 3 * n * x.element_size() / 1e9
        ours, ref = time_ms(lambda: vector_add(x, y)), time_ms(lambda: x + y)
        print(
            f"n=2^{n.bit_length() - 1}: triton {gb / ours * 1e3:7.1f} GB/s  torch {gb / ref * 1e3:7.1f} GB/s  ratio {ref / ours:.2f}"
        )


if __name__ == "__main__":
    main()
