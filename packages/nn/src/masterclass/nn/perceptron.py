r"""# The perceptron

Rosenblatt's perceptron (1958) is the first learning machine of the course: a single linear
threshold unit

$$\hat y = \operatorname{sign}(w^\top x + b) \in \{-1, +1\}$$

trained by the *perceptron learning rule*: visit the examples in turn, and whenever one is
misclassified, $y_i (w^\top x_i + b) \le 0$, move the boundary towards it,

$$w \leftarrow w + \eta\, y_i x_i, \qquad b \leftarrow b + \eta\, y_i.$$

**Convergence theorem** (Novikoff, 1962). If the data are linearly separable with margin $\gamma$
by a unit vector $w^*$ ($y_i\, w^{*\top} x_i \ge \gamma$) and $\|x_i\| \le R$, the rule makes at
most $(R/\gamma)^2$ mistakes, whatever the order of the examples. Each mistake grows
$w^\top w^*$ by at least $\gamma$ while $\|w\|^2$ grows by at most $R^2$, and the two cannot
both continue forever.

**Failure on XOR** (Minsky & Papert, 1969). No line separates $\{(0,0),(1,1)\}$ from
$\{(0,1),(1,0)\}$, so the rule never stops making mistakes; a hidden layer with a nonlinear
activation (the next chapter, `mlp.py`) is what fixes it. The activations themselves are in
`activations.py`.

Left out: the pocket algorithm and the averaged/voted perceptron for non-separable data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class PerceptronResult:
    """What training produced."""

    # learned weights, shape (d,)
    weight: Tensor
    # learned bias, a scalar tensor
    bias: Tensor
    # mistakes made during each epoch; the last is 0 iff training converged
    mistakes_per_epoch: list[int]

    @property
    def converged(self) -> bool:
        """True when the final epoch made no mistake (the data were separated)."""
        return bool(self.mistakes_per_epoch) and self.mistakes_per_epoch[-1] == 0

    @property
    def total_mistakes(self) -> int:
        r"""All updates made, the quantity bounded by $(R/\gamma)^2$."""
        return sum(self.mistakes_per_epoch)


def perceptron_predict(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    r"""Predicted labels in $\{-1, +1\}$ for `x` `(N, d)`; a score of exactly 0 maps to $+1$.

    >>> perceptron_predict(torch.tensor([[1.0, 2.0], [-3.0, 0.0]]), torch.tensor([1.0, 0.0]), torch.tensor(0.0)).tolist()
    [1.0, -1.0]
    """
    scores = x @ weight + bias  # (N,)
    return torch.where(scores >= 0, 1.0, -1.0).to(x.dtype)


def train_perceptron(
    x: Tensor, y: Tensor, lr: float = 1.0, max_epochs: int = 100
) -> PerceptronResult:
    r"""Run the perceptron learning rule on `x` `(N, d)` with labels `y` `(N,)` in $\{-1, +1\}$.

    Epochs sweep the examples in order and stop early after an epoch without mistakes.
    """
    if x.dim() != 2 or y.shape != (x.shape[0],):
        raise ValueError(
            f"train_perceptron: expected x (N, d) and y (N,), got {tuple(x.shape)} and "
            f"{tuple(y.shape)}"
        )
    if not bool(((y == 1) | (y == -1)).all()):
        raise ValueError("train_perceptron: labels y must be -1 or +1")
    w = torch.zeros(x.shape[1], dtype=x.dtype)
    b = torch.zeros((), dtype=x.dtype)
    history: list[int] = []
    for _ in range(max_epochs):
        mistakes = 0
        for xi, yi in zip(x, y, strict=True):
            # A point on the boundary ($y\,(w^\top x + b) = 0$) counts as a mistake: otherwise
            # the all-zero start would never move.
            if yi * (xi @ w + b) <= 0:
                w = w + lr * yi * xi
                b = b + lr * yi
                mistakes += 1
        history.append(mistakes)
        if mistakes == 0:
            break
    return PerceptronResult(w, b, history)
