"""Relative error of a quantized linear layer against bits, for three granularities."""

import torch
from matplotlib.figure import Figure

from masterclass.deploy.quantization import dequantize_weight, quantize_weight


def figure() -> Figure:
    """Plot ||(W - Ŵ) x|| / ||W x|| for per-tensor, per-channel and per-group (32) scales."""
    g = torch.Generator().manual_seed(0)
    # Rows of uneven scale, as in trained layers, where one scale per tensor suffers most.
    w = torch.randn(256, 256, generator=g) * torch.logspace(-1, 0.5, 256)[:, None]
    x = torch.randn(256, 64, generator=g)
    ref = w @ x
    bits = list(range(2, 9))

    def error(w_hat: torch.Tensor) -> float:
        return float((ref - w_hat @ x).norm() / ref.norm())

    curves = {
        "per tensor": [
            error(dequantize_weight(*quantize_weight(w.reshape(1, -1), bits=b)).reshape(w.shape))
            for b in bits
        ],
        "per output channel": [error(dequantize_weight(*quantize_weight(w, bits=b))) for b in bits],
        "per group of 32": [
            error(dequantize_weight(*quantize_weight(w, bits=b, group_size=32))) for b in bits
        ],
    }
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    for name, errs in curves.items():
        ax.semilogy(bits, errs, marker="o", label=name)
    ax.set_xlabel("bits per weight")
    ax.set_ylabel("relative output error")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig
