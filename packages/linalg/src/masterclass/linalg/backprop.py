r"""# Backpropagation by hand on a small computational graph

A neural network's loss is a composition of simple operations, a **computational graph**. The
chain rule says how a change in any input travels to the output; **backpropagation** (reverse-mode
automatic differentiation) applies it from the output backwards, so that one backward pass,
costing about as much as the forward pass, yields the derivative of the scalar loss with respect
to *every* input and parameter. For a node $v = g(u_1, \dots, u_k)$ in the graph, with
$\bar v = \partial L/\partial v$ (the "adjoint" or upstream gradient),

$$\bar u_i \mathrel{+}= \bar v\,\frac{\partial g}{\partial u_i},$$

visited in reverse topological order; the $+=$ accumulates contributions when $u_i$ feeds several
nodes. Forward mode (`calculus.py`) would need one pass per input instead.

This chapter does it *by hand* twice, writing out every local derivative:

1. a scalar graph, $f(a, b, c) = (ab + c)\tanh(a)$, where $a$ is used twice, so its gradient is a
   sum of two paths;
2. a two-layer network $h = \tanh(XW_1 + b_1)$, $Z = hW_2 + b_2$, with mean cross-entropy loss,
   in matrix form. The matrix rules are the scalar rules summed over the right indices:
   for $Z = hW$, $\bar W = h^\top\bar Z$ and $\bar h = \bar ZW^\top$; a bias broadcast over the
   batch gets the batch sum of the adjoints; $\tanh' = 1 - \tanh^2$ is element-wise; the loss
   gives $\bar Z = (\operatorname{softmax}(Z) - \text{onehot}(y))/B$ (`cross_entropy.py`).

Two of those rules, derived. *The matrix product.* $Z_{ij} = \sum_k h_{ik}W_{kj}$, so
$\partial Z_{ij}/\partial W_{kj} = h_{ik}$ and $\bar W_{kj} = \sum_i \bar Z_{ij}h_{ik}$, which is
$(h^\top\bar Z)_{kj}$; likewise $\bar h_{ik} = \sum_j \bar Z_{ij}W_{kj} = (\bar Z W^\top)_{ik}$.
Each adjoint has the shape of its variable, which is a free check. *The softmax.* For
$p = \mathrm{softmax}(z)$, $\partial p_j/\partial z_i = p_j(\mathbb 1[i=j] - p_i)$, so
$\bar z_i = \sum_j \bar p_j\,p_j(\mathbb 1[i=j] - p_i) = p_i(\bar p_i - \sum_j\bar p_j p_j)$: the
Jacobian $\operatorname{diag}(p) - pp^\top$ is never formed, one inner product per row suffices.
Feeding it $\bar p = -\text{onehot}(y)/p_y$ (the adjoint of $-\log p_y$) gives
$\bar z = p - \text{onehot}(y)$, the cross-entropy rule above.

A worked example: $a$ feeds both the product and the tanh, so its gradient adds two paths,
$\partial f/\partial a = b\tanh a + (ab + c)(1 - \tanh^2 a)$.

>>> f, grads = scalar_graph(0.5, 2.0, -1.0)
>>> path_product, path_tanh = 2.0 * np.tanh(0.5), (0.5 * 2.0 - 1.0) * (1 - np.tanh(0.5) ** 2)
>>> round(grads["a"], 12) == round(float(path_product + path_tanh), 12), round(grads["c"], 6)
(True, 0.462117)

Module 2 (`autograd`) turns exactly these rules into an engine that records the graph as it runs
and walks it backwards automatically; the tests here check the hand-derived gradients against
PyTorch's autograd and against finite differences.

References: Rumelhart, Hinton & Williams (1986), *Learning representations by back-propagating
errors*; Goodfellow, Bengio & Courville, *Deep Learning*, §6.5; Karpathy, *micrograd*.

Left out: the automatic engine (module 2), convolutions and recurrent graphs (module 3).

## Exercises

1. Write `scalar_graph_grads(x, y)`: the gradient `(dg/dx, dg/dy)` of
   $g = \sigma(xy) + x^2$ by a hand-written reverse pass. Check it:
   `uv run pytest --exercise linalg.backprop`.
2. Write `softmax_backward(z, grad_p)`: the adjoint of the logits given the adjoint of the
   probabilities, row by row, without forming the Jacobian. Check it:
   `uv run pytest --exercise linalg.backprop`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from masterclass.linalg._validation import _as_matrix
from masterclass.linalg.cross_entropy import cross_entropy, cross_entropy_grad

# ## A scalar graph
#
# Forward, naming every intermediate node:
# $p = ab$, $q = p + c$, $t = \tanh a$, $f = qt$. Backward, from $\bar f = 1$:
# $\bar q = t$, $\bar t = q$; $\bar p = \bar q$, $\bar c = \bar q$; $\bar a = \bar p\,b + \bar t\,(1 - t^2)$
# (two paths reach $a$), $\bar b = \bar p\,a$.


def scalar_graph(a: float, b: float, c: float) -> tuple[float, dict[str, float]]:
    r"""$f = (ab + c)\tanh a$ and its gradient by hand: `(f, {"a": df/da, "b": ..., "c": ...})`.

    >>> f, grads = scalar_graph(0.0, 2.0, 1.0)  # tanh(0) = 0, df/da = q (1 - 0) = 1
    >>> f, grads["a"]
    (0.0, 1.0)
    """
    values = np.array([a, b, c], dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"a, b and c must be finite, got {a!r}, {b!r}, {c!r}")
    # forward
    p = a * b
    q = p + c
    t = float(np.tanh(a))
    f = q * t
    # backward: adjoints in reverse topological order
    f_bar = 1.0
    q_bar = f_bar * t
    t_bar = f_bar * q
    p_bar = q_bar
    c_bar = q_bar
    a_bar = p_bar * b + t_bar * (1.0 - t * t)
    b_bar = p_bar * a
    return float(f), {"a": float(a_bar), "b": float(b_bar), "c": float(c_bar)}


# ## A two-layer network
#
# Shapes: batch $B$, inputs $D$, hidden $H$, classes $V$. The forward pass keeps what the backward
# pass needs (the inputs of each matrix product and the tanh output), the "activations" that
# dominate training memory in large models.


@dataclass(frozen=True)
class MLPParams:
    """Parameters of `tanh(x @ w1 + b1) @ w2 + b2`."""

    w1: np.ndarray  # (D, H)
    b1: np.ndarray  # (H,)
    w2: np.ndarray  # (H, V)
    b2: np.ndarray  # (V,)

    # LeCun initialisation: weights of variance $1/\text{fan-in}$ keep each pre-activation's
    # variance near that of the inputs.
    @classmethod
    def init(cls, d: int, hidden: int, classes: int, seed: int = 0) -> MLPParams:
        r"""Random parameters with variance $1/\text{fan-in}$ (LeCun), zero biases."""
        rng = np.random.default_rng(seed)
        return cls(
            rng.normal(size=(d, hidden)) / np.sqrt(d),
            np.zeros(hidden),
            rng.normal(size=(hidden, classes)) / np.sqrt(hidden),
            np.zeros(classes),
        )


def mlp_loss_and_grads(params: MLPParams, x: ArrayLike, y: ArrayLike) -> tuple[float, MLPParams]:
    """Mean cross-entropy of the two-layer net on `x` `(B, D)`, labels `y` `(B,)`, and its
    gradient with respect to every parameter (an `MLPParams` of the same shapes), by hand."""
    x = _as_matrix(x, "x")
    if x.shape[1] != params.w1.shape[0]:
        raise ValueError(f"x must have {params.w1.shape[0]} features, got shape {x.shape}")
    # forward
    a1 = x @ params.w1 + params.b1  # (B, H)
    h = np.tanh(a1)  # (B, H)
    z = h @ params.w2 + params.b2  # (B, V)
    loss = cross_entropy(z, y)
    # backward
    z_bar = cross_entropy_grad(z, y)  # (B, V)
    w2_bar = h.T @ z_bar  # (H, V)
    b2_bar = z_bar.sum(axis=0)  # (V,)
    h_bar = z_bar @ params.w2.T  # (B, H)
    a1_bar = h_bar * (1.0 - h * h)  # (B, H)
    w1_bar = x.T @ a1_bar  # (D, H)
    b1_bar = a1_bar.sum(axis=0)  # (H,)
    return loss, MLPParams(w1_bar, b1_bar, w2_bar, b2_bar)
