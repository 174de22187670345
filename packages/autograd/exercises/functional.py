r"""# Exercises: Nonlinearities and losses on the engine

The backward rules the engine's sigmoid and cross-entropy follow, written as array code and
checked against the engine itself and against PyTorch."""

import numpy as np
import torch

from masterclass.autograd.functional import cross_entropy, sigmoid
from masterclass.autograd.tensor import Tensor


def solution_1_sigmoid_backward(out: np.ndarray, grad: np.ndarray) -> np.ndarray:
    r"""$\bar x = \bar y\,\sigma(x)(1 - \sigma(x))$, written with the output $y = \sigma(x)$."""
    return grad * out * (1 - out)


def check_1_sigmoid_backward(fn) -> None:
    """Compare with the engine's `sigmoid` backward and with `torch.sigmoid`'s."""
    rng = np.random.default_rng(0)
    for shape in [(5,), (3, 4), (2, 2, 2)]:
        x, g = rng.normal(size=shape) * 4, rng.normal(size=shape)
        xe = Tensor(x, requires_grad=True)
        ye = sigmoid(xe)
        ye.backward(Tensor(g))
        xt = torch.tensor(x, requires_grad=True)
        (want,) = torch.autograd.grad(torch.sigmoid(xt), xt, torch.tensor(g))
        got = np.asarray(fn(ye.numpy().copy(), g.copy()), dtype=float)
        assert np.allclose(got, xe.grad.numpy(), atol=1e-12), (
            f"shape {shape}: off by {np.abs(got - xe.grad.numpy()).max():.2e} from the engine"
        )
        assert np.allclose(got, want.numpy(), atol=1e-12), "differs from torch's sigmoid backward"


def solution_2_cross_entropy_grad(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    r"""$(\mathrm{softmax}(z) - \mathrm{onehot}(y))/B$."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(targets)), targets] -= 1
    return p / len(targets)


def check_2_cross_entropy_grad(fn) -> None:
    """Compare with the gradient the engine's `cross_entropy` (a composition) backpropagates."""
    rng = np.random.default_rng(1)
    for b, v in [(4, 3), (1, 5), (6, 10)]:
        z, y = rng.normal(size=(b, v)) * 3, rng.integers(0, v, size=b)
        ze = Tensor(z, requires_grad=True)
        cross_entropy(ze, y).backward()
        got = np.asarray(fn(z.copy(), y.copy()), dtype=float)
        # float64; the composed backward and the closed form differ by rounding only.
        assert np.allclose(got, ze.grad.numpy(), atol=1e-12), (
            f"B={b}, V={v}: off by {np.abs(got - ze.grad.numpy()).max():.2e}; the mean over the "
            "batch divides by B"
        )
