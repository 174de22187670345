"""# Figure: batch, mini-batch and stochastic gradient descent

Distance to the least-squares solution per epoch for the variants of `gradient_descent.py`."""

import matplotlib.figure
import numpy as np

from masterclass.linalg.gradient_descent import gradient_descent, least_squares_grad


def figure() -> matplotlib.figure.Figure:
    """Noisy least squares (N = 256, D = 5, condition number 100), 60 epochs of each variant."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 5)) * np.geomspace(1.0, 0.1, 5)
    y = x @ rng.normal(size=5) + 0.1 * rng.normal(size=256)
    w_star = np.linalg.lstsq(x, y, rcond=None)[0]
    # Step sizes from the Hessian's extreme eigenvalues: 1/L for plain descent, and the tuned
    # heavy-ball pair for momentum (see the chapter).
    mu, big_l = np.linalg.eigvalsh(x.T @ x / len(y))[[0, -1]]
    root_kappa = np.sqrt(big_l / mu)
    heavy_lr = 4.0 / (np.sqrt(big_l) + np.sqrt(mu)) ** 2
    heavy_beta = ((root_kappa - 1) / (root_kappa + 1)) ** 2
    runs = {
        "batch": ({"batch_size": None, "lr": 1.0 / big_l}, 1),
        f"batch + momentum {heavy_beta:.2f}": (
            {"batch_size": None, "lr": heavy_lr, "momentum": heavy_beta},
            1,
        ),
        "mini-batch 32": ({"batch_size": 32, "lr": 0.5 / big_l}, 8),
        "stochastic (batch 1)": ({"batch_size": 1, "lr": 0.05 / big_l}, 256),
    }
    fig = matplotlib.figure.Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for name, (kw, steps_per_epoch) in runs.items():
        path = gradient_descent(least_squares_grad, np.zeros(5), x, y, epochs=60, **kw)
        per_epoch = path[::steps_per_epoch]
        ax.semilogy(np.linalg.norm(per_epoch - w_star, axis=1), label=name, lw=2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("distance to the least-squares solution")
    ax.set_title("Gradient descent variants on noisy least squares")
    ax.legend()
    fig.tight_layout()
    return fig
