"""TFLOP/s of the tiled Triton matmul against `torch.matmul` (cuBLAS) on a GPU.

.venv/bin/python kernels/bench/matmul.py [--dtype fp16] [--dtype fp32 --precision tf32]

For float32, `--precision` picks true float32 products (`ieee`, torch's default) or TF32 tensor
cores for both the kernel and cuBLAS (`torch.backends.cuda.matmul.allow_tf32`).
"""

# The timed lambdas are called inside the loop iteration that defines them.
# ruff: noqa: B023

import argparse

import torch
from _timing import DTYPES, need_cuda, time_ms

from masterclass.kernels.matmul import matmul


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=list(DTYPES), default="fp16")
    parser.add_argument("--precision", choices=["ieee", "tf32"], default="ieee")
    args = parser.parse_args()
    need_cuda()
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
    dtype = DTYPES[args.dtype]
    for size in (1024, 2048, 4096, 8192):
        a, b = (torch.randn(size, size, device="cuda", dtype=dtype) for _ in range(2))
        blocks = dict(block_m=128, block_n=128, block_k=32, group_m=8, precision=args.precision)
        torch.testing.assert_close(matmul(a, b, **blocks), a @ b, rtol=2e-2, atol=size**0.5 * 1e-2)
        tflop = 2 * size**3 / 1e12
        ours, ref = time_ms(lambda: matmul(a, b, **blocks)), time_ms(lambda: a @ b)
        print(
            f"{size:5d}^3: triton {tflop / ours * 1e3:7.1f} TFLOP/s  cuBLAS {tflop / ref * 1e3:7.1f} TFLOP/s  ratio {ref / ours:.2f}"
        )


if __name__ == "__main__":
    main()
