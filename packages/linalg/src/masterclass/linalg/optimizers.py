r"""# Optimization algorithms: SGD, AdaGrad, RMSprop, Adam, AdamW

An optimizer turns a gradient $g_t = \nabla f(\theta_{t-1})$ into a step. Plain gradient descent
moves against the gradient, $\theta_t = \theta_{t-1} - \eta g_t$, with one learning rate $\eta$ for
every coordinate. The methods of this chapter add two ideas to it:

- **memory** (momentum): average the gradients over time, so that directions where they agree
  accumulate speed and directions where they oscillate cancel out;
- **per-coordinate scale** (AdaGrad, RMSprop, Adam): divide each coordinate's step by a running
  estimate of that coordinate's gradient magnitude, so that steep and flat directions move alike.

Each algorithm is written as a pair of **pure functions**:

```python
state = adam_init(param)
param, state = adam_step(param, grad, state, lr=1e-3)
```

`<name>_init` builds the optimizer's state (a small `NamedTuple` of arrays shaped like `param`,
plus the integer step count); `<name>_step` returns the new parameter and the new state and
changes nothing in place. The updates use only `+ - * /` and `** 0.5`, never a library call, so the
same function runs on numpy arrays, on torch tensors, or on Python floats. Module 8 (`training`)
wraps them as `torch.optim` optimizers; the tests run each one side by side with `torch.optim` for
a hundred steps in float64 and find the same numbers to within rounding. (With torch parameters
that require gradients, call the step under `torch.no_grad()`, as `torch.optim` does, so that the
update is not recorded in the autograd graph.)

The hyperparameters have `torch.optim`'s names, defaults and exact formulas, including its
conventions where the papers differ: the first SGD momentum step copies the gradient (no
dampening), AdaGrad adds $\epsilon$ *outside* the square root, Adam's $\epsilon$ is added after
bias-correcting the second moment, and AdamW decays the weights before the Adam step.

![Trajectories of SGD, momentum, Nesterov, AdaGrad, RMSprop and Adam on the Rosenbrock function, and their loss per step](figures/rosenbrock.png)

**Adam's bias correction**, derived. Unroll $m_t = \beta_1 m_{t-1} + (1-\beta_1)g_t$ from
$m_0 = 0$: $m_t = (1-\beta_1)\sum_{s=1}^t \beta_1^{t-s}g_s$. If the gradients have a stationary
mean, $E[m_t] = (1-\beta_1)\sum_{s=1}^t\beta_1^{t-s}E[g] = (1 - \beta_1^t)E[g]$ (a geometric
sum), so $\hat m_t = m_t/(1-\beta_1^t)$ is unbiased; the same holds for $v_t$ and $E[g^2]$. At
$t = 1$ the corrections are exact: $\hat m_1 = g_1$ and $\hat v_1 = g_1^2$, so the first step is
$\eta\,g_1/(|g_1| + \epsilon) \approx \eta\operatorname{sign}(g_1)$ whatever the gradient's
scale: Adam's steps are measured in units of $\eta$. Without the correction the first step would
be $\eta(1-\beta_1)/\sqrt{1-\beta_2} \approx 3.2\eta$ at the defaults, a jump at the start.
AdaGrad's accumulator $G_t = \sum_s g_s^2$ only grows, so its effective step $\eta/\sqrt{G_t}$
decays like $1/\sqrt t$ for gradients of constant size; RMSprop replaces the sum by an
exponential average, which forgets, so the step does not decay.

>>> p, s = adam_step(1.0, 1e-2, adam_init(1.0), lr=0.1)
>>> round(1.0 - p, 6)  # a tiny gradient, and still a step of lr
0.1

References: Polyak (1964) on momentum; Nesterov (1983); Duchi, Hazan & Singer (2011), *Adaptive
subgradient methods* (AdaGrad); Tieleman & Hinton (2012), lecture 6.5 (RMSprop); Kingma & Ba
(2015), *Adam*; Loshchilov & Hutter (2019), *Decoupled weight decay regularization* (AdamW);
Goodfellow, Bengio & Courville, *Deep Learning*, §8.3–8.5.

Left out: AMSGrad and `maximize` (both need an element-wise maximum or sign flip that torch handles
with flags; they add nothing to the lesson), Adam's `foreach`/`fused` kernels (same arithmetic,
different speed), and second-order methods (L-BFGS).

## Exercises

1. Write `adagrad_step(param, grad, sum_sq, lr)`: one AdaGrad step, returning the new parameter
   and accumulator. Check it: `uv run pytest --exercise linalg.optimizers`.
2. Write `rmsprop_step(param, grad, sq_avg, lr)`: one RMSprop step ($\alpha = 0.99$), returning
   the new parameter and running average. Check it: `uv run pytest --exercise linalg.optimizers`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from masterclass.linalg._validation import (
    _check_nonnegative,
    _check_unit_interval,
)

# `Array` is anything that supports element-wise `+ - * /` and `** 0.5`: a numpy array, a torch
# tensor or a float. We do not name a library type, because the point is that any of them works.
Array = Any


def _check_same_shape(param: Array, grad: Array) -> None:
    # A gradient must be shaped exactly like the parameter it belongs to; broadcasting would
    # silently apply one coordinate's gradient to many parameters.
    p_shape = tuple(getattr(param, "shape", ()))
    g_shape = tuple(getattr(grad, "shape", ()))
    if p_shape != g_shape:
        raise ValueError(f"grad has shape {g_shape} but param has shape {p_shape}; they must match")


# ## SGD with momentum, Nesterov and weight decay
#
# With weight decay $\lambda$ the gradient first becomes $g_t \leftarrow g_t + \lambda\theta_{t-1}$
# (the gradient of an added $\frac{\lambda}{2}\lVert\theta\rVert^2$ penalty). Momentum keeps a
# velocity
#
# $$b_t = \mu b_{t-1} + (1 - \tau) g_t, \qquad b_1 = g_1,$$
#
# with momentum $\mu$ and dampening $\tau$, and steps along it: $\theta_t = \theta_{t-1} - \eta b_t$.
# On a quadratic valley the velocity grows to $g/(1-\mu)$ along the floor while the oscillation
# across the walls averages out. **Nesterov** momentum looks one step ahead: it steps along
# $g_t + \mu b_t$, the gradient plus the velocity the next step will add, which damps overshoot.


class SGDState(NamedTuple):
    """State of SGD: the momentum buffer (shaped like the parameter) and the step count."""

    momentum_buffer: Array  # like param
    step: int


def sgd_init(param: Array) -> SGDState:
    """Return the initial SGD state for `param`: a zero momentum buffer and step 0."""
    return SGDState(momentum_buffer=param * 0, step=0)


def sgd_step(
    param: Array,
    grad: Array,
    state: SGDState,
    *,
    # Keyword-only hyperparameters, named and defaulted as in `torch.optim.SGD`.
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> tuple[Array, SGDState]:
    r"""One SGD step, as `torch.optim.SGD` computes it.

    Args:
        param: parameters, any shape.
        grad: gradient of the loss at `param`, same shape.
        state: from `sgd_init` or a previous `sgd_step`.
        lr: learning rate $\eta$.
        momentum: momentum factor $\mu \in [0, 1)$.
        dampening: dampening $\tau$ of the gradient added to the buffer.
        weight_decay: L2 penalty $\lambda$ added to the gradient.
        nesterov: use Nesterov momentum (needs `momentum > 0` and `dampening == 0`).

    Returns:
        `(new_param, new_state)`.

    >>> p, s = sgd_step(1.0, 0.5, sgd_init(1.0), lr=0.1)
    >>> round(p, 12)
    0.95
    """
    # Check the ranges; Nesterov's look-ahead needs an undamped velocity.
    _check_same_shape(param, grad)
    _check_nonnegative(lr, "lr")
    _check_unit_interval(momentum, "momentum")
    _check_unit_interval(dampening, "dampening", closed_right=True)
    _check_nonnegative(weight_decay, "weight_decay")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov=True needs momentum > 0 and dampening == 0")

    # The L2 penalty joins the gradient before the momentum buffer sees it, as in torch.
    if weight_decay != 0:
        grad = grad + weight_decay * param
    buf = state.momentum_buffer
    if momentum != 0:
        # The first step copies the gradient into the buffer; afterwards it is a damped average.
        buf = grad if state.step == 0 else momentum * buf + (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    return param - lr * grad, SGDState(momentum_buffer=buf, step=state.step + 1)


# ## AdaGrad
#
# AdaGrad divides each coordinate by the root of the *sum* of its squared gradients so far:
#
# $$s_t = s_{t-1} + g_t^2, \qquad
#   \theta_t = \theta_{t-1} - \frac{\eta_t}{\sqrt{s_t} + \epsilon}\, g_t, \qquad
#   \eta_t = \frac{\eta}{1 + (t-1)\,\delta}.$$
#
# Rare features (sparse gradients) keep a small $s_t$ and so a large step; frequent ones slow
# down. Because $s_t$ only grows, the effective learning rate decays like $1/\sqrt t$: good for
# convex problems, too aggressive for long non-convex training, which motivates RMSprop.


class AdagradState(NamedTuple):
    """State of AdaGrad: the running sum of squared gradients and the step count."""

    sum_sq: Array  # like param
    step: int


def adagrad_init(param: Array, *, initial_accumulator_value: float = 0.0) -> AdagradState:
    """Return the initial AdaGrad state: the accumulator filled with `initial_accumulator_value`."""
    _check_nonnegative(initial_accumulator_value, "initial_accumulator_value")
    return AdagradState(sum_sq=param * 0 + initial_accumulator_value, step=0)


# One step: the decayed rate $\eta_t$, the accumulated squares, then a per-coordinate scaled step.
def adagrad_step(
    param: Array,
    grad: Array,
    state: AdagradState,
    *,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
) -> tuple[Array, AdagradState]:
    r"""One AdaGrad step, as `torch.optim.Adagrad` computes it.

    Args:
        param, grad: parameters and gradient, same shape.
        state: from `adagrad_init` or a previous `adagrad_step`.
        lr: base learning rate $\eta$; lr_decay: $\delta$ in $\eta_t = \eta / (1 + (t-1)\delta)$.
        weight_decay: L2 penalty added to the gradient; eps: added to $\sqrt{s_t}$.

    Returns:
        `(new_param, new_state)`.
    """
    _check_same_shape(param, grad)
    _check_nonnegative(lr, "lr")
    _check_nonnegative(lr_decay, "lr_decay")
    _check_nonnegative(weight_decay, "weight_decay")
    _check_nonnegative(eps, "eps")

    # $t$ counts from 1; the L2 term joins the gradient before it is squared into the sum.
    step = state.step + 1
    if weight_decay != 0:
        grad = grad + weight_decay * param
    clr = lr / (1 + (step - 1) * lr_decay)
    sum_sq = state.sum_sq + grad * grad
    new_param = param - clr * grad / (sum_sq**0.5 + eps)
    return new_param, AdagradState(sum_sq=sum_sq, step=step)


# ## RMSprop
#
# RMSprop replaces AdaGrad's sum by an exponential moving average with decay $\alpha$, so old
# gradients are forgotten and the step size does not vanish:
#
# $$v_t = \alpha v_{t-1} + (1-\alpha) g_t^2, \qquad
#   \theta_t = \theta_{t-1} - \eta\, \frac{g_t}{\sqrt{v_t} + \epsilon}.$$
#
# The **centered** variant also tracks the mean gradient $m_t$ and divides by the standard
# deviation $\sqrt{v_t - m_t^2}$ instead of the root mean square. With **momentum** $\mu$ the
# scaled gradient feeds a velocity $b_t = \mu b_{t-1} + g_t / (\sqrt{v_t} + \epsilon)$ and the step
# is $-\eta b_t$.


class RMSpropState(NamedTuple):
    """State of RMSprop: the averages of $g^2$ and $g$, the momentum buffer, the step count."""

    square_avg: Array  # like param
    grad_avg: Array  # like param (used only when centered)
    momentum_buffer: Array  # like param (used only when momentum > 0)
    step: int


def rmsprop_init(param: Array) -> RMSpropState:
    """Return the initial RMSprop state for `param`: zero averages and buffer, step 0."""
    zero = param * 0
    return RMSpropState(square_avg=zero, grad_avg=zero, momentum_buffer=zero, step=0)


# One step: the average of $g^2$, centred by the average of $g$ if asked, then either a velocity
# or a direct scaled step.
def rmsprop_step(
    param: Array,
    grad: Array,
    state: RMSpropState,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> tuple[Array, RMSpropState]:
    r"""One RMSprop step, as `torch.optim.RMSprop` computes it.

    Args:
        param, grad: parameters and gradient, same shape.
        state: from `rmsprop_init` or a previous `rmsprop_step`.
        lr: learning rate; alpha: decay of the squared-gradient average; eps: added to its root.
        weight_decay: L2 penalty added to the gradient; momentum: velocity factor $\mu$.
        centered: divide by the gradient's standard deviation instead of its root mean square.

    Returns:
        `(new_param, new_state)`.
    """
    # `alpha` may be 1 (the average never moves), `momentum` must stay below 1.
    _check_same_shape(param, grad)
    _check_nonnegative(lr, "lr")
    _check_unit_interval(alpha, "alpha", closed_right=True)
    _check_nonnegative(eps, "eps")
    _check_nonnegative(weight_decay, "weight_decay")
    _check_unit_interval(momentum, "momentum")

    # The L2 term joins the gradient, and the square average is updated before it is used.
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg = alpha * state.square_avg + (1 - alpha) * grad * grad
    grad_avg = state.grad_avg
    if centered:
        # torch updates the mean with `lerp`: $m + (1-\alpha)(g - m)$, the same average.
        grad_avg = grad_avg + (1 - alpha) * (grad - grad_avg)
        avg = (square_avg - grad_avg * grad_avg) ** 0.5 + eps
    else:
        avg = square_avg**0.5 + eps
    buf = state.momentum_buffer
    if momentum > 0:
        buf = momentum * buf + grad / avg
        new_param = param - lr * buf
    else:
        new_param = param - lr * grad / avg
    return new_param, RMSpropState(square_avg, grad_avg, buf, state.step + 1)


# ## Adam
#
# Adam keeps both averages, of the gradient (first moment, momentum-like) and of its square
# (second moment, RMSprop-like):
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2.$$
#
# Both start at zero, so early on they are biased towards zero by the factors $1-\beta_1^t$ and
# $1-\beta_2^t$; dividing these out gives unbiased estimates, and the step is
#
# $$\theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
#   \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}.$$
#
# The ratio $m_t/\sqrt{v_t}$ is a signal-to-noise ratio, bounded by about 1, so $\eta$ is roughly
# the largest distance any coordinate moves in one step, whatever the scale of the loss.


class AdamState(NamedTuple):
    """State of Adam and AdamW: first and second moment averages and the step count."""

    exp_avg: Array  # like param
    exp_avg_sq: Array  # like param
    step: int


def adam_init(param: Array) -> AdamState:
    """Return the initial Adam state for `param`: zero moments and step 0."""
    return AdamState(exp_avg=param * 0, exp_avg_sq=param * 0, step=0)


def _adam_update(
    param: Array,
    grad: Array,
    state: AdamState,
    lr: float,
    betas: tuple[float, float],
    eps: float,
) -> tuple[Array, AdamState]:
    # The shared core of Adam and AdamW, after any weight decay has been applied.
    beta1, beta2 = betas
    step = state.step + 1
    # torch writes the first moment as `lerp`: $m + (1-\beta_1)(g - m)$.
    exp_avg = state.exp_avg + (1 - beta1) * (grad - state.exp_avg)
    exp_avg_sq = beta2 * state.exp_avg_sq + (1 - beta2) * grad * grad
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    denom = exp_avg_sq**0.5 / bias_correction2**0.5 + eps
    return param - step_size * exp_avg / denom, AdamState(exp_avg, exp_avg_sq, step)


# The checks Adam and AdamW share: both betas in $[0, 1)$, non-negative rates.
def _check_adam_args(param, grad, lr, betas, eps, weight_decay) -> None:
    _check_same_shape(param, grad)
    _check_nonnegative(lr, "lr")
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    _check_unit_interval(betas[0], "betas[0]")
    _check_unit_interval(betas[1], "betas[1]")
    _check_nonnegative(eps, "eps")
    _check_nonnegative(weight_decay, "weight_decay")


# Adam: the shared update, with L2 weight decay entering through the gradient.
def adam_step(
    param: Array,
    grad: Array,
    state: AdamState,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[Array, AdamState]:
    r"""One Adam step, as `torch.optim.Adam` computes it (L2 weight decay added to the gradient).

    Args:
        param, grad: parameters and gradient, same shape.
        state: from `adam_init` or a previous `adam_step`.
        lr: learning rate; betas: decays $(\beta_1, \beta_2)$ of the two moments.
        eps: added to the bias-corrected root of the second moment.
        weight_decay: L2 penalty added to the gradient (so it is rescaled by Adam; see AdamW).

    Returns:
        `(new_param, new_state)`.

    >>> p, s = adam_step(1.0, 3.0, adam_init(1.0), lr=0.1)
    >>> round(p, 6)  # the first Adam step has length lr whatever the gradient's size
    0.9
    """
    # Adding $\lambda\theta$ to the gradient means the adaptive denominator rescales the decay too.
    _check_adam_args(param, grad, lr, betas, eps, weight_decay)
    if weight_decay != 0:
        grad = grad + weight_decay * param
    return _adam_update(param, grad, state, lr, betas, eps)


# ## AdamW: decoupled weight decay
#
# With Adam, an L2 penalty's gradient $\lambda\theta$ is divided by $\sqrt{v_t}$ like any other
# gradient, so parameters with large gradients are barely decayed. AdamW *decouples* the decay
# from the adaptive step: it shrinks the weights directly, $\theta \leftarrow (1 - \eta\lambda)\theta$,
# and then takes the Adam step on the loss gradient alone. This is the optimizer used to train
# nearly every large language model.


def adamw_init(param: Array) -> AdamState:
    """Return the initial AdamW state for `param` (the same state as Adam)."""
    return adam_init(param)


# The step shrinks the weights first, then takes the plain Adam update on the loss gradient alone.
def adamw_step(
    param: Array,
    grad: Array,
    state: AdamState,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> tuple[Array, AdamState]:
    r"""One AdamW step, as `torch.optim.AdamW` computes it (decoupled weight decay).

    Args:
        param, grad: parameters and gradient, same shape.
        state: from `adamw_init` or a previous `adamw_step`.
        lr, betas, eps: as in `adam_step`.
        weight_decay: $\lambda$ in the decay $\theta \leftarrow (1 - \eta\lambda)\theta$.

    Returns:
        `(new_param, new_state)`.
    """
    _check_adam_args(param, grad, lr, betas, eps, weight_decay)
    param = param * (1 - lr * weight_decay)
    return _adam_update(param, grad, state, lr, betas, eps)
