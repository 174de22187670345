"""Throughput of the Triton flash attention against `F.scaled_dot_product_attention` on a GPU.

For each sequence length it checks that the kernel agrees with SDPA, then times forward and
forward+backward (CUDA events, median of `--repeats`) and prints TFLOP/s and the ratio ours / SDPA.
FLOPs are counted as $4 B H T_q T_k D$ for the forward (two matrix products), halved when causal,
and 2.5x the forward for forward+backward (the backward recomputes $QK^\\top$ and does four more
products), the convention of the FlashAttention papers.

    .venv/bin/python kernels/bench/flash_attention.py [--dtype fp16] [--causal] [--head-dim 64]
"""

import argparse

import torch
import torch.nn.functional as F
from _timing import time_ms

from masterclass.kernels.flash_attention import flash_attention


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["fp16", "bf16"], default="fp16")
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument(
        "--tokens", type=int, default=16384, help="batch x sequence length, kept fixed"
    )
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA device (the CPU tests use the interpreter)")
    dtype = torch.float16 if args.dtype == "fp16" else torch.bfloat16
    print(
        f"{torch.cuda.get_device_name()}  dtype={args.dtype} causal={args.causal} H={args.heads} D={args.head_dim}"
    )
    print(
        f"{'T':>6} {'B':>3} | {'fwd ours':>9} {'fwd SDPA':>9} {'ratio':>6} | {'f+b ours':>9} {'f+b SDPA':>9} {'ratio':>6}  (TFLOP/s)"
    )
    for T in (512, 1024, 2048, 4096, 8192):
        B = max(1, args.tokens // T)
        tf = bench_length(B, args.heads, T, args.head_dim, dtype, args.causal, args.repeats)
        print(
            f"{T:>6} {B:>3} | {tf[0]:>9.1f} {tf[1]:>9.1f} {tf[0] / tf[1]:>5.2f}x | {tf[2]:>9.1f} {tf[3]:>9.1f} {tf[2] / tf[3]:>5.2f}x"
        )


def bench_length(
    B: int, H: int, T: int, D: int, dtype: torch.dtype, causal: bool, repeats: int
) -> list[float]:
    """TFLOP/s of [forward ours, forward SDPA, fwd+bwd ours, fwd+bwd SDPA] at one shape."""
    q, k, v = (
        torch.randn(B, H, T, D, device="cuda", dtype=dtype, requires_grad=True) for _ in range(3)
    )
    err = (
        (
            flash_attention(q, k, v, causal)
            - F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        )
        .abs()
        .max()
        .item()
    )
    if err > 2e-2:
        raise SystemExit(f"T={T}: max |ours - SDPA| = {err:.3g}, refusing to time a wrong kernel")
    flops = 4 * B * H * T * T * D * (0.5 if causal else 1.0)
    grad = torch.randn_like(q)

    def fwd_ours():
        with torch.no_grad():
            flash_attention(q, k, v, causal)

    def fwd_sdpa():
        with torch.no_grad():
            F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def fb_ours():
        torch.autograd.grad(flash_attention(q, k, v, causal), (q, k, v), grad)

    def fb_sdpa():
        torch.autograd.grad(
            F.scaled_dot_product_attention(q, k, v, is_causal=causal), (q, k, v), grad
        )

    runs = ((fwd_ours, 1.0), (fwd_sdpa, 1.0), (fb_ours, 2.5), (fb_sdpa, 2.5))
    return [flops * m / (time_ms(fn, repeats) * 1e-3) / 1e12 for fn, m in runs]


if __name__ == "__main__":
    main()
