r"""# Nonlinearities and losses on the engine

The activations and losses a classifier needs, written on top of `Tensor`. Three are primitive
ops with their own backward rule (ReLU, tanh, sigmoid), because their derivatives are cheapest
in terms of the output:

$$\mathrm{relu}'(x) = [x > 0], \qquad \tanh'(x) = 1 - \tanh^2 x,
  \qquad \sigma'(x) = \sigma(x)\,(1 - \sigma(x)).$$

The rest are *compositions* of primitives, so their gradients (and second derivatives) come for
free from the chain rule. The one piece of numerical care is the log-sum-exp: subtracting the
row maximum $m$ before exponentiating keeps $e^{x - m} \le 1$,

$$\log \sum_j e^{x_j} = m + \log \sum_j e^{x_j - m},$$

and $m$ is treated as a constant (detached): the identity holds for any $m$, so its gradient is
zero and need not flow. Then `log_softmax(x) = x - logsumexp(x)`, `softmax = exp(log_softmax)` and
cross-entropy is the mean negative log-probability of the target class,
$\mathcal{L} = -\frac{1}{B}\sum_b \log p_{b, y_b}$, exactly `torch.nn.functional.cross_entropy`.

Why the composition's gradient is the famous one, derived through the pieces the engine
records: $\ell_b = -(z_{b,y_b} - \mathrm{lse}(z_b))$, and $\partial\,\mathrm{lse}(z)/\partial z_j
= e^{z_j - m}/\sum_k e^{z_k - m} = p_j$ (the detached $m$ cancels), so
$\partial\ell_b/\partial z_{b,j} = p_{b,j} - \mathbb 1[j = y_b]$, and the mean divides by $B$.
The engine never forms this formula; it falls out of the backward rules of subtraction, exp, sum,
log and indexing, applied in reverse order.

Left out: fused softmax–cross-entropy kernels (the composition is slower but transparent),
label smoothing (written with a hand-made backward in `custom_functions.py`), class weights.

## Exercises

1. Write `sigmoid_backward(out, grad)`: the input gradient of the sigmoid from its output and the
   upstream gradient (numpy arrays). Check it: `uv run pytest --exercise autograd.functional`.
2. Write `cross_entropy_grad(logits, targets)`: the gradient of the mean cross-entropy with
   respect to the logits `(B, V)`, in closed form. Check it:
   `uv run pytest --exercise autograd.functional`.
"""

from __future__ import annotations

import numpy as np

from masterclass.autograd.tensor import Tensor


def relu(x: Tensor) -> Tensor:
    r"""$\max(x, 0)$ elementwise; the gradient at exactly 0 is 0, as in PyTorch."""
    mask = Tensor((x.data > 0).astype(x.dtype))
    return Tensor._make(x.data * mask.data, (x,), lambda g: (g * mask,), "ReluBackward0")


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent elementwise."""

    def _backward(g: Tensor) -> tuple[Tensor]:
        # Recomputed from `x` rather than captured from `out`, so that with
        # `create_graph=True` the second derivative sees `tanh(x)` as a function of `x`.
        t = tanh(x)
        return (g * (1.0 - t * t),)

    return Tensor._make(np.tanh(x.data), (x,), _backward, "TanhBackward0")


def sigmoid(x: Tensor) -> Tensor:
    """Logistic function $1 / (1 + e^{-x})$, computed without overflow for large $|x|$."""
    # For $x < 0$ use $e^{x} / (1 + e^{x})$, which never exponentiates a large positive number.
    e = np.exp(-np.abs(x.data))
    data = np.where(x.data >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)

    def _backward(g: Tensor) -> tuple[Tensor]:
        s = sigmoid(x)
        return (g * s * (1.0 - s),)

    return Tensor._make(data, (x,), _backward, "SigmoidBackward0")


# The softmax family goes through one stabilised log-sum-exp; the maximum enters as a constant,
# so it needs no gradient.
def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    r"""$\log\sum_j e^{x_j}$ along `dim`, stabilised by the (detached) maximum."""
    m = Tensor(x.data.max(axis=dim, keepdims=True))  # constant: the identity holds for any m
    out = (x - m).exp().sum(dim=dim, keepdim=True).log() + m
    return out if keepdim else out.squeeze_dim(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    r"""$x_i - \log\sum_j e^{x_j}$ along `dim`."""
    return x - logsumexp(x, dim=dim, keepdim=True)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    r"""$e^{x_i} / \sum_j e^{x_j}$ along `dim`."""
    return log_softmax(x, dim=dim).exp()


# Cross-entropy checks its targets before indexing, then averages $-\log p$ of the true class
# over the rows.
def cross_entropy(logits: Tensor, targets: Tensor | np.ndarray) -> Tensor:
    """Mean cross-entropy of integer class `targets` under `logits`.

    Shapes: logits `(B, V)`, targets `(B,)` integers in `[0, V)`; returns a scalar.

    >>> logits = Tensor([[2.0, 0.0], [0.0, 2.0]], requires_grad=True)
    >>> round(cross_entropy(logits, np.array([0, 1])).item(), 6)
    0.126928
    """
    y = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (B, V), got shape {logits.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integers, got dtype {y.dtype}")
    if y.shape != logits.shape[:1]:
        raise ValueError(
            f"cross_entropy: targets shape {y.shape} does not match logits {logits.shape}; "
            f"expected ({logits.shape[0]},)"
        )
    if y.size and (y.min() < 0 or y.max() >= logits.shape[1]):
        raise ValueError(
            f"cross_entropy: targets must lie in [0, {logits.shape[1]}), "
            f"got range [{y.min()}, {y.max()}]"
        )
    # Gather $\log p$ at each row's target by fancy indexing; its backward scatters the gradient
    # into exactly those entries.
    logp = log_softmax(logits, dim=-1)  # (B, V)
    return -logp[np.arange(len(y)), y].mean()


# Mean squared error, the regression loss; the shapes must match exactly, with no broadcasting.
def mse_loss(prediction: Tensor, target: Tensor) -> Tensor:
    r"""Mean squared error $\frac{1}{N}\sum (p - t)^2$ over all elements."""
    if prediction.shape != target.shape:
        raise ValueError(
            f"mse_loss: prediction shape {prediction.shape} != target shape {target.shape}"
        )
    diff = prediction - target
    return (diff * diff).mean()
