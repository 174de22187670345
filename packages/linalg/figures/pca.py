"""# Figure: principal axes of a Gaussian cloud

A correlated 2-D Gaussian cloud with its principal axes, scaled by their standard deviations."""

import matplotlib.figure
import numpy as np

from masterclass.linalg.pca import PCA


def figure() -> matplotlib.figure.Figure:
    """Scatter 500 points and draw each component as an arrow of length 2 standard deviations."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 2)) @ np.array([[1.6, 0.0], [1.0, 0.9]]) + np.array([1.0, -0.5])
    pca = PCA.fit(x)
    fig = matplotlib.figure.Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    ax.scatter(x[:, 0], x[:, 1], s=6, alpha=0.4, color="tab:gray")
    for i, (direction, var) in enumerate(zip(pca.components, pca.explained_variance)):
        end = pca.mean + 2 * np.sqrt(var) * direction
        ax.annotate(
            "",
            xy=end,
            xytext=pca.mean,
            arrowprops={"arrowstyle": "->", "lw": 2.5, "color": f"C{i}"},
        )
        ax.text(
            *end, f"  PC{i + 1}: {pca.explained_variance_ratio[i]:.0%} of variance", color=f"C{i}"
        )
    ax.set_aspect("equal")
    ax.set_title("Principal components of a 2-D Gaussian")
    fig.tight_layout()
    return fig
