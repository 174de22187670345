"""The Triton int8 dequantize-matmul against torch's fp16 matmul and its dequantize-then-matmul.

    .venv/bin/python kernels/bench/int8_matmul.py

Decode-sized products (M = 1..64 tokens against a 4096 x 4096 weight) are memory-bound: the
figure of merit is the weight's GB/s (1 byte per int8 weight, 2 per fp16 one).
"""

# The timed lambdas are called inside the loop iteration that defines them.
# ruff: noqa: B023

import argparse
import itertools

import torch
from _timing import need_cuda, time_ms

from masterclass.kernels.int8_matmul import int8_matmul, int8_matmul_reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    need_cuda()
    n = k = args.size
    w = torch.randn(n, k, device="cuda")
    scale = w.abs().amax(1) / 127
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    w16 = (q.float() * scale[:, None]).half()
    for m in (1, 16, 64):
        x = torch.randn(m, k, device="cuda", dtype=torch.float16)
        fp16 = time_ms(lambda: x @ w16.T)
        deq = time_ms(lambda: x @ (q.half() * scale.half()[:, None]).T)
        # At decode sizes the grid is what matters: N / BLOCK_N programs for 132 SMs. So every
        # block shape of a small sweep is checked and timed, and the fastest is reported.
        timed = {}
        for bn, bk in itertools.product((16, 32, 64), (64, 128, 256)):
            blocks = dict(block_m=16, block_n=bn, block_k=bk)
            torch.testing.assert_close(
                int8_matmul(x, q, scale, **blocks),
                int8_matmul_reference(x, q, scale),
                rtol=2e-2,
                atol=5e-1,
            )
            timed[bn, bk] = time_ms(lambda: int8_matmul(x, q, scale, **blocks))
        (bn, bk), ours = min(timed.items(), key=lambda item: item[1])
        print(
            f"M={m:3d}: int8 kernel {n * k / ours / 1e6:7.1f} GB/s of weights (block_n {bn}, block_k {bk}; "
            f"{n // bn} programs)  fp16 matmul ratio {fp16 / ours:.2f}"
            f"  dequantize-then-matmul ratio {deq / ours:.2f}"
        )


if __name__ == "__main__":
    main()
