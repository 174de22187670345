r"""# Exercises: Optimizers for the engine: SGD and Adam

SGD with momentum and weight decay, and Adam with its bias corrections, one step at a time,
checked against the engine's optimizers and `torch.optim` over several steps."""

import numpy as np
import torch

from masterclass.autograd.module import Parameter
from masterclass.autograd.optim import SGD, Adam
from masterclass.autograd.tensor import Tensor


def solution_1_sgd_momentum_step(
    theta: np.ndarray,
    grad: np.ndarray,
    buf: np.ndarray | None,
    lr: float,
    momentum: float,
    weight_decay: float,
) -> tuple[np.ndarray, np.ndarray]:
    r"""$g = \nabla + \lambda\theta$; $b = \mu b + g$ ($b = g$ at the first step); $\theta - \eta b$."""
    g = grad + weight_decay * theta
    buf = g.copy() if buf is None else momentum * buf + g
    return theta - lr * buf, buf


def solution_2_adam_step(
    theta: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, t: int, lr: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam with betas (0.9, 0.999) and eps 1e-8; returns `(theta, m, v)`."""
    m = 0.9 * m + 0.1 * grad
    v = 0.999 * v + 0.001 * grad * grad
    step = lr / (1 - 0.9**t)
    return theta - step * m / (np.sqrt(v) / np.sqrt(1 - 0.999**t) + 1e-8), m, v


def _run(fn_step, engine_opt, torch_opt, name: str) -> None:
    rng = np.random.default_rng(0)
    theta0 = rng.normal(size=5)
    w = Parameter(theta0.copy())
    p = torch.nn.Parameter(torch.tensor(theta0.copy()))
    eng, ref = engine_opt([w]), torch_opt([p])
    state = None
    theta = theta0.copy()
    for t in range(1, 8):
        grad = rng.normal(size=5) * t
        w.zero_grad()
        (w * Tensor(grad)).sum().backward()  # d/dw of sum(w * g) is g
        eng.step()
        p.grad = torch.tensor(grad.copy())
        ref.step()
        theta, state = fn_step(theta, grad, state, t)
        for other, who in ((w.data, "the engine"), (p.detach().numpy(), f"torch.optim.{name}")):
            # float64 and the same formulas: rounding only.
            assert np.allclose(theta, other, atol=1e-12), (
                f"step {t}: off by {np.abs(theta - other).max():.2e} from {who}"
            )


def check_1_sgd_momentum_step(fn) -> None:
    """Seven steps beside the engine's `SGD` and `torch.optim.SGD` (momentum 0.9, decay 0.01)."""
    lr, mu, wd = 0.05, 0.9, 0.01
    _run(
        lambda th, g, buf, t: fn(th, g, buf, lr, mu, wd),
        lambda ps: SGD(ps, lr=lr, momentum=mu, weight_decay=wd),
        lambda ps: torch.optim.SGD(ps, lr=lr, momentum=mu, weight_decay=wd),
        "SGD",
    )


def check_2_adam_step(fn) -> None:
    """Seven steps beside the engine's `Adam` and `torch.optim.Adam` (lr 0.01)."""

    def step(th, g, state, t):
        m, v = state if state is not None else (np.zeros_like(th), np.zeros_like(th))
        th, m, v = fn(th, g, m, v, t, 0.01)
        return th, (m, v)

    _run(step, lambda ps: Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01), "Adam")
