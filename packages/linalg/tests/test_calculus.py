"""# Tests: multivariable calculus

Reference tests for finite differences and dual numbers against torch autograd.

Dual numbers are exact up to rounding: they must match torch's reverse mode to `rtol = 1e-12`.
Central differences with the default steps have ~1e-10 error for gradients and Jacobians
(truncation h^2 ~ 4e-11, rounding eps/h ~ 4e-11) and ~1e-7 for Hessians (eps^(1/2) ~ 1.5e-8 times
the function's scale), so those are compared with `atol = 1e-8` and `1e-6` respectively.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from masterclass.linalg import calculus as calc


# One definition, three backends: our functions dispatch on floats, arrays and duals; `lib`
# supplies torch's when building the reference.
def scalar_fn(x, lib=calc):
    return (
        lib.sin(x[0]) * lib.exp(x[1])
        + x[0] ** 2 * x[2]
        + lib.log(1 + x[1] * x[1])
        + lib.tanh(x[2] / (1.5 + x[0] * x[0]))
    )


def vector_fn(x, lib=calc):
    return [lib.cos(x[0] * x[1]), lib.sqrt(1 + x[2] * x[2]) - x[0], x[1] ** 3 / (2 + x[0] ** 2)]


def _torch_ref(fn, x):
    xt = torch.tensor(x, dtype=torch.float64)
    if fn is scalar_fn:
        g = torch.autograd.functional.jacobian(lambda t: fn(t, torch), xt)
        h = torch.autograd.functional.hessian(lambda t: fn(t, torch), xt)
        return g.numpy(), h.numpy()
    j = torch.autograd.functional.jacobian(lambda t: torch.stack(fn(t, torch)), xt)
    return j.numpy(), None


POINTS = hnp.arrays(np.float64, 3, elements=st.floats(-2, 2, allow_subnormal=False))


@settings(max_examples=25, deadline=None)
@given(POINTS)
def test_gradient_and_hessian_match_torch(x):
    g_ref, h_ref = _torch_ref(scalar_fn, x)
    np.testing.assert_allclose(calc.dual_gradient(scalar_fn, x), g_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(calc.dual_hessian(scalar_fn, x), h_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(calc.numerical_gradient(scalar_fn, x), g_ref, atol=1e-8)
    np.testing.assert_allclose(calc.numerical_hessian(scalar_fn, x), h_ref, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(POINTS)
def test_jacobian_matches_torch(x):
    j_ref, _ = _torch_ref(vector_fn, x)
    np.testing.assert_allclose(calc.dual_jacobian(vector_fn, x), j_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        calc.numerical_jacobian(lambda v: np.array(vector_fn(v)), x), j_ref, atol=1e-8
    )


def test_directional_derivative_is_a_jvp():
    x = np.array([0.4, -1.1, 0.7])
    v = np.array([1.0, 2.0, -0.5])
    # Reference: torch's reverse-mode gradient dotted with v. (torch's own jvp helpers pull in
    # the functorch/sympy stack, seconds of import time, for the same number.)
    xt = torch.tensor(x, requires_grad=True)
    scalar_fn(xt, torch).backward()
    jvp = float(xt.grad.numpy() @ v)
    assert calc.directional_derivative(scalar_fn, x, v) == pytest.approx(jvp, rel=1e-12)
    assert calc.directional_derivative(scalar_fn, x, v) == pytest.approx(
        calc.dual_gradient(scalar_fn, x) @ v, rel=1e-12
    )


def test_dual_arithmetic_rules():
    a, b = calc.Dual(2.0, 1.0), calc.Dual(0.5, -3.0)
    for expr, value, deriv in [
        (a * b, 1.0, 2.0 * -3.0 + 1.0 * 0.5),
        (a / b, 4.0, (1.0 * 0.5 - 2.0 * -3.0) / 0.25),
        (1.0 / a, 0.5, -1.0 / 4.0),
        (3.0 - a, 1.0, -1.0),
        (a**b, 2.0**0.5, 2.0**0.5 * (-3.0 * np.log(2.0) + 0.5 * 1.0 / 2.0)),
    ]:
        assert expr.val == pytest.approx(value, rel=1e-15)
        assert expr.eps == pytest.approx(deriv, rel=1e-14)


def test_taylor_error_orders():
    # First-order Taylor error shrinks like h^2, second-order like h^3.
    x = np.array([0.3, -0.2, 0.5])
    direction = np.array([0.6, -0.8, 0.2])
    fx = float(scalar_fn(x))
    g, h = calc.dual_gradient(scalar_fn, x), calc.dual_hessian(scalar_fn, x)
    steps = np.logspace(-1, -3, 5)
    first, second = [], []
    for s in steps:
        exact = float(scalar_fn(x + s * direction))
        first.append(abs(exact - calc.taylor_approximation(fx, g, s * direction)))
        second.append(abs(exact - calc.taylor_approximation(fx, g, s * direction, h)))
    assert calc.convergence_order(first, steps) == pytest.approx(2.0, abs=0.1)
    assert calc.convergence_order(second, steps) == pytest.approx(3.0, abs=0.15)


def test_central_difference_error_is_second_order():
    # Truncation error O(h^2): halving h divides the error by ~4 (before rounding dominates).
    x = np.array([0.5, 0.1, -0.3])
    exact = calc.dual_gradient(scalar_fn, x)
    steps = np.array([1e-1, 5e-2, 2.5e-2, 1.25e-2])
    errors = [np.max(np.abs(calc.numerical_gradient(scalar_fn, x, h=s) - exact)) for s in steps]
    assert calc.convergence_order(errors, steps) == pytest.approx(2.0, abs=0.1)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="same shape"):
        calc.directional_derivative(scalar_fn, np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="scalar"):
        calc.dual_gradient(vector_fn, np.zeros(3))
    with pytest.raises(ValueError, match="NaN or infinity"):
        calc.numerical_gradient(scalar_fn, np.array([np.nan, 0.0, 0.0]))
    with pytest.raises(ValueError, match="hess must have shape"):
        calc.taylor_approximation(0.0, np.zeros(2), np.zeros(2), np.zeros((3, 3)))
