"""# Figure: optimizers on the Rosenbrock function

Optimizer trajectories on the Rosenbrock function $(1-x)^2 + 100(y-x^2)^2$."""

import matplotlib.figure
import numpy as np

from masterclass.linalg import optimizers as opt


def _grad(p: np.ndarray) -> np.ndarray:
    x, y = p
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def _trajectory(name: str, steps: int, **hyper) -> np.ndarray:
    init, step = getattr(opt, f"{name}_init"), getattr(opt, f"{name}_step")
    p = np.array([-1.5, 2.0])
    state = init(p)
    path = [p]
    for _ in range(steps):
        p, state = step(p, _grad(p), state, **hyper)
        path.append(p)
    return np.array(path)


def figure() -> matplotlib.figure.Figure:
    """Contours of the function and 3000 steps of each optimizer from (-1.5, 2)."""
    runs = {
        "SGD (lr 1e-4)": _trajectory("sgd", 3000, lr=1e-4),
        "SGD + momentum 0.9": _trajectory("sgd", 3000, lr=1e-4, momentum=0.9),
        "SGD + Nesterov 0.9": _trajectory("sgd", 3000, lr=1e-4, momentum=0.9, nesterov=True),
        "AdaGrad (lr 0.5)": _trajectory("adagrad", 3000, lr=0.5),
        "RMSprop (lr 1e-2)": _trajectory("rmsprop", 3000, lr=1e-2),
        "Adam (lr 0.05)": _trajectory("adam", 3000, lr=0.05),
    }
    xs, ys = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
    zs = (1 - xs) ** 2 + 100 * (ys - xs**2) ** 2
    fig = matplotlib.figure.Figure(figsize=(12, 5))
    ax, loss_ax = fig.subplots(1, 2)
    ax.contour(xs, ys, np.log10(zs + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
    for name, path in runs.items():
        ax.plot(path[:, 0], path[:, 1], lw=1.5, label=f"{name}: f = {_f(path[-1]):.1e}")
    ax.plot([1], [1], "k*", ms=14, label="minimum (1, 1)")
    ax.set_xlim(-2, 2)
    ax.set_ylim(-1, 3)
    ax.set_title("3000 steps on the Rosenbrock function")
    ax.legend(fontsize=8, loc="lower right")
    for name, path in runs.items():
        loss_ax.semilogy([_f(p) + 1e-30 for p in path], label=name)
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("f(x, y)")
    loss_ax.set_title("loss along the way")
    fig.tight_layout()
    return fig


def _f(p: np.ndarray) -> float:
    return float((1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2)
