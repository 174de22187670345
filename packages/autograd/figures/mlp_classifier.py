"""# Figure: the decision regions of the MLP trained on spirals

The default classifier, trained on the engine, colours the plane by the class it predicts; the
held-out points sit on top, coloured by their true arm, and the training loss runs alongside."""

import matplotlib.colors
import matplotlib.figure
import numpy as np

from masterclass.autograd.mlp_classifier import ClassifierConfig, make_spirals, train_classifier
from masterclass.autograd.tensor import Tensor, no_grad


def figure() -> matplotlib.figure.Figure:
    """Train with the default config, classify a 200 x 200 grid, and draw regions and loss."""
    config = ClassifierConfig()
    result = train_classifier(config)
    x_test, y_test = make_spirals(
        max(config.n_per_class // 4, 1), config.n_classes, seed=config.seed + 1
    )
    lim, steps = 1.25, 200
    xs = np.linspace(-lim, lim, steps)
    gx, gy = np.meshgrid(xs, xs)  # (steps, steps) each; row i is y = xs[i]
    with no_grad():
        logits = result.model(Tensor(np.stack([gx.ravel(), gy.ravel()], axis=1)))  # (steps^2, K)
    regions = logits.data.argmax(axis=1).reshape(steps, steps)

    colours = [f"C{k}" for k in range(config.n_classes)]
    fig = matplotlib.figure.Figure(figsize=(10, 4.6))
    ax, loss_ax = fig.subplots(1, 2, width_ratios=[1.1, 1])
    ax.imshow(
        regions,
        origin="lower",
        extent=(-lim, lim, -lim, lim),
        cmap=matplotlib.colors.ListedColormap(colours),
        vmin=-0.5,  # one colour per class, even if a class wins nowhere on the grid
        vmax=config.n_classes - 0.5,
        alpha=0.25,
        interpolation="nearest",
    )
    for k in range(config.n_classes):
        points = x_test[y_test == k]
        ax.scatter(points[:, 0], points[:, 1], s=12, color=colours[k], label=f"arm {k}")
    ax.set_aspect("equal")
    ax.set_title(f"Decision regions, held-out accuracy {result.test_accuracy:.0%}")
    ax.legend(loc="lower right", fontsize=8)

    loss_ax.plot(np.arange(1, len(result.losses) + 1), result.losses, color="tab:gray")
    loss_ax.axhline(np.log(config.n_classes), ls="--", lw=1, color="tab:red")
    loss_ax.text(1, np.log(config.n_classes) * 1.15, "log K: uniform guessing", color="tab:red")
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("mean training cross-entropy")
    loss_ax.set_title("Training loss (Adam, mini-batches of 64)")
    fig.tight_layout()
    return fig
