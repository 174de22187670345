"""# Optimizers for the engine: SGD and Adam

An optimizer holds references to parameters and, after `backward()` has filled their `.grad`,
moves each one. The update rules are PyTorch's, term for term, so that a training run on the
engine and one in `torch.optim` stay equal to float64 rounding (the tests run them side by side).

**SGD with momentum and weight decay** (`torch.optim.SGD`, dampening 0):

$$g_t = \\nabla_\\theta \\mathcal{L} + \\lambda\\,\\theta_{t-1}, \\qquad
  b_t = \\mu\\, b_{t-1} + g_t \\;(b_1 = g_1), \\qquad \\theta_t = \\theta_{t-1} - \\eta\\, b_t.$$

**Adam** (Kingma & Ba, 2015, arXiv:1412.6980; `torch.optim.Adam` with L2 weight decay):

$$m_t = \\beta_1 m_{t-1} + (1 - \\beta_1) g_t, \\quad v_t = \\beta_2 v_{t-1} + (1 - \\beta_2) g_t^2,$$
$$\\theta_t = \\theta_{t-1} - \\frac{\\eta}{1 - \\beta_1^t}\\,
  \\frac{m_t}{\\sqrt{v_t}/\\sqrt{1 - \\beta_2^t} + \\epsilon}.$$

Updates act on the raw numpy arrays under `no_grad` semantics: an optimizer step is not part of
any graph. Module 1 (`masterclass.linalg`) teaches the full family of optimizers as step functions
over any array type; these two are the minimum the engine needs to train, kept here so the engine
chapter is self-contained.

Left out: parameter groups, Nesterov, AMSGrad, AdamW's decoupled decay, learning-rate schedules.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from masterclass.autograd.module import Parameter


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


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay."""

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.buffers: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        for i, (p, g) in enumerate(zip(self.params, self._grads(), strict=True)):
            if g is None:
                continue
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                buf = self.buffers[i]
                buf = g.copy() if buf is None else self.momentum * buf + g
                self.buffers[i] = buf
                g = buf
            p.data = p.data - self.lr * g


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
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.t = 0

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        for i, (p, g) in enumerate(zip(self.params, self._grads(), strict=True)):
            if g is None:
                continue
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * g
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * g * g
            denom = np.sqrt(self.v[i]) / np.sqrt(c2) + self.eps
            p.data = p.data - (self.lr / c1) * self.m[i] / denom
