r"""# Optimizers for the engine: SGD and Adam

An optimizer holds references to parameters and, after `backward()` has filled their `.grad`,
moves each one. The update rules are PyTorch's, term for term, so that a training run on the
engine and one in `torch.optim` stay equal to float64 rounding (the tests run them side by side).

**SGD with momentum and weight decay** (`torch.optim.SGD`, dampening 0):

$$g_t = \nabla_\theta \mathcal{L} + \lambda\,\theta_{t-1}, \qquad
  b_t = \mu\, b_{t-1} + g_t \;(b_1 = g_1), \qquad \theta_t = \theta_{t-1} - \eta\, b_t.$$

**Adam** (Kingma & Ba, 2015, arXiv:1412.6980; `torch.optim.Adam` with L2 weight decay):

$$m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2,$$
$$\theta_t = \theta_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
  \frac{m_t}{\sqrt{v_t}/\sqrt{1 - \beta_2^t} + \epsilon}.$$

One algorithm, one implementation: the arithmetic above is Module 1's
(`masterclass.linalg.optimizers.sgd_step` / `adam_step`, pure step functions over any array type).
What this file adds is the *object* PyTorch users know: it holds the parameter list and one state
per parameter, reads `.grad` after `backward()`, and writes the new arrays back. Updates act on the
raw numpy arrays: an optimizer step is never part of a graph.

What momentum does, derived. Unrolling $b_t = \mu b_{t-1} + g_t$ gives
$b_t = \sum_{s=1}^t \mu^{t-s} g_s$: a sum of past gradients with geometrically decaying weights.
For a gradient that stays constant, $g_s = g$, it tends to $g/(1-\mu)$, so along a consistent
direction the step is $\eta/(1-\mu)$ (ten times $\eta$ at $\mu = 0.9$), while gradients that flip
sign from step to step mostly cancel in the sum. Weight decay enters $g_t$ before the buffer, so
with momentum it, too, is amplified by $1/(1-\mu)$.

Left out: parameter groups and learning-rate schedules (the step functions take `lr` per call, so a
schedule from `masterclass.linalg.schedules` can set `opt.lr` before each step).

## Exercises

1. Write `sgd_momentum_step(theta, grad, buf, lr, momentum, weight_decay)`: one step of PyTorch's
   SGD (`buf` is None at the first step), returning `(theta, buf)`. Check it:
   `uv run pytest --exercise autograd.optim`.
2. Write `adam_step(theta, grad, m, v, t, lr)`: one Adam step at step `t` (1-based), returning
   `(theta, m, v)`. Check it: `uv run pytest --exercise autograd.optim`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from masterclass.autograd.module import Parameter
from masterclass.linalg.optimizers import adam_init, adam_step, sgd_init, sgd_step


# The base class holds the parameter list; subclasses keep one state per parameter and leave the
# arithmetic to `masterclass.linalg.optimizers`.
class Optimizer:
    """Base class: keeps the parameter list and clears gradients."""

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, got lr={lr}")
        self.lr = lr

    def zero_grad(self) -> None:
        """Clear the gradients of all parameters."""
        for p in self.params:
            p.zero_grad()

    def _grads(self) -> list[np.ndarray | None]:
        return [None if p.grad is None else p.grad.data for p in self.params]


# SGD: the state is the momentum buffer; a parameter with no gradient is left alone.
class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    >>> from masterclass.autograd.module import Parameter
    >>> w = Parameter([1.0, -2.0])
    >>> (w * w).sum().backward()  # gradient 2w
    >>> SGD([w], lr=0.25).step()
    >>> w.data.tolist()  # w - 0.25 * 2w
    [0.5, -1.0]
    """

    # The hyperparameters are stored once and passed to every call of `sgd_step`; each parameter
    # starts with a zero momentum buffer.
    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.hyper = {"momentum": momentum, "weight_decay": weight_decay, "nesterov": nesterov}
        self.states = [sgd_init(p.data) for p in self.params]

    # Each parameter's update is `linalg.optimizers.sgd_step` on its array, with its own state.
    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        for i, (p, g) in enumerate(zip(self.params, self._grads(), strict=True)):
            if g is not None:
                p.data, self.states[i] = sgd_step(
                    p.data, g, self.states[i], lr=self.lr, **self.hyper
                )


# Adam: the state is the two moment averages and the step count, per parameter.
class Adam(Optimizer):
    """Adam with bias correction, the same arithmetic as `torch.optim.Adam`."""

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.hyper = {"betas": betas, "eps": eps, "weight_decay": weight_decay}
        self.states = [adam_init(p.data) for p in self.params]

    # Each parameter's update is `linalg.optimizers.adam_step`, with its own moments and count.
    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        for i, (p, g) in enumerate(zip(self.params, self._grads(), strict=True)):
            if g is not None:
                p.data, self.states[i] = adam_step(
                    p.data, g, self.states[i], lr=self.lr, **self.hyper
                )
