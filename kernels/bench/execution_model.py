"""Coalescing measured: transposes, and reads `stride` elements apart, in GB/s.

    .venv/bin/python kernels/bench/execution_model.py

Each transpose reads and writes the matrix once (2 x its bytes), after a check against torch:
the tiled one, the naive one and `x.T.contiguous()`. Then `gather_strided` copies `x[::stride]`
out of a 1 GiB float32 vector, against torch's `x[::stride].contiguous()`; its GB/s count only
the useful bytes (each element read once and written once), so the sectors wasted by a stride
show as a lower rate.
"""

# The timed lambdas are called inside the loop iteration that defines them.
# ruff: noqa: B023

import torch
import triton
from _timing import time_ms

from masterclass.kernels.execution_model import gather_strided, transpose, transpose_naive


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA device (the kernels compile for the GPU)")
    for n in (2048, 8192):
        x = torch.randn(n, n, device="cuda")
        assert torch.equal(transpose(x), x.T.contiguous())
        assert torch.equal(transpose_naive(x), x.T.contiguous())
        gb = 2 * x.numel() * x.element_size() / 1e9
        tiled, naive = time_ms(lambda: transpose(x)), time_ms(lambda: transpose_naive(x))
        ref = time_ms(lambda: x.T.contiguous())
        print(
            f"{n}^2: tiled {gb / tiled * 1e3:7.1f} GB/s  naive {gb / naive * 1e3:7.1f} GB/s  "
            f"torch {gb / ref * 1e3:7.1f} GB/s  tiled / naive speedup {naive / tiled:.2f}"
        )
    x = torch.randn(2**28, device="cuda")
    base = None
    for stride in (1, 2, 4, 8, 16, 32):
        assert torch.equal(gather_strided(x, stride), x[::stride])
        gb = 2 * triton.cdiv(x.numel(), stride) * x.element_size() / 1e9
        ours, ref = (
            time_ms(lambda: gather_strided(x, stride)),
            time_ms(lambda: x[::stride].contiguous()),
        )
        base = base or gb / ours
        print(
            f"stride {stride:2d}: gather {gb / ours * 1e3:7.1f} useful GB/s  torch {gb / ref * 1e3:7.1f}"
            f"  of stride 1: {gb / ours / base:.2f} (sector model: 1/8 of the read from stride 8)"
        )


if __name__ == "__main__":
    main()
