r"""# What int8 rounding does to a layer's output

Per-channel int8 quantization of a $512 \times 192$ matrix (the shape of the default model's
SwiGLU up-projection), applied to 200 random inputs. Left: the rounding error of each weight,
in units of its row's step $s_j$, is spread evenly over $[-\tfrac12, \tfrac12]$. Right: the error
of each output against the worst case $\tfrac{s_j}{2}\lVert x\rVert_1$ of the quantization
chapter; the errors of different weights have both signs and mostly cancel, so the output error
is near its standard deviation $s_j \lVert x \rVert_2 / \sqrt{12}$, typically twenty times or more below
the bound.
"""

from __future__ import annotations

import math

import torch
from matplotlib.figure import Figure

from masterclass.deploy.quantization import dequantize_weight, quantize_weight


def figure() -> Figure:
    """Weight rounding errors in steps, and output errors against the worst-case bound."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(512, 192, generator=g) * 0.02  # (C_out, C_in)
    q, scale = quantize_weight(w)  # (C_out, C_in) int8, (C_out, 1)
    error = dequantize_weight(q, scale) - w  # (C_out, C_in)
    x = torch.randn(200, 192, generator=g)  # (B, C_in)
    out_error = (x @ error.T).abs()  # (B, C_out)
    bound = scale.T / 2 * x.abs().sum(1, keepdim=True)  # (B, C_out)
    typical = scale.T * x.norm(dim=1, keepdim=True) / math.sqrt(12)  # (B, C_out)

    fig = Figure(figsize=(9.6, 3.6))
    left, right = fig.subplots(1, 2)
    left.hist((error / scale).flatten().numpy(), bins=50, color="tab:blue")
    left.set_xlabel("rounding error of a weight / its row's step $s_j$")
    left.set_ylabel("weights")
    left.grid(alpha=0.3)
    right.scatter(bound.flatten()[::20].numpy(), out_error.flatten()[::20].numpy(), s=3, alpha=0.4)
    top = float(bound.max())
    right.plot([0, top], [0, top], "k--", label="worst case $s_j \\|x\\|_1 / 2$")
    right.plot(
        bound.flatten().sort().values.numpy(),
        (typical / bound).mean().item() * bound.flatten().sort().values.numpy(),
        color="tab:orange",
        label="typical $s_j \\|x\\|_2 / \\sqrt{12}$",
    )
    right.set_xlabel("worst-case output error")
    right.set_ylabel("actual output error")
    right.grid(alpha=0.3)
    right.legend()
    return fig
