"""Efficient attention: error against exact softmax attention vs cost, and cost vs length."""

import matplotlib.figure
import torch

from masterclass.transformer.attention import scaled_dot_product_attention
from masterclass.transformer.linear_attention import linear_attention, linear_attention_flops
from masterclass.transformer.linformer import (
    linformer_attention,
    linformer_flops,
    segment_mean_projection,
)
from masterclass.transformer.longformer import sliding_window_attention, sliding_window_flops
from masterclass.transformer.performer import performer_attention, performer_flops

T, D = 256, 16


def _inputs():
    # Queries and keys from a smooth random sequence (an AR(1) process, correlation 0.9 between
    # neighbours), so that attention is mostly but not only local, as in trained models.
    g = torch.Generator().manual_seed(0)
    e = torch.randn(1, 2, T, D, generator=g, dtype=torch.float64)
    x = torch.zeros_like(e)
    for t in range(T):
        x[:, :, t] = (0.9 * x[:, :, t - 1] if t else 0) + 0.19**0.5 * e[:, :, t]
    q = k = x
    v = torch.randn(1, 2, T, D, generator=g, dtype=torch.float64)
    return q, k, v


def _draw() -> matplotlib.figure.Figure:
    """Left: relative error vs multiply-adds at T = 256. Right: multiply-adds vs T."""
    q, k, v = _inputs()
    exact = scaled_dot_product_attention(q, k, v)

    def err(y):
        return ((y - exact).norm() / exact.norm()).item()

    exact_cost = 2 * T * T * D
    fig = matplotlib.figure.Figure(figsize=(11, 4))
    left, right = fig.subplots(1, 2)
    ms = [8, 32, 128, 512, 2048]
    perf = [
        sum(
            err(performer_attention(q, k, v, m, generator=torch.Generator().manual_seed(s)))
            for s in range(3)
        )
        / 3
        for m in ms
    ]
    left.plot(
        [performer_flops(T, T, D, m) / exact_cost for m in ms],
        perf,
        "o-",
        label="Performer (m features)",
    )
    ws = [2, 8, 32, 64, 128]
    left.plot(
        [sliding_window_flops(T, D, w) / exact_cost for w in ws],
        [err(sliding_window_attention(q, k, v, w)) for w in ws],
        "s-",
        label="sliding window (w each side)",
    )
    rs = [4, 16, 64, 128, 256]
    left.plot(
        [linformer_flops(T, T, D, r) / exact_cost for r in rs],
        [
            err(
                linformer_attention(
                    q, k, v, segment_mean_projection(r, T), segment_mean_projection(r, T)
                )
            )
            for r in rs
        ],
        "^-",
        label="Linformer, mean-pooled (r rows)",
    )
    left.plot(
        [linear_attention_flops(T, T, D, D) / exact_cost],
        [err(linear_attention(q, k, v))],
        "kx",
        ms=9,
        label="linear attention, elu+1 (another kernel)",
    )
    left.axvline(1.0, color="gray", ls=":", label="exact attention's cost")
    left.set(
        xscale="log",
        xlabel="multiply-adds / exact attention's",
        ylabel="relative error of the output",
        title=f"error vs cost, T = {T}, D = {D}",
    )
    left.legend(fontsize=7)
    left.grid(alpha=0.3, which="both")
    Ts = [256, 1024, 4096, 16384, 65536]
    right.loglog(Ts, [2 * t * t * D for t in Ts], "k-", label="exact  2T²D")
    right.loglog(Ts, [performer_flops(t, t, D, 256) for t in Ts], "o-", label="Performer m = 256")
    right.loglog(Ts, [sliding_window_flops(t, D, 64) for t in Ts], "s-", label="window w = 64")
    right.loglog(Ts, [linformer_flops(t, t, D, 256) for t in Ts], "^-", label="Linformer r = 256")
    right.set(xlabel="sequence length T", ylabel="multiply-adds", title="cost vs length (D = 16)")
    right.legend(fontsize=7)
    right.grid(alpha=0.3, which="both")
    return fig


def figure() -> matplotlib.figure.Figure:
    """Draw with one torch thread (these tiny tensors run fastest on one), restoring the setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _draw()
    finally:
        torch.set_num_threads(threads)
