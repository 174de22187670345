r"""# Forward and backward propagation: an MLP by hand

A multilayer perceptron alternates affine maps and activations. For layers $\ell = 1..L$,

$$z^{(\ell)} = a^{(\ell-1)} W^{(\ell)\top} + b^{(\ell)}, \qquad a^{(\ell)} = \phi(z^{(\ell)}),$$

with $a^{(0)} = x$ and no activation on the last layer (its output $z^{(L)}$ feeds a loss).
Rows are examples: $a^{(\ell)}$ has shape $(B, d_\ell)$ and $W^{(\ell)}$ has shape
$(d_\ell, d_{\ell-1})$, the layout of `torch.nn.Linear`.

**Backpropagation** is the chain rule applied from the loss backwards, reusing each layer's
upstream gradient. Writing $\delta^{(\ell)} = \partial L / \partial z^{(\ell)}$:

$$\frac{\partial L}{\partial W^{(\ell)}} = \delta^{(\ell)\top} a^{(\ell-1)}, \qquad
\frac{\partial L}{\partial b^{(\ell)}} = \textstyle\sum_{\text{rows}} \delta^{(\ell)}, \qquad
\delta^{(\ell-1)} = \bigl(\delta^{(\ell)} W^{(\ell)}\bigr) \odot \phi'(z^{(\ell-1)}).$$

Each of the three follows from one index-level chain rule. Element $(n, i)$ of
$z^{(\ell)}$ is $z_{ni} = \sum_k a^{(\ell-1)}_{nk} W_{ik} + b_i$, so

1. $\partial z_{ni}/\partial W_{ik} = a^{(\ell-1)}_{nk}$, hence $\partial L/\partial W_{ik} =
   \sum_n \delta_{ni}\, a^{(\ell-1)}_{nk}$, which is the matrix $\delta^\top a^{(\ell-1)}$;
2. $\partial z_{ni}/\partial b_i = 1$ for every row $n$: the bias gradient sums $\delta$ over rows;
3. $\partial z_{ni}/\partial a^{(\ell-1)}_{nk} = W_{ik}$, hence $\partial L/\partial a^{(\ell-1)}
   = \delta W$; and $a^{(\ell-1)} = \phi(z^{(\ell-1)})$ acts elementwise, so its Jacobian is
   diagonal and the chain rule becomes the product $\odot\,\phi'(z^{(\ell-1)})$.

A shape check catches most mistakes: $\delta^{(\ell)}$ is $(B, d_\ell)$, $W^{(\ell)}$ is
$(d_\ell, d_{\ell-1})$, so $\delta W$ is $(B, d_{\ell-1})$, and $\delta^\top a$ is
$(d_\ell, d_{\ell-1})$, the shape of $W$.

One backward pass costs about twice a forward pass, for *all* parameters at once; that is why
gradient descent on millions of weights is practical (Rumelhart, Hinton & Williams, *Learning
representations by back-propagating errors*, Nature 1986).

The forward pass caches every $a^{(\ell-1)}$ and $z^{(\ell)}$; the backward pass walks the
cache in reverse. The tests compare the gradients with torch autograd on an `nn.Sequential` with
copied weights, and the learning example trains the network on XOR, which the perceptron could
not learn.

A worked example: the hand-written backward equals autograd, and 500 steps of gradient descent
solve XOR.

>>> import torch
>>> net = MLP((3, 4, 2), seed=0)
>>> x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
>>> out, cache = net.forward(x)
>>> gw, gb, gx = net.backward(torch.ones_like(out), cache)  # L = sum of the outputs
>>> params = [w.clone().requires_grad_(True) for w in net.weights]
>>> auto_out = torch.tanh(x @ params[0].T + net.biases[0]) @ params[1].T + net.biases[1]
>>> auto = torch.autograd.grad(auto_out.sum(), params)
>>> all(torch.allclose(a, b) for a, b in zip(gw, auto))
True
>>> net, losses = train_xor(steps=500)
>>> xor = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
>>> net.forward(xor)[0].round(decimals=3).flatten().tolist(), losses[-1] < 1e-10
([0.0, 1.0, 1.0, 0.0], True)

Left out: the loss's own gradient is passed in (`grad_out`); losses are their own chapter
(`losses.py`). Automatic differentiation in general is Module 2 (`masterclass.autograd`).

## Exercises

1. Write `linear_backward(grad_z, a_prev, weight)`: the gradients `(grad_w, grad_b, grad_a_prev)`
   of $z = a W^\top + b$ given $\delta = \partial L/\partial z$ (steps 1-3 above). Check it:
   `uv run pytest --exercise nn.mlp`.
2. Write `tanh_delta(delta, weight, z_prev)`: one step of the delta recursion back through a
   tanh layer. Check it: `uv run pytest --exercise nn.mlp`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from masterclass.nn.activations import ACTIVATIONS, DERIVATIVES


@dataclass
class MLP:
    """A fully connected network with explicit parameters and a hand-written backward.

    `weights[l]` has shape `(d_out, d_in)` and `biases[l]` shape `(d_out,)`, as in `nn.Linear`.
    """

    # layer widths, input first: (d_0, d_1, ..., d_L)
    sizes: tuple[int, ...]
    # name of the hidden activation, a key of ACTIVATIONS
    activation: str = "tanh"
    # dtype of the parameters
    dtype: torch.dtype = torch.float64
    # seed of the default (PyTorch-style uniform) initialization
    seed: int = 0
    weights: list[Tensor] = field(default_factory=list, init=False)
    biases: list[Tensor] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or any(s <= 0 for s in self.sizes):
            raise ValueError(f"MLP: sizes needs >= 2 positive widths, got {self.sizes}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"MLP: unknown activation {self.activation!r}; choose one of {sorted(ACTIVATIONS)}"
            )
        # The same default as `nn.Linear`: $U(-1/\sqrt{d_{in}}, 1/\sqrt{d_{in}})$.
        g = torch.Generator().manual_seed(self.seed)
        for d_in, d_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            bound = 1 / math.sqrt(d_in)
            self.weights.append(
                (torch.rand(d_out, d_in, generator=g, dtype=self.dtype) * 2 - 1) * bound
            )
            self.biases.append((torch.rand(d_out, generator=g, dtype=self.dtype) * 2 - 1) * bound)

    # Forward keeps each layer's input activation and pre-activation, exactly what backward needs;
    # the last layer stays linear.
    def forward(self, x: Tensor) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Return the output `(B, d_L)` and the cache `[(a_prev, z), ...]` for backward."""
        if x.dim() != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(
                f"MLP: expected input (B, {self.sizes[0]}), got shape {tuple(x.shape)}"
            )
        phi = ACTIVATIONS[self.activation]
        cache = []
        a = x  # (B, d_0)
        n_layers = len(self.weights)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = a @ w.T + b  # (B, d_out)
            cache.append((a, z))
            a = phi(z) if i < n_layers - 1 else z
        return a, cache

    # Backward walks the layers in reverse, carrying $\delta = \partial L/\partial z$ of the
    # current layer.
    def backward(
        self, grad_out: Tensor, cache: list[tuple[Tensor, Tensor]]
    ) -> tuple[list[Tensor], list[Tensor], Tensor]:
        r"""Backpropagate `grad_out` $= \partial L/\partial z^{(L)}$ `(B, d_L)`.

        Returns `(grad_weights, grad_biases, grad_x)`, aligned with `weights` and `biases`.
        """
        dphi = DERIVATIVES[self.activation]
        grad_w: list[Tensor] = [torch.empty(0)] * len(self.weights)
        grad_b: list[Tensor] = [torch.empty(0)] * len(self.weights)
        delta = grad_out  # (B, d_L): dL/dz of the last layer
        for i in reversed(range(len(self.weights))):
            a_prev, _ = cache[i]
            # Parameter gradients of layer i from its input activations and its delta.
            grad_w[i] = delta.T @ a_prev  # (d_out, d_in)
            grad_b[i] = delta.sum(dim=0)  # (d_out,)
            # The gradient flows to the layer input through W, then through $\phi'$ of the
            # previous layer's pre-activation (the input x has no activation before it).
            delta = delta @ self.weights[i]  # (B, d_in)
            if i > 0:
                delta = delta * dphi(cache[i - 1][1])
        return grad_w, grad_b, delta

    def sgd_step(self, grad_w: list[Tensor], grad_b: list[Tensor], lr: float) -> None:
        r"""Plain gradient descent on every parameter: $\theta \leftarrow \theta - \eta g$."""
        for i in range(len(self.weights)):
            self.weights[i] = self.weights[i] - lr * grad_w[i]
            self.biases[i] = self.biases[i] - lr * grad_b[i]


# The loss and its gradient together, so training needs no autograd at all.
def mse_loss_and_grad(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    r"""Mean squared error over all elements and its gradient $2(\hat y - y)/n$ w.r.t. `pred`."""
    if pred.shape != target.shape:
        raise ValueError(
            f"shape mismatch: pred {tuple(pred.shape)} vs target {tuple(target.shape)}"
        )
    diff = pred - target
    return (diff * diff).mean(), 2 * diff / diff.numel()


# XOR, the four-point problem a single perceptron cannot fit: full-batch forward, loss,
# backward, step.
def train_xor(
    steps: int = 500, lr: float = 0.2, hidden: int = 8, seed: int = 0
) -> tuple[MLP, list[float]]:
    """Train a 2-`hidden`-1 tanh MLP on XOR with full-batch gradient descent and MSE.

    Returns the network and the loss curve; XOR is the problem a single perceptron cannot solve.
    """
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=torch.float64)
    net = MLP((2, hidden, 1), activation="tanh", seed=seed)
    losses = []
    for _ in range(steps):
        out, cache = net.forward(x)
        loss, grad = mse_loss_and_grad(out, y)
        gw, gb, _ = net.backward(grad, cache)
        net.sgd_step(gw, gb, lr)
        losses.append(loss.item())
    return net, losses
