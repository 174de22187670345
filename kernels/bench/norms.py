"""Bandwidth of the Triton RMSNorm / LayerNorm (forward and forward+backward) against torch on a GPU.

    .venv/bin/python kernels/bench/norms.py [--dtype fp16] [--norm rms]

GB/s counts the bytes of x and y (forward), plus dy and dx (backward).
"""

# The timed lambdas are called inside the loop iteration that defines them.
# ruff: noqa: B023

import argparse

import torch
import torch.nn.functional as F

from masterclass.kernels.norms import layer_norm, rms_norm

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def time_ms(fn, repeats: int = 50) -> float:
    """Median milliseconds of `fn()` (CUDA events) over `repeats` runs after 3 warm-up runs."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def need_cuda() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA device (the kernels compile for the GPU)")


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
