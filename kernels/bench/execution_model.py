"""Coalescing measured: the tiled transpose against the naive one and `x.T.contiguous()`, in GB/s.

    .venv/bin/python kernels/bench/execution_model.py

Each transpose reads and writes the matrix once (2 x its bytes), after a check against torch.
"""

# The timed lambdas are called inside the loop iteration that defines them.
# ruff: noqa: B023

import torch
from _timing import time_ms

from masterclass.kernels.execution_model import transpose, transpose_naive


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


if __name__ == "__main__":
    main()
