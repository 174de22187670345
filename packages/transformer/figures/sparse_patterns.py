"""Sparse attention patterns (strided, fixed) and the measured number of scores against T."""

import math

import matplotlib.figure
import torch

from masterclass.transformer.sparse_attention import fixed_pattern, score_entries, strided_pattern


def figure() -> matplotlib.figure.Figure:
    """Two pattern images at T = 64, then scores computed vs T for dense and block-sparse."""
    fig = matplotlib.figure.Figure(figsize=(12, 3.6))
    ax_s, ax_f, ax_n = fig.subplots(1, 3)
    local, strided = strided_pattern(64, 8)
    block, summary = fixed_pattern(64, 8, 2)
    for ax, (a, b), title in (
        (ax_s, (local, strided), "strided, l = 8"),
        (ax_f, (block, summary), "fixed, l = 8, c = 2"),
    ):
        ax.imshow((a.int() + 2 * b.int()).numpy(), cmap="Blues", interpolation="nearest")
        ax.set(title=title, xlabel="key j", ylabel="query i")
    Ts = [64, 256, 1024, 4096]
    dense, strided_n, fixed_n = [], [], []
    for T in Ts:
        l = math.isqrt(T)
        dense.append(T * (T + 1) // 2)
        strided_n.append(score_entries(torch.logical_or(*strided_pattern(T, l)), block=8))
        fixed_n.append(score_entries(torch.logical_or(*fixed_pattern(T, l, 1)), block=8))
    ax_n.loglog(Ts, dense, marker="o", label="dense causal  T(T+1)/2")
    ax_n.loglog(Ts, strided_n, marker="o", label="strided, block-sparse")
    ax_n.loglog(Ts, fixed_n, marker="o", label="fixed, block-sparse")
    ax_n.set(
        xlabel="sequence length T",
        ylabel="scores computed",
        title="measured cost, l = √T, tiles of 8",
    )
    ax_n.legend(fontsize=8)
    ax_n.grid(alpha=0.3, which="both")
    return fig
