r"""# Figure: the SVD maps the unit circle to an ellipse

The right singular vectors $v_i$ on the circle land on the ellipse's semi-axes $\sigma_i u_i$."""

import matplotlib.figure
import numpy as np

from masterclass.linalg.svd import svd


def figure() -> matplotlib.figure.Figure:
    r"""Two panels: the unit circle with $v_1, v_2$; its image under $A$ with $\sigma_i u_i$."""
    a = np.array([[3.0, 0.0], [4.0, 5.0]])
    u, s, vt = svd(a)
    theta = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([np.cos(theta), np.sin(theta)])  # (2, 200)
    image = a @ circle
    fig = matplotlib.figure.Figure(figsize=(9, 4.2))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.plot(*circle, color="tab:gray")
    right.plot(*image, color="tab:gray")
    for i in range(2):
        v, ui = vt[i], u[:, i] * s[i]
        left.annotate("", xy=v, xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": f"C{i}"})
        left.text(*(1.1 * v), f"$v_{i + 1}$", color=f"C{i}")
        right.annotate("", xy=ui, xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": f"C{i}"})
        right.text(*(1.05 * ui), f"$\\sigma_{i + 1} u_{i + 1}$ ({s[i]:.3f})", color=f"C{i}")
    left.set_title("unit circle: $\\|x\\| = 1$")
    right.set_title("its image $Ax$, $A = [[3, 0], [4, 5]]$")
    for ax in (left, right):
        ax.set_aspect("equal")
        ax.axhline(0, lw=0.5, color="k")
        ax.axvline(0, lw=0.5, color="k")
    fig.tight_layout()
    return fig
