r"""# Exercises: Autograd mechanics: PyTorch's graph, hooks and higher-order gradients

The two numerical checks every autograd user needs, a gradient by central differences and a
Hessian–vector product as a finite difference of gradients, checked against exact derivatives
from `torch.autograd` at a step size where the cheaper, wrong formula shows; then a second
derivative, checked by double backward through the chapter's custom `Softplus`."""

from collections.abc import Callable

import numpy as np
import torch


def solution_1_central_difference_grad(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float
) -> np.ndarray:
    r"""$\partial f/\partial x_i \approx (f(x + \epsilon e_i) - f(x - \epsilon e_i)) / 2\epsilon$.

    Leaves `x` as it found it; returns an array of `x`'s shape.
    """
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


# Each test function with its input shape, and twice: on numpy for the learner's finite differences, on torch for the exact
# gradient by autograd.
_A = np.random.default_rng(0).normal(size=(4, 4))
_FUNCTIONS = [
    (
        "sum(sin(x) * x^2)",
        (2, 3),
        lambda x: (np.sin(x) * x**2).sum(),
        lambda x: (x.sin() * x**2).sum(),
    ),
    (
        "logsumexp(x)",
        (2, 3),
        lambda x: np.log(np.exp(x).sum()),
        lambda x: torch.logsumexp(x.reshape(-1), 0),
    ),
    ("x^T A x", (4,), lambda x: x @ _A @ x, lambda x: x @ torch.tensor(_A) @ x),
    (
        "sum(exp(x) / (1 + x^2))",
        (2, 3),
        lambda x: (np.exp(x) / (1 + x**2)).sum(),
        lambda x: (x.exp() / (1 + x**2)).sum(),
    ),
]


def check_1_central_difference_grad(fn) -> None:
    """Compare with `torch.autograd.grad` at eps = 1e-3, where a one-sided difference is 1e-3 off."""
    rng = np.random.default_rng(1)
    eps = 1e-3
    for label, shape, f_np, f_torch in _FUNCTIONS:
        x = rng.normal(size=shape)
        before = x.copy()
        xt = torch.tensor(x, requires_grad=True)
        (want,) = torch.autograd.grad(f_torch(xt), xt)
        got = np.asarray(fn(f_np, x, eps), dtype=float)
        assert np.array_equal(x, before), f"{label}: the function changed x; perturb a copy"
        assert got.shape == x.shape, f"{label}: shape {got.shape}, want {x.shape}"
        # The central difference's error is eps^2 f'''/6 ~ 1e-7 here (plus rounding ~1e-13);
        # a one-sided difference's is eps f''/2 ~ 1e-3. 1e-5 separates them.
        err = np.abs(got - want.numpy()).max()
        assert err < 1e-5, (
            f"{label}: off by {err:.2e} from autograd at eps={eps}; the central difference "
            "steps both ways, +eps and -eps, and divides by 2 eps"
        )


def solution_2_hvp_finite_difference(
    grad_f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, v: torch.Tensor, eps: float
) -> torch.Tensor:
    r"""$H v \approx (\nabla f(x + \epsilon v) - \nabla f(x - \epsilon v)) / 2\epsilon$.

    `grad_f(x)` returns $\nabla f(x)$ (one backward pass, no second derivative needed).
    """
    return (grad_f(x + eps * v) - grad_f(x - eps * v)) / (2 * eps)


def _gradient_of(f: Callable[[torch.Tensor], torch.Tensor]):
    def grad_f(x: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(x), x)
        return g

    return grad_f


def check_2_hvp_finite_difference(fn) -> None:
    """Compare with the exact `H v` of `torch.autograd.functional.hvp` (double backward)."""
    rng = np.random.default_rng(2)
    functions = [
        ("sum(x^4)", lambda x: (x**4).sum()),
        ("logsumexp(x)", lambda x: torch.logsumexp(x, 0)),
        ("sum(tanh(W x)^2)", lambda x: (torch.tanh(torch.tensor(_A) @ x) ** 2).sum()),
    ]
    eps = 1e-4
    for label, f in functions:
        x, v = torch.tensor(rng.normal(size=4)), torch.tensor(rng.normal(size=4))
        _, want = torch.autograd.functional.hvp(f, x, v)
        got = torch.as_tensor(fn(_gradient_of(f), x.clone(), v.clone(), eps))
        assert got.shape == want.shape, (
            f"{label}: shape {tuple(got.shape)}, want {tuple(want.shape)}"
        )
        # The central error is eps^2 |d^4 f| |v|^3 / 6 <~ 1e-6 at eps=1e-4 for these functions
        # (rounding adds ~1e-16 |grad| / eps ~ 1e-11); a one-sided difference is off by
        # eps |d^3 f| |v|^2 / 2 ~ 1e-3. 1e-5 separates them.
        err = (got - want).abs().max().item()
        assert err < 1e-5, (
            f"{label}: off by {err:.2e} from the exact H v at eps={eps}; step along v both ways "
            "and divide the difference of gradients by 2 eps"
        )


def solution_3_softplus_curvature(x: np.ndarray) -> np.ndarray:
    r"""$\frac{d^2}{dx^2} \log(1 + e^x) = \sigma'(x) = \sigma(x)\,(1 - \sigma(x))$."""
    s = 0.5 * (1.0 + np.tanh(0.5 * x))  # sigma(x) without overflow for large |x|
    return s * (1.0 - s)


def check_3_softplus_curvature(fn) -> None:
    """Compare with double backward through the chapter's `Softplus` and through torch's own."""
    from masterclass.autograd.autograd_mechanics import Softplus

    rng = np.random.default_rng(3)
    # |x| stays below 20, where torch's softplus switches to the identity (its `threshold`).
    for x in [rng.normal(size=7) * 3, np.array([0.0, -15.0, 15.0, 1e-3]), rng.normal(size=(2, 3))]:
        got = np.asarray(fn(x.copy()), dtype=float)
        for label, softplus in (
            ("the chapter's Softplus.apply", Softplus.apply),
            ("torch.nn.functional.softplus", torch.nn.functional.softplus),
        ):
            xt = torch.tensor(x, requires_grad=True)
            (first,) = torch.autograd.grad(softplus(xt).sum(), xt, create_graph=True)
            (want,) = torch.autograd.grad(first.sum(), xt)  # elementwise: the diagonal of H
            assert got.shape == x.shape, f"shape {got.shape}, want {x.shape}"
            # float64, the same function written two ways: a few ulps.
            err = np.abs(got - want.numpy()).max()
            assert err < 1e-12, (
                f"x = {np.round(x, 3).tolist()}: off by {err:.2e} from the second derivative of "
                f"{label} by double backward (the first derivative is sigma(x); differentiate "
                "once more)"
            )
