r"""# Exercises: Backpropagation by hand on a small computational graph

The reverse pass of a scalar graph where one input is used twice, and the vector–Jacobian
product of the softmax."""

import numpy as np
import torch


def solution_1_scalar_graph_grads(x: float, y: float) -> tuple[float, float]:
    r"""For $g = \sigma(xy) + x^2$: $\bar x = \sigma'(xy)\,y + 2x$, $\bar y = \sigma'(xy)\,x$."""
    s = 1 / (1 + np.exp(-x * y))
    ds = s * (1 - s)  # the adjoint reaching the product u = x y
    return float(ds * y + 2 * x), float(ds * x)


def check_1_scalar_graph_grads(fn) -> None:
    """Compare with `torch.autograd.grad` of the same graph in float64."""
    rng = np.random.default_rng(0)
    for x, y in [(0.0, 0.0), (1.0, -2.0), *rng.normal(size=(6, 2)).tolist()]:
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        yt = torch.tensor(y, dtype=torch.float64, requires_grad=True)
        gx, gy = torch.autograd.grad(torch.sigmoid(xt * yt) + xt**2, (xt, yt))
        got = fn(x, y)
        assert np.allclose(got, (gx.item(), gy.item()), atol=1e-12), (
            f"at ({x:.3f}, {y:.3f}): got {tuple(got)}, autograd {(gx.item(), gy.item())}; x is "
            "used twice, so its adjoint is the sum of both paths"
        )


def solution_2_softmax_backward(z: np.ndarray, grad_p: np.ndarray) -> np.ndarray:
    r"""$\bar z = p \odot (\bar p - \langle\bar p, p\rangle)$ row by row, $p = \mathrm{softmax}(z)$."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return p * (grad_p - np.sum(grad_p * p, axis=-1, keepdims=True))


def check_2_softmax_backward(fn) -> None:
    """Compare with autograd through `torch.softmax` for random upstream gradients."""
    rng = np.random.default_rng(1)
    for shape in [(4,), (3, 5), (2, 2), (1, 7)]:
        z = rng.normal(size=shape) * 3
        gp = rng.normal(size=shape)
        zt = torch.tensor(z, requires_grad=True)
        (want,) = torch.autograd.grad(torch.softmax(zt, dim=-1), zt, torch.tensor(gp))
        got = np.asarray(fn(z.copy(), gp.copy()), dtype=float)
        assert np.allclose(got, want.numpy(), atol=1e-12), (
            f"shape {shape}: off by {np.abs(got - want.numpy()).max():.2e}; the softmax Jacobian "
            "is diag(p) - p p^T"
        )
