r"""# Exercises: Multivariable calculus: gradients, Jacobians and Hessians, numerically and by dual numbers

A gradient by central differences, and the quotient rule as dual-number arithmetic, both checked
against PyTorch's autograd."""

import numpy as np
import torch


def _functions():
    # The same function twice: once on numpy arrays, once on torch tensors for the reference.
    return [
        (lambda x: np.sum(x**2) + np.prod(np.sin(x)), lambda x: (x**2).sum() + torch.sin(x).prod()),
        (
            lambda x: np.log(1 + np.exp(x[0] * x[1])) - x[2] ** 3,
            lambda x: torch.log(1 + torch.exp(x[0] * x[1])) - x[2] ** 3,
        ),
        (lambda x: np.exp(-np.sum(x**2)) * x[0], lambda x: torch.exp(-(x**2).sum()) * x[0]),
    ]


def solution_1_central_gradient(f, x: np.ndarray, h: float) -> np.ndarray:
    r"""$\partial_i f \approx (f(x + he_i) - f(x - he_i))/(2h)$ for every $i$."""
    g = np.zeros(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def check_1_central_gradient(fn) -> None:
    """Compare with `torch.autograd.grad` in float64."""
    rng = np.random.default_rng(0)
    for f_np, f_torch in _functions():
        x = rng.normal(size=3)
        xt = torch.tensor(x, requires_grad=True)
        (want,) = torch.autograd.grad(f_torch(xt), xt)
        got = np.asarray(fn(f_np, x.copy(), 6e-6), dtype=float)
        # Central differences at h = eps^(1/3) keep about 10 digits on these O(1) functions.
        assert np.allclose(got, want.numpy(), atol=1e-8), (
            f"at x={x.round(3).tolist()}: got {got}, autograd {want.numpy()}; use a central "
            "difference (f(x + h e_i) - f(x - h e_i)) / 2h"
        )


def solution_2_dual_divide(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    r"""$(a + a'\varepsilon)/(b + b'\varepsilon) = a/b + \frac{a'b - ab'}{b^2}\varepsilon$."""
    return a[0] / b[0], (a[1] * b[0] - a[0] * b[1]) / (b[0] * b[0])


def check_2_dual_divide(fn) -> None:
    """Value and derivative of $u(t)/w(t)$ at a point, against autograd of the same quotient."""
    rng = np.random.default_rng(1)
    for _ in range(8):
        t = torch.tensor(float(rng.normal()), dtype=torch.float64, requires_grad=True)
        c = rng.normal(size=4)
        u = c[0] * t**2 + c[1] * t
        w = torch.exp(c[2] * t) + c[3] ** 2
        (du,) = torch.autograd.grad(u, t, retain_graph=True)
        (dw,) = torch.autograd.grad(w, t, retain_graph=True)
        (dq,) = torch.autograd.grad(u / w, t)
        got = fn((u.item(), du.item()), (w.item(), dw.item()))
        want = ((u / w).item(), dq.item())
        assert np.allclose(got, want, rtol=1e-12, atol=1e-14), (
            f"({u.item():.3f} + {du.item():.3f} e) / ({w.item():.3f} + {dw.item():.3f} e): got "
            f"{tuple(got)}, want {want} (expand 1 / (b + b' e) = (1 - (b'/b) e) / b, e^2 = 0)"
        )
