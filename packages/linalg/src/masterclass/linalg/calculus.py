r"""# Multivariable calculus: gradients, Jacobians and Hessians, numerically and by dual numbers

For $f:\mathbb{R}^n\to\mathbb{R}$ the **gradient** $\nabla f(x)$ collects the partial derivatives
$\partial f/\partial x_i$; it points uphill, and its inner product with a unit vector $v$ is the
**directional derivative** $D_vf(x) = \nabla f(x)^\top v$. For $F:\mathbb{R}^n\to\mathbb{R}^m$ the
**Jacobian** $J_{ij} = \partial F_i/\partial x_j$ is the best linear approximation of $F$ near
$x$; the **Hessian** $H_{ij} = \partial^2 f/\partial x_i\partial x_j$ is the Jacobian of the
gradient, symmetric for smooth $f$, and describes curvature. Together they give **Taylor's
approximation**

$$f(x + \delta) = f(x) + \nabla f(x)^\top\delta + \tfrac12\delta^\top H(x)\,\delta + O(\lVert\delta\rVert^3),$$

whose first-order truncation error shrinks like $\lVert\delta\rVert^2$ and second-order like
$\lVert\delta\rVert^3$ (the tests measure these slopes).

We compute derivatives two ways, and each checks the other (and torch checks both):

**Central differences** $\frac{\partial f}{\partial x_i} \approx \frac{f(x + he_i) - f(x - he_i)}{2h}$
have truncation error $O(h^2)$ and rounding error $O(\epsilon/h)$; the total is smallest at
$h \approx \epsilon^{1/3} \approx 6\cdot10^{-6}$ (times the scale of $x$), giving about 10
correct digits. For second derivatives the best step is $h\approx\epsilon^{1/4}$, about 8 digits.
Where $\epsilon^{1/3}$ comes from: Taylor-expanding both evaluations, the odd terms survive,
$\frac{f(x+h) - f(x-h)}{2h} = f'(x) + \frac{h^2}{6}f'''(x) + O(h^4)$, while each evaluation is
off by about $\epsilon|f|$ in rounding, which the division by $2h$ turns into $\epsilon|f|/h$.
The total $E(h) \approx \frac{h^2}{6}|f'''| + \frac{\epsilon|f|}{h}$ is smallest where
$E'(h) = \frac{h}{3}|f'''| - \frac{\epsilon|f|}{h^2} = 0$, at $h = (3\epsilon|f|/|f'''|)^{1/3}$,
which is of order $\epsilon^{1/3}$ when $f$ and $f'''$ are of order one, and the error there is of
order $\epsilon^{2/3} \approx 10^{-11}$ relative. A one-sided difference has error $O(h)$, best at
$h\approx\epsilon^{1/2}$, with only 8 digits.
Finite differences are the universal gradient *check*, never the gradient used for training: they
cost $2n$ evaluations and lose half the digits.

**Dual numbers** compute derivatives exactly (to rounding) by extending the reals with an
$\varepsilon$ such that $\varepsilon^2 = 0$. Then $f(a + b\varepsilon) = f(a) + f'(a)\,b\,\varepsilon$
by Taylor's theorem, and arithmetic on pairs $(a, b)$ carries the derivative along with the
value: this is **forward-mode automatic differentiation**. One pass with the seed $b = v$ gives
the directional derivative $\nabla f^\top v$ (a Jacobian–vector product); $n$ passes give the whole
gradient. Nesting duals inside duals ("hyper-dual" numbers) gives second derivatives. Module 2
builds the other mode, reverse mode (backpropagation), which gets the whole gradient of a scalar
in one backward pass; `backprop.py` does it by hand.

References: Nocedal & Wright, *Numerical Optimization*, §8.1 (finite differences) and §8.2
(automatic differentiation); Griewank & Walther, *Evaluating Derivatives*, ch. 3; Baydin et al.
(2018), *Automatic differentiation in machine learning: a survey*.

A worked example: the gradient of $f(x) = x_0^2 x_1 + \sin x_1$ at $(1, 2)$ is
$(2x_0x_1,\ x_0^2 + \cos x_1) = (4, 1 + \cos 2)$, by dual numbers exactly and by central
differences to about 10 digits.

>>> f = lambda x: x[0] ** 2 * x[1] + sin(x[1])
>>> dual_gradient(f, [1.0, 2.0]).round(12).tolist(), round(1 + math.cos(2.0), 12)
([4.0, 0.583853163453], 0.583853163453)
>>> bool(np.abs(numerical_gradient(f, [1.0, 2.0]) - dual_gradient(f, [1.0, 2.0])).max() < 1e-9)
True

Left out: complex-step differentiation, Richardson extrapolation and higher-order Taylor terms.

## Exercises

1. Write `central_gradient(f, x, h)`: the gradient of a scalar function of a numpy vector by
   central differences. Check it: `uv run pytest --exercise linalg.calculus`.
2. Write `dual_divide(a, b)` for dual numbers given as pairs `(value, derivative)`: the quotient
   rule is what $\varepsilon^2 = 0$ gives. Check it: `uv run pytest --exercise linalg.calculus`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_vector

# ## Central differences
#
# The step is relative to the size of each coordinate, $h_i = h\max(1, |x_i|)$, so the formula
# works for parameters of any scale.


def numerical_gradient(f: Callable, x: ArrayLike, *, h: float = 6e-6) -> np.ndarray:
    """Central-difference gradient of scalar `f` at `x` `(n,)`; returns `(n,)`."""
    x = _as_vector(x, "x")
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = h * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = step
        grad[i] = (float(f(x + e)) - float(f(x - e))) / (2 * step)
    return grad


# The Jacobian column by column: column $i$ is the central difference of `f` along $e_i$.
def numerical_jacobian(f: Callable, x: ArrayLike, *, h: float = 6e-6) -> np.ndarray:
    """Central-difference Jacobian of vector-valued `f` at `x` `(n,)`; returns `(m, n)`."""
    x = _as_vector(x, "x")
    columns = []
    for i in range(x.size):
        step = h * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = step
        columns.append((np.asarray(f(x + e), float) - np.asarray(f(x - e), float)) / (2 * step))
    return np.stack(columns, axis=-1).reshape(-1, x.size)


# The Hessian from four evaluations per pair $(i, j)$, computed for $j \ge i$ and mirrored, so
# the result is symmetric by construction.
def numerical_hessian(f: Callable, x: ArrayLike, *, h: float = 1e-4) -> np.ndarray:
    r"""Central-difference Hessian of scalar `f` at `x` `(n,)`; returns symmetric `(n, n)`.

    $H_{ij} \approx [f(x{+}h_ie_i{+}h_je_j) - f(x{+}h_ie_i{-}h_je_j) - f(x{-}h_ie_i{+}h_je_j)
    + f(x{-}h_ie_i{-}h_je_j)] / (4h_ih_j)$.
    """
    x = _as_vector(x, "x")
    n = x.size
    steps = h * np.maximum(1.0, np.abs(x))
    hess = np.zeros((n, n))
    # For $i = j$ the four points collapse to the second difference with step $2h_i$.
    for i in range(n):
        for j in range(i, n):
            ei = np.zeros(n)
            ej = np.zeros(n)
            ei[i], ej[j] = steps[i], steps[j]
            value = (
                float(f(x + ei + ej))
                - float(f(x + ei - ej))
                - float(f(x - ei + ej))
                + float(f(x - ei - ej))
            ) / (4 * steps[i] * steps[j])
            hess[i, j] = hess[j, i] = value
    return hess


# ## Dual numbers
#
# A `Dual(val, eps)` stands for $\text{val} + \text{eps}\,\varepsilon$. The rules follow from
# $\varepsilon^2 = 0$: $(a+b\varepsilon)(c+d\varepsilon) = ac + (ad + bc)\varepsilon$, and
# $1/(c + d\varepsilon) = 1/c - (d/c^2)\varepsilon$. `val` and `eps` may themselves be duals,
# which is how second derivatives come out.


class Dual:
    r"""A dual number $\text{val} + \text{eps}\,\varepsilon$ with $\varepsilon^2 = 0$.

    >>> x = Dual(3.0, 1.0)  # seed dx/dx = 1
    >>> y = x * x + 2 * x   # y = x^2 + 2x, dy/dx = 2x + 2
    >>> (y.val, y.eps)
    (15.0, 8.0)
    """

    __slots__ = ("eps", "val")

    def __init__(self, val: float | Dual, eps: float | Dual = 0.0) -> None:
        self.val = val
        self.eps = eps

    def __repr__(self) -> str:
        return f"Dual({self.val!r}, {self.eps!r})"

    # Sums and differences act on the two parts separately; a plain number is a dual with
    # `eps = 0`.
    def __add__(self, other):
        if isinstance(other, Dual):
            return Dual(self.val + other.val, self.eps + other.eps)
        return Dual(self.val + other, self.eps)

    __radd__ = __add__

    def __neg__(self):
        return Dual(-self.val, -self.eps)

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    # The product rule, and the quotient rule $(a/c)' = (a'c - ac')/c^2$, both read off
    # $\varepsilon^2 = 0$.
    def __mul__(self, other):
        if isinstance(other, Dual):
            return Dual(self.val * other.val, self.val * other.eps + self.eps * other.val)
        return Dual(self.val * other, self.eps * other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, Dual):
            return Dual(
                self.val / other.val,
                (self.eps * other.val - self.val * other.eps) / (other.val * other.val),
            )
        return Dual(self.val / other, self.eps / other)

    def __rtruediv__(self, other):
        return Dual(other / self.val, -other * self.eps / (self.val * self.val))

    # A constant power uses $(a^p)' = p\,a^{p-1} a'$.
    def __pow__(self, power):
        if isinstance(power, Dual):
            # $a^b = e^{b\log a}$ when the exponent also varies.
            return exp(power * log(self))
        return Dual(self.val**power, power * self.val ** (power - 1) * self.eps)


# ## Elementary functions that accept floats, arrays and duals
#
# Each applies the chain rule $g(a + b\varepsilon) = g(a) + g'(a)\,b\,\varepsilon$ to duals, maps
# itself over numpy object arrays of duals, and otherwise defers to numpy. A function written with
# them, such as `lambda x: sin(x[0]) * exp(x[1])`, runs on plain arrays and on duals alike.


def _elementwise(x, on_dual: Callable, on_number: Callable):
    if isinstance(x, Dual):
        return on_dual(x)
    if isinstance(x, np.ndarray) and x.dtype == object:
        return np.array(
            [_elementwise(v, on_dual, on_number) for v in x.flat], dtype=object
        ).reshape(x.shape)
    return on_number(x)


# Each function is its value and its derivative, one lambda on the dual's parts.
def exp(x: Dual | float | np.ndarray) -> Dual | float | np.ndarray:
    """$e^x$; derivative $e^x$."""
    return _elementwise(x, lambda d: Dual(exp(d.val), exp(d.val) * d.eps), np.exp)


def log(x: Dual | float | np.ndarray) -> Dual | float | np.ndarray:
    r"""$\ln x$; derivative $1/x$."""
    return _elementwise(x, lambda d: Dual(log(d.val), d.eps / d.val), np.log)


# The trigonometric pair differentiate into each other; the derivatives of tanh and sqrt reuse
# the functions themselves.
def sin(x: Dual | float | np.ndarray) -> Dual | float | np.ndarray:
    r"""$\sin x$; derivative $\cos x$."""
    return _elementwise(x, lambda d: Dual(sin(d.val), cos(d.val) * d.eps), np.sin)


def cos(x: Dual | float | np.ndarray) -> Dual | float | np.ndarray:
    r"""$\cos x$; derivative $-\sin x$."""
    return _elementwise(x, lambda d: Dual(cos(d.val), -sin(d.val) * d.eps), np.cos)


def tanh(x: Dual | float | np.ndarray) -> Dual | float | np.ndarray:
    r"""$\tanh x$; derivative $1 - \tanh^2 x$."""
    return _elementwise(
        x, lambda d: Dual(tanh(d.val), (1 - tanh(d.val) * tanh(d.val)) * d.eps), np.tanh
    )


def sqrt(x: Dual | float | np.ndarray) -> Dual | float | np.ndarray:
    r"""$\sqrt x$; derivative $1/(2\sqrt x)$."""
    return _elementwise(x, lambda d: Dual(sqrt(d.val), d.eps / (2 * sqrt(d.val))), np.sqrt)


def _seed(x: np.ndarray, direction: np.ndarray) -> np.ndarray:
    # An object array of duals: value x_i, derivative part direction_i.
    return np.array([Dual(float(v), float(d)) for v, d in zip(x, direction)], dtype=object)


# The derivative part of each output, flattened; an output that is a plain number has
# derivative 0.
def _eps(y) -> np.ndarray:
    y = np.asarray(y, dtype=object).reshape(-1)
    return np.array([v.eps if isinstance(v, Dual) else 0.0 for v in y], dtype=float)


# Forward mode: seeding the inputs' derivative parts with $v$ gives $\nabla f^\top v$ in one
# pass; seeding with $e_j$ gives column $j$ of the Jacobian, so $n$ passes give all of it.
def directional_derivative(f: Callable, x: ArrayLike, v: ArrayLike) -> float:
    r"""$D_vf(x) = \nabla f(x)^\top v$ of scalar `f` at `x` `(n,)` along `v` `(n,)`: one dual pass."""
    x, v = _as_vector(x, "x"), _as_vector(v, "v")
    if x.shape != v.shape:
        raise ValueError(f"x and v must have the same shape, got {x.shape} and {v.shape}")
    return float(_eps(f(_seed(x, v)))[0])


def dual_jacobian(f: Callable, x: ArrayLike) -> np.ndarray:
    """Jacobian `(m, n)` of `f` at `x` `(n,)` by forward mode: column $j$ from the seed $e_j$."""
    x = _as_vector(x, "x")
    eye = np.eye(x.size)
    return np.stack([_eps(f(_seed(x, eye[j]))) for j in range(x.size)], axis=-1)


def dual_gradient(f: Callable, x: ArrayLike) -> np.ndarray:
    """Gradient `(n,)` of scalar `f` at `x` `(n,)`: the one-row Jacobian."""
    jac = dual_jacobian(f, x)
    if jac.shape[0] != 1:
        raise ValueError(f"f must return a scalar for a gradient, got {jac.shape[0]} outputs")
    return jac[0]


# Second derivatives by nesting: the inner duals carry $\varepsilon_1$, the outer ones
# $\varepsilon_2$, and `y.eps.eps` is the mixed coefficient. Only $j \ge i$ is computed.
def dual_hessian(f: Callable, x: ArrayLike) -> np.ndarray:
    r"""Hessian `(n, n)` of scalar `f` at `x` `(n,)` with nested duals (forward over forward).

    Seeding $x_k = (x_k + \delta_{ki}\varepsilon_1) + \delta_{kj}\varepsilon_2$ makes the
    $\varepsilon_1\varepsilon_2$ coefficient of $f$ equal to $H_{ij}$.
    """
    # One nested-dual pass per pair $j \ge i$: the inner tangent seeds $e_i$, the outer one $e_j$.
    x = _as_vector(x, "x")
    n = x.size
    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            seeded = np.array(
                [
                    Dual(Dual(float(x[k]), float(k == i)), Dual(float(k == j), 0.0))
                    for k in range(n)
                ],
                dtype=object,
            )
            y = np.asarray(f(seeded), dtype=object).reshape(-1)[0]
            hess[i, j] = hess[j, i] = float(y.eps.eps)
    return hess


# ## Taylor approximation


def taylor_approximation(
    f_x: float, grad: ArrayLike, delta: ArrayLike, hess: ArrayLike | None = None
) -> float:
    r"""First-order $f(x) + \nabla f^\top\delta$, or second-order with `hess` $+\frac12\delta^\top H\delta$.

    `grad` and `delta` are `(n,)`, `hess` is `(n, n)`.
    """
    grad, delta = _as_vector(grad, "grad"), _as_vector(delta, "delta")
    if grad.shape != delta.shape:
        raise ValueError(
            f"grad and delta must have the same shape, got {grad.shape}, {delta.shape}"
        )
    value = float(f_x) + float(grad @ delta)
    if hess is not None:
        hess = np.asarray(hess, dtype=float)
        if hess.shape != (delta.size, delta.size):
            raise ValueError(f"hess must have shape ({delta.size}, {delta.size}), got {hess.shape}")
        value += 0.5 * float(delta @ hess @ delta)
    return value


# The order of an approximation's error, read off a log-log fit of error against step.
def convergence_order(errors: ArrayLike, steps: ArrayLike) -> float:
    r"""The slope of $\log(\text{error})$ against $\log(\text{step})$, fitted by least squares:
    $p$ in error $\approx C\,h^p$ (2 for first-order Taylor, 3 for second-order)."""
    e, h = _as_vector(errors, "errors"), _as_vector(steps, "steps")
    if e.shape != h.shape or np.any(e <= 0) or np.any(h <= 0):
        raise ValueError("errors and steps must be positive and of the same shape")
    slope = np.polyfit(np.log(h), np.log(e), 1)[0]
    return float(slope) if math.isfinite(slope) else float("nan")
