"""Where each entry of a fused checkpoint tensor goes: GPT-2's `c_attn` and BLOOM's rows."""

import matplotlib.figure
import torch

from masterclass.transformer.hf_weights import Link, theirs_to_ours


def figure() -> matplotlib.figure.Figure:
    """GPT-2's (in, out) `c_attn` colored by output column, its transpose, and the three blocks
    `theirs_to_ours` cuts from it; then BLOOM's (head, q/k/v, d) row order against the stack."""
    C = 8
    fig = matplotlib.figure.Figure(figsize=(13, 3.8), layout="constrained")
    ax_conv, ax_t, ax_ours, ax_bloom = fig.subplots(1, 4, width_ratios=[3, 1.2, 1.2, 1.4])
    # Each entry of c_attn holds the index of its output column, so a block keeps its colour
    # wherever the conversion moves it.
    c_attn = torch.arange(3 * C, dtype=torch.float32).expand(C, 3 * C)  # (in, out)
    link = Link(("q", "k", "v"), "c_attn", transpose=True)
    ours = theirs_to_ours({"c_attn": c_attn}, [link])
    gap = torch.full((1, C), float("nan"))
    stacked = torch.cat([ours["q"], gap, ours["k"], gap, ours["v"]])  # (3C + 2, C)
    style = dict(cmap="viridis", vmin=0, vmax=3 * C - 1, interpolation="nearest")
    ax_conv.imshow(c_attn.numpy(), **style)
    ax_conv.set(title="HF GPT-2 c_attn, Conv1D (in, out)", xlabel="out (q | k | v)", ylabel="in")
    ax_t.imshow(c_attn.T.numpy(), **style)
    ax_t.set(title="transposed (out, in)", xlabel="in", ylabel="out")
    ax_ours.imshow(stacked.numpy(), **style)
    ax_ours.set(title="ours: q, k, v (out, in)", xlabel="in", yticks=[])
    # BLOOM: rows (head, q/k/v, d) with H = 4, D = 2; the stack orders them (q/k/v, head, d).
    H, D = 4, 2
    role = torch.arange(3).repeat_interleave(D).repeat(H)  # (3 H D,) q/k/v of each BLOOM row
    head = torch.arange(H).repeat_interleave(3 * D)  # (3 H D,) head of each BLOOM row
    order = torch.argsort(role * H + head, stable=True)  # BLOOM row of each stacked row
    ax_bloom.imshow(torch.stack([role, role[order]], dim=1).numpy(), cmap="Set2",
                    aspect="auto", interpolation="nearest")  # fmt: skip
    ax_bloom.set(
        title="BLOOM rows vs stacked\n(colour: q, k, v)",
        xticks=[0, 1],
        xticklabels=["BLOOM", "ours"],
        ylabel="row",
    )
    return fig
