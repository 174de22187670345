"""Gradient norm per layer through 50 tanh layers, plain vs residual (residual.py)."""

import matplotlib.figure

from masterclass.nn.residual import gradient_norms_by_depth


def figure() -> matplotlib.figure.Figure:
    """Log-scale gradient norm against layer index for both stacks."""
    fig = matplotlib.figure.Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    for residual, label in ((False, "plain"), (True, "residual")):
        norms = gradient_norms_by_depth(residual, depth=50)
        ax.plot(range(1, len(norms) + 1), [max(n, 1e-30) for n in norms], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layer (input side = 1)")
    ax.set_ylabel(r"$\|\partial L / \partial x_\ell\|$")
    ax.set_title("Gradient flow through 50 layers")
    ax.legend()
    fig.tight_layout()
    return fig
