r"""# Batch normalization

Batch normalization (Ioffe & Szegedy, *Batch Normalization: Accelerating Deep Network Training by
Reducing Internal Covariate Shift*, ICML 2015) standardizes every channel with statistics of the
current mini-batch, then applies a learned per-channel scale $\gamma$ and shift $\beta$:

$$\hat x_i = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}, \qquad y_i = \gamma \hat x_i + \beta,$$

with $\mu_B, \sigma_B^2$ the mean and biased variance over the $m$ values of the channel in the
batch (all samples, and all positions for images).

**Training vs evaluation.** At test time a prediction must not depend on the other samples of the
batch, so the layer keeps *running* estimates updated by an exponential moving average,

$$\hat\mu \leftarrow (1 - \text{momentum})\,\hat\mu + \text{momentum}\,\mu_B, \qquad
\hat\sigma^2 \leftarrow (1 - \text{momentum})\,\hat\sigma^2 + \text{momentum}\,\tfrac{m}{m-1}\sigma_B^2,$$

(the running variance uses the *unbiased* estimate, as torch does) and `eval()` normalizes with
them. `momentum=None` gives the cumulative average $1/t$ instead.

**Backward by hand.** With $g = \partial L / \partial y$, $\mathrm{rstd} = (\sigma_B^2 +
\epsilon)^{-1/2}$ and sums over the $m$ values of a channel,

$$\frac{\partial L}{\partial \beta} = \sum_i g_i, \quad
\frac{\partial L}{\partial \gamma} = \sum_i g_i \hat x_i, \quad
\frac{\partial L}{\partial x_i} = \frac{\gamma\,\mathrm{rstd}}{m}
  \Bigl(m g_i - \sum_j g_j - \hat x_i \sum_j g_j \hat x_j\Bigr).$$

The last line is the derivative through $\mu_B$ and $\sigma_B^2$, which both depend on every
$x_j$: the gradient is the upstream gradient with its mean and its projection onto $\hat x$
removed. Derived, one channel at a time, with $\hat g_i = \partial L/\partial \hat x_i = \gamma g_i$:

1. $\hat x_i = (x_i - \mu)\,\mathrm{rstd}$ depends on $x_j$ directly ($i = j$), through
   $\mu$ ($\partial\mu/\partial x_j = 1/m$), and through $\mathrm{rstd} = (\sigma^2 +
   \epsilon)^{-1/2}$, whose derivative is
   $\partial\,\mathrm{rstd}/\partial x_j = -\tfrac12\mathrm{rstd}^3\,\partial\sigma^2/\partial x_j
   = -\mathrm{rstd}^3 (x_j - \mu)/m = -\mathrm{rstd}^2\,\hat x_j/m$
   (the $\mu$ term of $\partial\sigma^2/\partial x_j$ sums to zero, since $\sum_k(x_k - \mu) = 0$).
2. So $\partial \hat x_i/\partial x_j = \mathrm{rstd}\,(\mathbb 1[i=j] - \tfrac1m) + (x_i - \mu)
   (-\mathrm{rstd}^2\hat x_j/m) = \frac{\mathrm{rstd}}{m}(m\,\mathbb 1[i=j] - 1 - \hat x_i\hat x_j)$.
3. Contract with $\hat g$: $\partial L/\partial x_j = \sum_i \hat g_i\,\partial\hat x_i/\partial x_j
   = \frac{\mathrm{rstd}}{m}(m\hat g_j - \sum_i \hat g_i - \hat x_j \sum_i \hat g_i \hat x_i)$,
   which with $\hat g = \gamma g$ is the formula above.

A consequence worth checking: $\sum_j \partial L/\partial x_j = 0$, and (exactly when
$\epsilon = 0$, since then $\sum_j \hat x_j^2 = m$) $\sum_j \hat x_j\,\partial L/\partial x_j = 0$.
Shifting or scaling a channel's inputs does not change $\hat x$, so the gradient has no
component along those directions. `batch_norm_backward` implements it, and the tests check it against autograd and
`torch.nn.BatchNorm1d/2d`.

A worked example of that consequence: the input gradient of a channel sums to zero.

>>> x = torch.tensor([[1.0], [2.0], [6.0]], dtype=torch.float64)
>>> one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
>>> y, cache = batch_norm_forward(x, one, zero, eps=0.0)
>>> gx, _, gbeta = batch_norm_backward(torch.tensor([[1.0], [0.0], [0.0]], dtype=torch.float64), cache)
>>> abs(gx.sum().item()) < 1e-12, abs((gx * cache[0]).sum().item()) < 1e-12, gbeta.tolist()
(True, True, [1.0])

Left out: synchronized batch norm across devices, and fusing batch norm into the previous
convolution for inference (exercise 3 derives the fold for a linear layer).

## Exercises

1. Write `batchnorm_grad_x(grad_y, x, gamma, eps)` for `x` `(B, C)`: the input gradient of
   training-mode batch norm from the derivation above, without autograd. Check it:
   `uv run pytest --exercise nn.batchnorm`.
2. Write `running_stats(running_mean, running_var, x, momentum)`: the running statistics after
   one training batch, as `torch.nn.BatchNorm1d` keeps them. Check it:
   `uv run pytest --exercise nn.batchnorm`.
3. Write `fold_batchnorm(weight, bias, running_mean, running_var, gamma, beta, eps)`: the weight
   and bias of one linear layer equal to `Linear` followed by an eval-mode batch norm (in eval the
   normalization is a fixed affine map per channel). Check it: `uv run pytest --exercise nn.batchnorm`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _reduce_dims(x: Tensor) -> tuple[int, ...]:
    # Statistics are per channel (dim 1): reduce over the batch and every spatial dim.
    return (0, *range(2, x.dim()))


# A per-channel vector `(C,)`, reshaped to broadcast against `x` `(B, C, *S)`.
def _channel_view(v: Tensor, x: Tensor) -> Tensor:
    return v.view((1, -1) + (1,) * (x.dim() - 2))  # (C,) -> (1, C, 1, ...)


# The forward: normalize each channel by its batch mean and biased variance, then scale and
# shift.
def batch_norm_forward(
    x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5
) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
    """Training-mode batch norm of `x` `(B, C, *S)`; returns `y` and the cache for backward.

    The cache is `(x_hat, rstd, gamma)`; `rstd` has shape `(C,)`.

    >>> x = torch.tensor([[1.0], [3.0]])  # (B=2, C=1)
    >>> y, _ = batch_norm_forward(x, torch.ones(1), torch.zeros(1))
    >>> y.round(decimals=4).tolist()  # mean 2, variance 1 (biased): (x - 2) / sqrt(1 + eps)
    [[-1.0], [1.0]]
    """
    # Statistics per channel over the batch and spatial dims; `x_hat` and `rstd` are kept for
    # the backward.
    dims = _reduce_dims(x)
    mu = x.mean(dim=dims)  # (C,)
    xc = x - _channel_view(mu, x)
    var = (xc * xc).mean(dim=dims)  # (C,), biased
    rstd = torch.rsqrt(var + eps)  # (C,)
    x_hat = xc * _channel_view(rstd, x)  # (B, C, *S)
    y = x_hat * _channel_view(gamma, x) + _channel_view(beta, x)
    return y, (x_hat, rstd, gamma)


def batch_norm_backward(
    grad_y: Tensor, cache: tuple[Tensor, Tensor, Tensor]
) -> tuple[Tensor, Tensor, Tensor]:
    """Hand-written backward of `batch_norm_forward`: returns `(grad_x, grad_gamma, grad_beta)`."""
    x_hat, rstd, gamma = cache
    dims = _reduce_dims(x_hat)
    m = x_hat.numel() // x_hat.shape[1]  # values per channel
    grad_beta = grad_y.sum(dim=dims)  # (C,)
    grad_gamma = (grad_y * x_hat).sum(dim=dims)  # (C,)
    # The three terms of $\partial L/\partial x$: the direct path, minus the mean of $g$ (through
    # $\mu_B$), minus the projection of $g$ on $\hat x$ (through $\sigma_B^2$).
    mean_g = _channel_view(grad_beta / m, x_hat)
    mean_gx = _channel_view(grad_gamma / m, x_hat)
    scale = _channel_view(gamma * rstd, x_hat)
    grad_x = scale * (grad_y - mean_g - x_hat * mean_gx)  # (B, C, *S)
    return grad_x, grad_gamma, grad_beta


class _BatchNormFunction(torch.autograd.Function):
    # Wires the hand-written backward into autograd, so a model using our BatchNorm trains with
    # the chapter's gradient formula rather than autograd's.

    @staticmethod
    def forward(ctx, x: Tensor, gamma: Tensor, beta: Tensor, eps: float) -> Tensor:
        """Training-mode forward; saves the cache for the hand-written backward."""
        y, cache = batch_norm_forward(x, gamma, beta, eps)
        ctx.save_for_backward(*cache)
        return y

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        """`batch_norm_backward` on the saved cache (no gradient for `eps`)."""
        grad_x, grad_gamma, grad_beta = batch_norm_backward(grad_y, ctx.saved_tensors)
        return grad_x, grad_gamma, grad_beta, None


# The module: parameters and running statistics as in `torch.nn`; the 1d and 2d layers differ
# only in the input ranks they accept.
class _BatchNorm(nn.Module):
    """Batch norm over channel dim 1 with running statistics (shared by the 1d and 2d layers)."""

    _expected_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        if num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be positive")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None")
        # $\gamma$ starts at 1 and $\beta$ at 0, the running variance at 1: an untrained layer in
        # eval mode is nearly the identity.
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    # Rank and channel count are checked up front, with the layer's name in the message.
    def _check(self, x: Tensor) -> None:
        name = type(self).__name__
        if x.dim() not in self._expected_dims:
            dims = " or ".join(f"{d}-D" for d in self._expected_dims)
            raise ValueError(f"{name}: expected a {dims} input, got shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{name}: expected {self.num_features} channels in dim 1, got shape "
                f"{tuple(x.shape)}"
            )

    def forward(self, x: Tensor) -> Tensor:
        """Normalize `x` `(B, C, *S)`: batch statistics in training, running ones in eval."""
        self._check(x)
        use_batch_stats = self.training or not self.track_running_stats
        # Batch statistics need more than one value per channel: a single value has no variance.
        if use_batch_stats and x.numel() // x.shape[1] <= 1:
            raise ValueError(
                f"{type(self).__name__}: need more than 1 value per channel in training, got "
                f"shape {tuple(x.shape)}"
            )
        gamma = self.weight if self.weight is not None else x.new_ones(self.num_features)
        beta = self.bias if self.bias is not None else x.new_zeros(self.num_features)
        # Eval with running statistics is a fixed affine map, left to plain autograd. Training
        # updates the running averages, then normalizes by the batch's own statistics through the
        # hand-written backward.
        if not use_batch_stats:
            rstd = torch.rsqrt(self.running_var + self.eps)
            x_hat = (x - _channel_view(self.running_mean, x)) * _channel_view(rstd, x)
            return x_hat * _channel_view(gamma, x) + _channel_view(beta, x)
        if self.training and self.track_running_stats:
            self._update_running_stats(x)
        return _BatchNormFunction.apply(x, gamma, beta, self.eps)

    # The running averages take the *unbiased* batch variance, as torch does; the normalization
    # itself uses the biased one.
    @torch.no_grad()
    def _update_running_stats(self, x: Tensor) -> None:
        dims = _reduce_dims(x)
        m = x.numel() // x.shape[1]
        self.num_batches_tracked += 1
        # `momentum=None` means a cumulative moving average: weight $1/t$ for the $t$-th batch.
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        mean = x.mean(dim=dims)
        var_unbiased = x.var(dim=dims, unbiased=True) if m > 1 else x.new_zeros(mean.shape)
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
        self.running_var.lerp_(var_unbiased.to(self.running_var.dtype), factor)


class BatchNorm1d(_BatchNorm):
    """Batch norm for `(B, C)` or `(B, C, T)` inputs, equal to `torch.nn.BatchNorm1d`."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm for images `(B, C, H, W)`, equal to `torch.nn.BatchNorm2d`."""

    _expected_dims = (4,)
