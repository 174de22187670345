r"""# Loss functions

A loss turns a prediction and a target into one number to minimize. Its gradient is the first
$\delta$ of backpropagation, so its shape (how it punishes large vs small errors, how it
saturates) decides what the network learns.

**Regression.** MSE $\frac1n\sum (\hat y - y)^2$ is the Gaussian negative log-likelihood up to
constants: it is dominated by outliers. MAE $\frac1n\sum|\hat y - y|$ (Laplace likelihood)
is robust but has a constant-magnitude gradient. Huber is quadratic within $\delta$ and linear
outside, the best of both.

**Classification.** For logits $z \in \mathbb{R}^V$ and class $y$, cross-entropy is
$-\log \mathrm{softmax}(z)_y = \log\sum_j e^{z_j} - z_y$, computed through log-sum-exp so that
large logits never overflow. Label smoothing (Szegedy et al., 2016) trains towards
$(1-\varepsilon)\,\mathbb{1}_y + \varepsilon/V$ instead of a one-hot target; `ignore_index`
masks padding positions out of the mean. Binary cross-entropy with logits uses the stable form
$\max(z, 0) - z y + \log(1 + e^{-|z|})$. Focal loss (Lin et al., *Focal Loss for Dense Object
Detection*, 2017) multiplies the cross-entropy by $(1 - p_t)^\gamma$ to down-weight easy examples.
The multi-class hinge (Crammer-Singer / Weston-Watkins) loss asks the correct score to beat every
other by a margin.

**Metric learning.** Contrastive loss (Hadsell, Chopra & LeCun, 2006) pulls similar pairs together
and pushes dissimilar pairs at least a margin $m$ apart:
$y\,d^2 + (1-y)\max(0, m - d)^2$. Triplet loss (Schroff et al., *FaceNet*, 2015) asks the
anchor–positive distance to beat the anchor–negative distance by $m$.

**Why MSE is a likelihood.** If $y = \hat y + \epsilon$ with $\epsilon \sim \mathcal N(0,
\sigma^2)$, then $-\log p(y \mid \hat y) = \frac{(y - \hat y)^2}{2\sigma^2} + \log(\sigma\sqrt{2\pi})$;
the second term does not depend on $\hat y$, so minimizing the negative log-likelihood *is*
minimizing the squared error. With Laplace noise $p \propto e^{-|y - \hat y|/b}$ the same step
gives MAE.

**The gradient of cross-entropy**, derived. Write $p = \mathrm{softmax}(z)$, so
$\log p_k = z_k - \log\sum_j e^{z_j}$ and $\partial \log p_k / \partial z_i = \mathbb 1[i = k] - p_i$.
For any target distribution $q$ (one-hot, or smoothed) the loss is $\ell = -\sum_k q_k \log p_k$,
hence

$$\frac{\partial \ell}{\partial z_i} = -\sum_k q_k (\mathbb 1[i = k] - p_i)
= -q_i + p_i \sum_k q_k = p_i - q_i.$$

Prediction minus target: bounded in $[-1, 1]$, never vanishing while the prediction is wrong, the
reason softmax and cross-entropy are paired. Smoothing changes only $q$:
$q = (1-\varepsilon)\mathbb 1_y + \varepsilon/V$, so a confident $p_y \to 1$ is pushed back by
$\varepsilon(1 - 1/V)$ and logits stop growing. The mean over $N$ rows divides by $N$. The same
steps with $V = 2$ and $p = \sigma(z)$ give binary cross-entropy's $\sigma(z) - y$.

A worked example: two classes, logits $(0, \log 3)$, so $p = (1/4, 3/4)$ and the loss of class 1 is
$-\log(3/4)$; its gradient is $p - \mathbb 1_1 = (1/4, -1/4)$.

>>> import math, torch
>>> z = torch.tensor([[0.0, math.log(3.0)]], dtype=torch.float64, requires_grad=True)
>>> loss = cross_entropy(z, torch.tensor([1]))
>>> round(loss.item(), 6), round(-math.log(0.75), 6)
(0.287682, 0.287682)
>>> loss.backward(); z.grad.tolist()
[[0.25, -0.25]]

Every loss takes `reduction` in `{"mean", "sum", "none"}` like torch. The tests compare each with
`torch.nn.functional` in float64 in value and gradient; focal and contrastive, which torch does not
ship, are checked against their defining formulas written independently in the tests, and against
the torch losses they reduce to ($\gamma = 0$ gives cross-entropy).

Left out: CTC, KL-divergence-based distillation losses (Module 10) and sequence-level losses.

## Exercises

1. Write `cross_entropy_grad(logits, target, label_smoothing)`: the gradient of the mean
   cross-entropy over `(N, V)` logits, from the derivation above ($(p - q)/N$), with no autograd.
   Check it: `uv run pytest --exercise nn.losses`.
2. Write `bce_with_logits(logits, target)` elementwise, finite for logits of $\pm 1000$ (derive
   the stable form from $\log(1 + e^{z}) - zy$ by splitting on the sign of $z$). Check it:
   `uv run pytest --exercise nn.losses`.
3. Write `huber_grad(pred, target, delta)`: the gradient of the mean Huber loss with respect to
   `pred`. Check it: `uv run pytest --exercise nn.losses`.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(name: str, a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name}: input and target shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}"
        )


# ## Regression losses


def mse_loss(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Squared error $(\hat y - y)^2$; shapes must match."""
    _same_shape("mse_loss", pred, target)
    d = pred - target
    return _reduce(d * d, reduction)


def mae_loss(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Absolute error $|\hat y - y|$ (torch's `l1_loss`)."""
    _same_shape("mae_loss", pred, target)
    return _reduce((pred - target).abs(), reduction)


# Huber: quadratic near zero and linear beyond `delta`, so an outlier pulls with a bounded
# gradient.
def huber_loss(pred: Tensor, target: Tensor, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    r"""$\tfrac12 r^2$ for $|r| \le \delta$, else $\delta(|r| - \tfrac12\delta)$, with $r = \hat y - y$.

    >>> huber_loss(torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0]), reduction='none').tolist()
    [0.125, 2.5]
    """
    _same_shape("huber_loss", pred, target)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    r = (pred - target).abs()
    loss = torch.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta))
    return _reduce(loss, reduction)


# ## Binary cross-entropy with logits
#
# With $p = \sigma(z)$, $-[y \log p + (1-y)\log(1-p)] = \log(1 + e^{z}) - z y$. Computing
# $\log \sigma(z)$ from $p$ underflows to $\log 0$ for very negative $z$; the softplus form never
# does. Its gradient is simply $\sigma(z) - y$.


def bce_with_logits(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on raw scores, stable for any logit; targets in $[0, 1]$.

    >>> bce_with_logits(torch.tensor([1000.0, -1000.0]), torch.tensor([1.0, 0.0])).item()  # stable: no inf
    0.0
    """
    _same_shape("bce_with_logits", logits, target)
    loss = torch.clamp_min(logits, 0) - logits * target + torch.log1p(torch.exp(-logits.abs()))
    return _reduce(loss, reduction)


# ## Cross-entropy, NLL, label smoothing and ignore_index
#
# Logits come as `(N, V)` or, for sequences and images, `(N, V, d_1, ...)` with the class axis
# second, as torch; targets are class indices `(N, d_1, ...)`. Both are flattened to rows first.


def _flatten_classes(name: str, scores: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if scores.dim() < 2:
        raise ValueError(f"{name}: expected scores (N, V, ...), got shape {tuple(scores.shape)}")
    expected = (scores.shape[0], *scores.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{name}: target shape {tuple(target.shape)} does not match scores "
            f"{tuple(scores.shape)}; expected {expected}"
        )
    V = scores.shape[1]
    rows = scores.movedim(1, -1).reshape(-1, V)  # (N * d..., V)
    return rows, target.reshape(-1)


# Subtracting the row maximum leaves log-softmax unchanged and keeps every exponent $\le 0$, so
# nothing overflows; the maximum is detached because it cancels exactly.
def log_softmax(z: Tensor, dim: int = -1) -> Tensor:
    r"""$z - \log\sum e^{z}$ with the maximum subtracted first (the log-sum-exp trick)."""
    m = z.amax(dim=dim, keepdim=True).detach()
    return z - m - torch.log(torch.exp(z - m).sum(dim=dim, keepdim=True))


# NLL picks $-\log p_y$ per row. Ignored positions gather index 0 (any valid index would do) and
# are then zeroed, and the mean divides by the number kept.
def nll_loss(
    log_probs: Tensor, target: Tensor, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    r"""Negative log-likelihood $-\log p_y$ of log-probabilities `(N, V, ...)` at `target`.

    Positions whose target equals `ignore_index` contribute 0 and are left out of the mean.
    """
    lp, t = _flatten_classes("nll_loss", log_probs, target)
    keep = t != ignore_index
    picked = lp.gather(1, torch.where(keep, t, 0).unsqueeze(1)).squeeze(1)  # (M,)
    loss = torch.where(keep, -picked, torch.zeros_like(picked))
    if reduction == "mean":
        return loss.sum() / keep.sum()
    return _reduce(loss.reshape(target.shape), reduction)


# Cross-entropy is log-softmax then NLL, with the smoothing term mixed in per row.
def cross_entropy(
    logits: Tensor,
    target: Tensor,
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    r"""Softmax cross-entropy of `logits` `(N, V, ...)` with class indices `target` `(N, ...)`.

    With smoothing $\varepsilon$ the target distribution is $(1-\varepsilon)$ on $y$ plus
    $\varepsilon/V$ everywhere, so the loss is
    $(1-\varepsilon)(-\log p_y) + \varepsilon \cdot \frac1V\sum_j(-\log p_j)$.
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    # Flatten to rows, take the log-probabilities once, and check only the targets not ignored.
    rows, t = _flatten_classes("cross_entropy", logits, target)
    lp = log_softmax(rows, dim=-1)  # (M, V)
    keep = t != ignore_index
    if bool(((t[keep] < 0) | (t[keep] >= rows.shape[1])).any()):
        raise ValueError(f"cross_entropy: target classes must lie in [0, {rows.shape[1]})")
    # The smoothed loss per row mixes the label's NLL with the mean NLL over all classes; ignored
    # rows are zeroed and left out of the mean.
    nll = -lp.gather(1, torch.where(keep, t, 0).unsqueeze(1)).squeeze(1)  # (M,)
    smooth = -lp.mean(dim=1)  # (M,): cross-entropy against the uniform distribution
    loss = (1 - label_smoothing) * nll + label_smoothing * smooth
    loss = torch.where(keep, loss, torch.zeros_like(loss))
    if reduction == "mean":
        return loss.sum() / keep.sum()
    return _reduce(loss.reshape(target.shape), reduction)


# ## Focal loss
#
# For the probability of the true class $p_t$, focal loss is $-\alpha_t (1 - p_t)^\gamma
# \log p_t$. Confident correct predictions ($p_t \to 1$) are down-weighted by
# $(1-p_t)^\gamma$, so training focuses on hard examples. This is the multi-class form over
# softmax probabilities; $\gamma = 0$ and no $\alpha$ recover cross-entropy.


def focal_loss(
    logits: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    alpha: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class focal loss for `logits` `(N, V)` and classes `target` `(N,)`.

    `alpha`, if given, is a per-class weight of shape `(V,)`.
    """
    if gamma < 0:
        raise ValueError(f"focal_loss: gamma must be >= 0, got {gamma}")
    # $p_t$ comes from the log-probability of the true class; $(1 - p_t)^\gamma$ scales its NLL.
    rows, t = _flatten_classes("focal_loss", logits, target)
    log_pt = log_softmax(rows).gather(1, t.unsqueeze(1)).squeeze(1)  # (M,)
    pt = log_pt.exp()
    loss = -((1 - pt) ** gamma) * log_pt
    if alpha is not None:
        loss = alpha[t] * loss
    return _reduce(loss.reshape(target.shape), reduction)


# ## Hinge loss
#
# The multi-class hinge of Weston & Watkins, as `torch.nn.MultiMarginLoss`: for scores $s$ and
# class $y$, $\frac1V \sum_{j \ne y} \max(0, m - s_y + s_j)$. With two classes and scores
# $(0, s)$ it is the SVM hinge $\max(0, 1 - y s)$ up to the $1/V$ factor.


def hinge_loss(
    scores: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """Multi-class hinge loss of `scores` `(N, V)` with classes `target` `(N,)`."""
    if scores.dim() != 2 or target.shape != (scores.shape[0],):
        raise ValueError(
            f"hinge_loss: expected scores (N, V) and target (N,), got {tuple(scores.shape)} and "
            f"{tuple(target.shape)}"
        )
    s_y = scores.gather(1, target.unsqueeze(1))  # (N, 1)
    margins = torch.clamp_min(margin - s_y + scores, 0)  # (N, V)
    # The true class's own term would be $\max(0, m) = m$; it is excluded from the sum.
    margins = margins.scatter(1, target.unsqueeze(1), 0.0)
    return _reduce(margins.sum(dim=1) / scores.shape[1], reduction)


# ## Contrastive and triplet losses
#
# Both work on embeddings and Euclidean distances $d(a, b) = \|a - b + \epsilon\|_2$ (torch adds
# a tiny $\epsilon = 10^{-6}$ inside the norm so the gradient is finite when $a = b$).


def _pairwise_distance(a: Tensor, b: Tensor, eps: float = 1e-6) -> Tensor:
    return (a - b + eps).norm(dim=-1)


# Contrastive: pull similar pairs together ($d^2$), and push dissimilar ones apart until they are
# `margin` away.
def contrastive_loss(
    x1: Tensor, x2: Tensor, similar: Tensor, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    r"""Hadsell-Chopra-LeCun contrastive loss for embedding pairs `(N, D)`; `similar` `(N,)` in {0,1}.

    $\ell = y\,d^2 + (1-y)\max(0, m - d)^2$ (the common form without the factor $\tfrac12$).
    """
    _same_shape("contrastive_loss", x1, x2)
    d = _pairwise_distance(x1, x2)  # (N,)
    if similar.shape != d.shape:
        raise ValueError(f"contrastive_loss: similar must have shape {tuple(d.shape)}")
    y = similar.to(d.dtype)
    loss = y * d * d + (1 - y) * torch.clamp_min(margin - d, 0) ** 2
    return _reduce(loss, reduction)


# Triplet: the positive must be closer to the anchor than the negative by at least `margin`.
def triplet_loss(
    anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    r"""$\max(0, d(a, p) - d(a, n) + m)$ for embeddings `(N, D)`, as `nn.TripletMarginLoss`."""
    _same_shape("triplet_loss", anchor, positive)
    _same_shape("triplet_loss", anchor, negative)
    loss = torch.clamp_min(
        _pairwise_distance(anchor, positive) - _pairwise_distance(anchor, negative) + margin, 0
    )
    return _reduce(loss, reduction)
