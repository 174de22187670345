r"""# The perceptron

Rosenblatt's perceptron (1958) is the first learning machine of the course: a single linear
threshold unit

$$\hat y = \operatorname{sign}(w^\top x + b) \in \{-1, +1\}$$

trained by the *perceptron learning rule*: visit the examples in turn, and whenever one is
misclassified, $y_i (w^\top x_i + b) \le 0$, move the boundary towards it,

$$w \leftarrow w + \eta\, y_i x_i, \qquad b \leftarrow b + \eta\, y_i.$$

**Convergence theorem** (Novikoff, 1962). If the data are linearly separable with margin $\gamma$
by a unit vector $w^*$ ($y_i\, w^{*\top} x_i \ge \gamma$) and $\|x_i\| \le R$, the rule makes at
most $(R/\gamma)^2$ mistakes, whatever the order of the examples. The proof, step by step
(take $\eta = 1$, start from $w_0 = 0$, and fold the bias into $w$ with a constant feature 1):

1. *Alignment grows linearly.* The $k$-th mistake on $(x_i, y_i)$ sets $w_k = w_{k-1} + y_i x_i$,
   so $w_k^\top w^* = w_{k-1}^\top w^* + y_i\, x_i^\top w^* \ge w_{k-1}^\top w^* + \gamma$, and
   by induction $w_k^\top w^* \ge k\gamma$.
2. *Length grows only like a square root.* $\|w_k\|^2 = \|w_{k-1}\|^2 + 2 y_i\, w_{k-1}^\top x_i +
   \|x_i\|^2 \le \|w_{k-1}\|^2 + R^2$, because the middle term is $\le 0$ on a mistake. So
   $\|w_k\|^2 \le k R^2$.
3. *Cauchy-Schwarz joins them.* $k\gamma \le w_k^\top w^* \le \|w_k\|\,\|w^*\| = \|w_k\| \le
   \sqrt{k}\, R$, hence $\sqrt{k} \le R/\gamma$ and $k \le (R/\gamma)^2$.

The learning rate does not matter: with $w_0 = 0$ every $w_k$ is $\eta$ times the $\eta = 1$
one, and the sign of $w^\top x$ is unchanged.

**Failure on XOR** (Minsky & Papert, 1969). No line separates $\{(0,0),(1,1)\}$ from
$\{(0,1),(1,0)\}$, so the rule never stops making mistakes; a hidden layer with a nonlinear
activation (the next chapter, `mlp.py`) is what fixes it. The activations themselves are in
`activations.py`.

A worked example: four points on either side of the line $x_1 = x_2$, learned in two epochs.

>>> import torch
>>> x = torch.tensor([[2.0, 0.0], [0.0, 2.0], [3.0, 1.0], [1.0, 3.0]])
>>> y = torch.tensor([1.0, -1.0, 1.0, -1.0])
>>> res = train_perceptron(x, y)
>>> res.weight.tolist(), res.bias.item(), res.mistakes_per_epoch
([2.0, -2.0], 0.0, [2, 0])

The first point is on the boundary of $w = 0$ (a mistake): $w = (2, 0)$, $b = 1$. The second
scores $0 + 1 > 0$ against its label $-1$: $w = (2, -2)$, $b = 0$. The next two are right, and
the second epoch makes no mistake.

Left out: the pocket algorithm and the averaged/voted perceptron for non-separable data.

## Exercises

1. Write `perceptron_step(w, b, xi, yi, lr)`: one visit of the learning rule to example
   $(x_i, y_i)$, returning the new `(w, b)` (unchanged unless $y_i(w^\top x_i + b) \le 0$).
   Check it: `uv run pytest --exercise nn.perceptron`.
2. Write `mistake_bound(x, y, w_star, b_star)`: Novikoff's $(R/\gamma)^2$ for a separator
   $w^{*\top} x + b^* = 0$ that is not a unit vector and has a bias (work in the space
   $\tilde x = (x, 1)$ of step 3 above). Check it: `uv run pytest --exercise nn.perceptron`.
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


# The decision rule: the sign of the score $w^\top x + b$, ties going to $+1$.
def perceptron_predict(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    r"""Predicted labels in $\{-1, +1\}$ for `x` `(N, d)`; a score of exactly 0 maps to $+1$.

    >>> perceptron_predict(torch.tensor([[1.0, 2.0], [-3.0, 0.0]]), torch.tensor([1.0, 0.0]), torch.tensor(0.0)).tolist()
    [1.0, -1.0]
    """
    scores = x @ weight + bias  # (N,)
    return torch.where(scores >= 0, 1.0, -1.0).to(x.dtype)


# The learning rule: on each mistake, move the boundary toward the misclassified point,
# $w \leftarrow w + \eta y x$, $b \leftarrow b + \eta y$.
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
    # Start from zero and sweep the examples in order, counting the mistakes of each epoch.
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
