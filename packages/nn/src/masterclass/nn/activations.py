r"""# Activation functions

A neural network is a stack of affine maps; without a nonlinearity between them the stack collapses
to a single affine map, however deep. The *activation function* $\phi$ applied element-wise after
each affine layer is what lets depth buy expressive power.

This chapter writes each classic activation from its formula, and beside it the derivative
$\phi'(x)$ that backpropagation multiplies into the upstream gradient. The forward functions are
plain tensor expressions, so torch's autograd differentiates them too; the tests check that our
hand-written derivatives equal autograd's, and that the forward values equal `torch.nn.functional`.

| name | $\phi(x)$ | $\phi'(x)$ |
|---|---|---|
| sigmoid | $\sigma(x) = 1 / (1 + e^{-x})$ | $\sigma(x)(1 - \sigma(x))$ |
| tanh | $(e^x - e^{-x}) / (e^x + e^{-x})$ | $1 - \tanh^2 x$ |
| ReLU | $\max(0, x)$ | $[x > 0]$ |
| LeakyReLU | $x$ if $x > 0$ else $\alpha x$ | $1$ or $\alpha$ |
| ELU | $x$ if $x > 0$ else $\alpha(e^x - 1)$ | $1$ or $\alpha e^x$ |
| GELU | $x\,\Phi(x)$ | $\Phi(x) + x\,\varphi(x)$ |
| SiLU | $x\,\sigma(x)$ | $\sigma(x)(1 + x(1 - \sigma(x)))$ |
| softplus | $\log(1 + e^x)$ | $\sigma(x)$ |
| Mish | $x \tanh(\mathrm{softplus}(x))$ | see `mish_grad` |

References: Hendrycks & Gimpel, *Gaussian Error Linear Units* (2016); Ramachandran et al.,
*Searching for Activation Functions* (2017, Swish/SiLU); Misra, *Mish* (2019); Clevert et al.,
*ELU* (2015).

Left out: parametric activations with learned slopes (PReLU), and the derivative at the kinks
(ReLU at 0 uses the subgradient 0, as torch does).

## Exercises

1. Write `sigmoid_derivative(x)`: $\sigma'(x)$ written with $\sigma$ itself,
   $\sigma(x)(1 - \sigma(x))$ (derive it from $\sigma = 1/(1 + e^{-x})$ first). Check it:
   `uv run pytest --exercise nn.activations`.
2. Write `silu_derivative(x)` for $\mathrm{SiLU}(x) = x\,\sigma(x)$, by the product rule. Check
   it: `uv run pytest --exercise nn.activations`.
3. Write `gelu_tanh(x)`: GELU with the tanh approximation
   $\tfrac12 x\,(1 + \tanh(\sqrt{2/\pi}\,(x + 0.044715\,x^3)))$. Check it:
   `uv run pytest --exercise nn.activations`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

# ## Squashing functions
#
# The logistic sigmoid maps $\mathbb{R}$ onto $(0, 1)$. Written naively, $1/(1+e^{-x})$ overflows
# $e^{-x}$ for very negative $x$. The stable form only ever exponentiates $-|x| \le 0$: with
# $z = e^{-|x|} \in (0, 1]$, $\sigma(x) = 1/(1+z)$ for $x \ge 0$ and $z/(1+z)$ for $x < 0$.
# Likewise $\tanh x = \operatorname{sign}(x)\,(1-e^{-2|x|})/(1+e^{-2|x|})$, with
# $1 - e^{-2|x|}$ computed as `-expm1(-2|x|)` so that small $|x|$ keeps its relative precision.
# $|x|$ is taken with `where(x >= 0, x, -x)` so that autograd's slope at 0 is the true one.


def sigmoid(x: Tensor) -> Tensor:
    r"""Logistic sigmoid $\sigma(x) = 1/(1+e^{-x})$, element-wise. Any shape.

    >>> sigmoid(torch.tensor([-2.0, 0.0, 2.0])).round(decimals=4).tolist()
    [0.11919999867677689, 0.5, 0.8808000087738037]
    """
    a = torch.where(x >= 0, x, -x)  # |x|, slope 1 at 0
    z = torch.exp(-a)  # in (0, 1]: never overflows
    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))


# The derivative is written with the function itself: $\sigma' = \sigma(1 - \sigma)$.
def sigmoid_grad(x: Tensor) -> Tensor:
    r"""$\sigma'(x) = \sigma(x)(1-\sigma(x))$, element-wise."""
    s = sigmoid(x)
    return s * (1 - s)


# tanh by the same trick, through `expm1` so that a small $|x|$ keeps its relative precision.
def tanh(x: Tensor) -> Tensor:
    r"""Hyperbolic tangent $\tanh x = 2\sigma(2x) - 1$, element-wise."""
    a = torch.where(x >= 0, x, -x)  # |x|, slope 1 at 0
    e = torch.expm1(-2 * a)  # e^{-2|x|} - 1, in (-1, 0]
    t = -e / (2 + e)  # (1 - e^{-2|x|}) / (1 + e^{-2|x|})
    return torch.where(x >= 0, t, -t)


def tanh_grad(x: Tensor) -> Tensor:
    r"""$\tanh'(x) = 1 - \tanh^2 x$."""
    t = tanh(x)
    return 1 - t * t


# ## Rectifiers
#
# ReLU passes positive inputs unchanged and zeroes the rest; its derivative is 1 or 0, so gradients
# neither shrink nor grow through active units, which is why it displaced the sigmoid in deep
# networks. A unit whose input stays negative never learns again ("dying ReLU"); LeakyReLU keeps a
# small slope $\alpha$ there, ELU bends smoothly towards $-\alpha$ so that mean activations sit
# closer to zero.


def relu(x: Tensor) -> Tensor:
    r"""$\max(0, x)$, element-wise (gradient 0 at $x = 0$, as `torch.relu`)."""
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_grad(x: Tensor) -> Tensor:
    """$[x > 0]$ (subgradient 0 at $x = 0$, as torch)."""
    return (x > 0).to(x.dtype)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    r"""$x$ for $x > 0$, else $\alpha x$ with $\alpha$ = `negative_slope`."""
    return torch.where(x > 0, x, negative_slope * x)


def leaky_relu_grad(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    r"""$1$ for $x > 0$, else $\alpha$."""
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, negative_slope))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    r"""$x$ for $x > 0$, else $\alpha(e^x - 1)$ (`expm1` keeps precision near 0)."""
    # The inner `where` keeps `expm1` from overflowing on large positive inputs that the outer
    # `where` discards (an `inf` there would poison the gradient with `0 * inf = nan`).
    neg = torch.where(x > 0, torch.zeros_like(x), x)
    return torch.where(x > 0, x, alpha * torch.expm1(neg))


def elu_grad(x: Tensor, alpha: float = 1.0) -> Tensor:
    r"""$1$ for $x > 0$, else $\alpha e^x$."""
    neg = torch.where(x > 0, torch.zeros_like(x), x)
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(neg))


# ## Smooth gates: GELU, SiLU, softplus, Mish
#
# GELU weights its input by the probability that a standard normal falls below it,
# $x\,\Phi(x)$ with $\Phi(x) = \tfrac12(1 + \operatorname{erf}(x/\sqrt2))$. GPT-2 used the tanh
# approximation
# $$\Phi(x) \approx \tfrac12\bigl(1 + \tanh(\sqrt{2/\pi}\,(x + 0.044715\,x^3))\bigr),$$
# which torch exposes as `approximate="tanh"`; both are here, because reproducing a model's
# outputs means using the same one it was trained with.

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


def _check_approximate(approximate: str) -> None:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    r"""GELU $x\Phi(x)$; `approximate="tanh"` uses the tanh approximation of $\Phi$."""
    _check_approximate(approximate)
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_C * x * x * x)
        return 0.5 * x * (1 + tanh(inner))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2.0)))


# The derivative by the product rule, $\Phi(x) + x\varphi(x)$, or through the chain rule of the
# tanh approximation.
def gelu_grad(x: Tensor, approximate: str = "none") -> Tensor:
    r"""Derivative of `gelu`: $\Phi(x) + x\varphi(x)$ (exact) or its tanh counterpart."""
    _check_approximate(approximate)
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_C * x * x * x)
        t = tanh(inner)
        d_inner = _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2.0)))
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return cdf + x * pdf


# SiLU (also called Swish with $\beta = 1$) gates by the sigmoid instead of $\Phi$; it is the
# activation inside SwiGLU feed-forward blocks.


# Written as `x * sigmoid(x)`, autograd would keep three tensors of the input's size for the
# backward (the input, $e^{-|x|}$ and $\sigma(x)$): inside a SwiGLU block that is most of the
# activation memory. `_SiLU` keeps $x$ and $\sigma(x)$, two tensors, exactly what
# `x * torch.sigmoid(x)` keeps, and applies the derivative $\sigma(1 + x(1-\sigma))$ (below)
# directly, so the model's saved bytes stay those of Module 4's formula.
class _SiLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        s = sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        x, s = ctx.saved_tensors
        return grad * (s * (1 + x * (1 - s)))


def silu(x: Tensor) -> Tensor:
    r"""SiLU / Swish $x\,\sigma(x)$; the backward keeps `x` and $\sigma(x)$ (see `_SiLU`).

    >>> silu(torch.tensor([-1.0, 0.0, 1.0])).round(decimals=4).tolist()
    [-0.2689000070095062, 0.0, 0.7311000227928162]
    """
    # Tracers (TorchScript, the ONNX exporter) cannot record a Python autograd.Function, and
    # without a backward to come there is nothing to save: then the plain formula.
    if torch.jit.is_tracing() or not (torch.is_grad_enabled() and x.requires_grad):
        return x * sigmoid(x)
    return _SiLU.apply(x)


def silu_grad(x: Tensor) -> Tensor:
    r"""$\sigma(x)(1 + x(1 - \sigma(x)))$."""
    s = sigmoid(x)
    return s * (1 + x * (1 - s))


# Softplus is a smooth ReLU. The naive $\log(1 + e^x)$ overflows for large $x$. Written as
# $\log(e^0 + e^x)$ it is a log-sum-exp, which `torch.logaddexp` evaluates stably as
# $\max(x, 0) + \log(1 + e^{-|x|})$, never exponentiating a positive number, and whose gradient
# is exactly $\sigma(x)$ everywhere (including $x = 0$, where the $\max$ form has a kink in
# each term).


def softplus(x: Tensor) -> Tensor:
    r"""$\log(1 + e^x) = \log(e^0 + e^x)$, computed stably."""
    return torch.logaddexp(x, torch.zeros_like(x))


def softplus_grad(x: Tensor) -> Tensor:
    r"""$\mathrm{softplus}'(x) = \sigma(x)$."""
    return sigmoid(x)


# Mish, $x \tanh(\mathrm{softplus}(x))$, differentiates by the product and chain rules:
# $$\mathrm{mish}'(x) = \tanh(s) + x\,(1 - \tanh^2 s)\,\sigma(x), \qquad s = \mathrm{softplus}(x).$$


def mish(x: Tensor) -> Tensor:
    r"""Mish $x\tanh(\mathrm{softplus}(x))$."""
    return x * tanh(softplus(x))


def mish_grad(x: Tensor) -> Tensor:
    r"""$\tanh(s) + x(1-\tanh^2 s)\sigma(x)$ with $s = \mathrm{softplus}(x)$."""
    t = tanh(softplus(x))
    return t + x * (1 - t * t) * sigmoid(x)


# ## Lookup by name
#
# Configs name their activation with a string (`"gelu"`, `"silu"`); these tables turn the name
# into the function and its derivative.

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
    "gelu_tanh": lambda x: gelu(x, approximate="tanh"),
    "silu": silu,
    "softplus": softplus,
    "mish": mish,
    "sigmoid": sigmoid,
    "tanh": tanh,
}

# Their derivatives, under the same names.
DERIVATIVES: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": relu_grad,
    "leaky_relu": leaky_relu_grad,
    "elu": elu_grad,
    "gelu": gelu_grad,
    "gelu_tanh": lambda x: gelu_grad(x, approximate="tanh"),
    "silu": silu_grad,
    "softplus": softplus_grad,
    "mish": mish_grad,
    "sigmoid": sigmoid_grad,
    "tanh": tanh_grad,
}


# Lookup with an error that lists the names on offer.
def get_activation(name: str) -> Callable[[Tensor], Tensor]:
    """Return the activation called `name` (a key of `ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]
