"""The activation functions of LLM feed-forward networks, and their derivatives."""

import torch
from matplotlib.figure import Figure

from masterclass.transformer.feedforward import ACTIVATIONS


def figure() -> Figure:
    """GELU (tanh), SiLU and ReLU² on [-4, 3], values and autograd derivatives."""
    x = torch.linspace(-4, 3, 400, requires_grad=True)
    fig = Figure(figsize=(8, 3.2))
    ax_f, ax_d = fig.subplots(1, 2)
    for name in ("gelu_tanh", "silu", "relu2"):
        y = ACTIVATIONS[name](x)
        (dy,) = torch.autograd.grad(y.sum(), x)
        ax_f.plot(x.detach(), y.detach(), label=name)
        ax_d.plot(x.detach(), dy, label=name)
    ax_f.set_ylim(-1, 4)
    ax_d.set_ylim(-0.5, 3)
    ax_f.set_title(r"$\phi(x)$")
    ax_d.set_title(r"$\phi'(x)$")
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.legend()
    fig.tight_layout()
    return fig
