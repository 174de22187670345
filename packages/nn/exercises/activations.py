r"""# Exercises: Activation functions

Derivatives of the sigmoid and SiLU by hand, and GELU's tanh approximation, checked by autograd."""

import math

import torch


def _points() -> torch.Tensor:
    return torch.linspace(-6, 6, 49, dtype=torch.float64)


def _autograd_derivative(f, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad


def solution_1_sigmoid_derivative(x: torch.Tensor) -> torch.Tensor:
    r"""$\sigma'(x) = \sigma(x)(1 - \sigma(x))$."""
    s = 1 / (1 + torch.exp(-x))
    return s * (1 - s)


def check_1_sigmoid_derivative(fn) -> None:
    """Compare with autograd through `torch.sigmoid`."""
    x = _points()
    want = _autograd_derivative(torch.sigmoid, x)
    got = fn(x.clone())
    assert torch.allclose(got, want, atol=1e-12), f"max error {(got - want).abs().max():.2e}"


def solution_2_silu_derivative(x: torch.Tensor) -> torch.Tensor:
    r"""$(x\sigma(x))' = \sigma(x) + x\sigma(x)(1 - \sigma(x))$."""
    s = 1 / (1 + torch.exp(-x))
    return s + x * s * (1 - s)


def check_2_silu_derivative(fn) -> None:
    """Compare with autograd through `torch.nn.functional.silu`."""
    x = _points()
    want = _autograd_derivative(torch.nn.functional.silu, x)
    got = fn(x.clone())
    assert torch.allclose(got, want, atol=1e-12), f"max error {(got - want).abs().max():.2e}"


def solution_3_gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    r"""$\tfrac12 x (1 + \tanh(\sqrt{2/\pi}(x + 0.044715 x^3)))$."""
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def check_3_gelu_tanh(fn) -> None:
    """Compare with `torch.nn.functional.gelu(x, approximate="tanh")`."""
    x = _points()
    want = torch.nn.functional.gelu(x, approximate="tanh")
    got = fn(x.clone())
    assert torch.allclose(got, want, atol=1e-12), f"max error {(got - want).abs().max():.2e}"
