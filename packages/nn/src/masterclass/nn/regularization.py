r"""# Regularization: weight penalties, decoupled weight decay, early stopping, augmentation

A network with more parameters than examples can memorize its training set. Regularization trades a
little training fit for better generalization. This chapter covers four tools; dropout, the fifth,
has its own chapter (`dropout.py`).

**Weight penalties.** Adding $\lambda \|\theta\|_2^2 / 2$ (L2, "ridge") to the loss adds
$\lambda\theta$ to the gradient, pulling weights towards zero; $\lambda\|\theta\|_1$ (L1,
"lasso") adds $\lambda\operatorname{sign}(\theta)$ and drives small weights exactly to zero.

**Decoupled weight decay** (Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR
2019). For plain SGD, shrinking the weights $\theta \leftarrow (1 - \eta\lambda)\theta$ is the
same as the L2 gradient. For adaptive methods it is not: Adam divides the L2 gradient by
$\sqrt{\hat v}$, so weights with large gradients are barely regularized. AdamW applies the
shrink directly to the weights, outside the adaptive update:

$$\theta \leftarrow \theta - \eta\lambda\theta - \eta\,\frac{\hat m}{\sqrt{\hat v} + \epsilon}.$$

Why the two agree for SGD and not for Adam, in two lines. SGD on $L + \frac\lambda2\|\theta\|^2$
steps $\theta - \eta(g + \lambda\theta) = (1 - \eta\lambda)\theta - \eta g$: a shrink, then the
plain step. Adam on the same loss feeds $g + \lambda\theta$ into its moments, so the decay term
is divided by $\sqrt{\hat v}$ per coordinate: a weight whose gradients are large
($\sqrt{\hat v}$ big) is decayed by $\eta\lambda\theta/\sqrt{\hat v}$, a small fraction of what a
weight with tiny gradients gets. The shrink is no longer uniform, and it is no longer a prior
on $\theta$. AdamW removes the penalty from the loss and shrinks by $(1 - \eta\lambda)$ directly.

The tests show both identities with torch's optimizers: `l2_penalty` + `torch.optim.Adam` equals
`Adam(weight_decay=λ)`, and `decoupled_weight_decay_` + `Adam` equals `AdamW`, and that the two
differ. (The optimizers themselves are Module 1's subject; here they are torch's.)

**Early stopping** watches a validation metric and stops when it has not improved by `min_delta`
for `patience` evaluations, keeping the best weights: a cheap regularizer that limits the
effective number of training steps.

**Data augmentation** enlarges the training set with label-preserving transformations. The hook
here is a dataset wrapper that applies a chain of transforms to each example when it is read,
with an explicit generator so that runs are reproducible.

A worked example: early stopping with patience 2 stops after the second check without an
improvement and remembers where the best value was.

>>> stopper = EarlyStopping(patience=2)
>>> [stopper.step(v) for v in [1.0, 0.8, 0.85, 0.9]]
[False, False, False, True]
>>> stopper.best, stopper.best_step
(0.8, 1)

Left out: max-norm constraints, spectral normalization, mixup/cutmix.

## Exercises

1. Write `adamw_step(theta, grad, m, v, t, lr, weight_decay)`: one AdamW step with bias-corrected
   moments ($\beta = (0.9, 0.999)$, $\epsilon = 10^{-8}$), returning `(theta, m, v)`. Check it:
   `uv run pytest --exercise nn.regularization`.
2. Write `stopping_step(values, patience, min_delta)`: the index of the validation check after
   which early stopping (mode "min") ends training, or -1. Check it:
   `uv run pytest --exercise nn.regularization`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

# ## Weight penalties


def l2_penalty(params: Iterable[Tensor], weight_decay: float) -> Tensor:
    r"""$\tfrac{\lambda}{2}\sum \|\theta\|_2^2$: its gradient is $\lambda\theta$.

    >>> l2_penalty([torch.tensor([3.0, 4.0])], weight_decay=0.1).item()  # 0.1/2 * 25
    1.25
    """
    return 0.5 * weight_decay * sum((p * p).sum() for p in params)


def l1_penalty(params: Iterable[Tensor], strength: float) -> Tensor:
    r"""$\lambda\sum|\theta|$: its (sub)gradient is $\lambda\operatorname{sign}(\theta)$."""
    return strength * sum(p.abs().sum() for p in params)


# ## Decoupled weight decay
#
# Applied in place *before* the optimizer's step, with the optimizer's learning rate: the step
# itself then sees the unmodified gradient, exactly as AdamW orders the two.


@torch.no_grad()
def decoupled_weight_decay_(params: Iterable[Tensor], lr: float, weight_decay: float) -> None:
    r"""Shrink every parameter in place: $\theta \leftarrow (1 - \eta\lambda)\theta$."""
    if weight_decay < 0 or lr < 0:
        raise ValueError(
            f"lr and weight_decay must be >= 0, got lr={lr}, weight_decay={weight_decay}"
        )
    for p in params:
        p.mul_(1 - lr * weight_decay)


# ## Early stopping


class EarlyStopping:
    """Stop when a validation metric has not improved for `patience` checks; remember the best.

    `mode="min"` for losses, `"max"` for accuracies. An improvement must beat the best value by
    more than `min_delta`.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, mode: str = "min") -> None:
        if patience < 1:
            raise ValueError(f"EarlyStopping: patience must be >= 1, got {patience}")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.best: float | None = None
        self.best_step = -1
        self.best_state: dict[str, Tensor] | None = None
        self.bad_checks = 0
        self.steps = 0

    # An improvement must clear `min_delta` in the metric's direction; the first value always
    # counts.
    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    # Each check either resets the count of bad checks (and copies the best weights) or adds
    # one to it; `patience` bad checks in a row mean stop.
    def step(self, value: float, model: nn.Module | None = None) -> bool:
        """Record one validation value; return True when training should stop.

        If `model` is given, a copy of its weights is kept whenever the value improves.
        """
        if self._improved(value):
            self.best, self.best_step, self.bad_checks = value, self.steps, 0
            if model is not None:
                self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad_checks += 1
        self.steps += 1
        return self.bad_checks >= self.patience

    # Restoring needs the weights that `step` copied, so `model=` must have been passed there.
    def restore_best(self, model: nn.Module) -> None:
        """Load the best weights seen back into `model`."""
        if self.best_state is None:
            raise ValueError(
                "EarlyStopping.restore_best: no weights were recorded; pass model= to step"
            )
        model.load_state_dict(self.best_state)


# ## Data augmentation hooks
#
# A transform is any function `(x, generator) -> x` on one example; the generator makes the
# randomness explicit. Three classic image transforms for `(C, H, W)` tensors follow; any other
# function with the same signature plugs into `AugmentedDataset` the same way.

Transform = Callable[[Tensor, torch.Generator], Tensor]


def random_horizontal_flip(p: float = 0.5) -> Transform:
    """Mirror an image `(C, H, W)` left-right with probability `p`."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random_horizontal_flip: p must be in [0, 1], got {p}")

    def flip(x: Tensor, g: torch.Generator) -> Tensor:
        return x.flip(-1) if torch.rand((), generator=g).item() < p else x

    return flip


# A crop draws its window's corner uniformly over the padded image; noise is added elementwise.
def random_crop(size: int, padding: int = 0) -> Transform:
    """Zero-pad an image `(C, H, W)` by `padding`, then cut a random `size` x `size` window."""

    def crop(x: Tensor, g: torch.Generator) -> Tensor:
        if padding:
            x = nn.functional.pad(x, (padding,) * 4)
        H, W = x.shape[-2:]
        if size > H or size > W:
            raise ValueError(f"random_crop: size {size} exceeds the padded image {H}x{W}")
        i = int(torch.randint(0, H - size + 1, (), generator=g))
        j = int(torch.randint(0, W - size + 1, (), generator=g))
        return x[..., i : i + size, j : j + size]

    return crop


def gaussian_noise(std: float) -> Transform:
    r"""Add $\mathcal{N}(0, \text{std}^2)$ noise to every element."""

    def noise(x: Tensor, g: torch.Generator) -> Tensor:
        return x + std * torch.randn(x.shape, generator=g, dtype=x.dtype)

    return noise


# The dataset applies the transforms lazily, on every read, so each epoch sees fresh
# augmentations drawn from one seeded generator.
class AugmentedDataset(torch.utils.data.Dataset):
    """Wrap a dataset of `(x, y)` pairs; apply `transforms` in order to `x` on every read.

    The generator is seeded once, so a fixed `seed` gives the same stream of augmentations.
    """

    def __init__(self, dataset: Sequence, transforms: Sequence[Transform], seed: int = 0) -> None:
        self.dataset, self.transforms = dataset, list(transforms)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        x, y = self.dataset[i]
        for t in self.transforms:
            x = t(x, self.generator)
        return x, y
