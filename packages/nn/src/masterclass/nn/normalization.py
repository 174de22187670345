r"""# Normalization layers: LayerNorm, RMSNorm, GroupNorm, InstanceNorm

Deep networks train faster when the inputs to each layer keep a stable scale. A normalization layer
standardizes activations over some set of axes and then lets the network re-scale them with learned
parameters:

$$y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \odot \gamma + \beta,$$

where $\mu$ and $\sigma^2$ are the mean and the *biased* variance (divide by $n$, not $n-1$) over
the normalized axes. The layers differ only in *which* axes:

| layer | input | statistics over | per-sample? |
|---|---|---|---|
| BatchNorm (see `batchnorm.py`) | $(B, C, \dots)$ | batch and space, per channel | no |
| LayerNorm | $(\dots, d)$ | the last $d$ features | yes |
| RMSNorm | $(\dots, d)$ | the last $d$ features, no centring | yes |
| GroupNorm | $(B, C, \dots)$ | $C/G$ channels and space, per group | yes |
| InstanceNorm | $(B, C, \dots)$ | space, per channel | yes |

Per-sample statistics make LayerNorm and RMSNorm independent of the batch, which is why
transformers use them. RMSNorm drops the mean and the bias, $y = x / \sqrt{\overline{x^2} +
\epsilon} \odot \gamma$, saving work with no loss in quality at scale.

**What each one is invariant to**, derived. Replace a sample's features by $a x + b$ (a scalar
$a > 0$ and shift $b$). Its mean becomes $a\mu + b$ and its biased variance $a^2\sigma^2$, so

$$\frac{(a x + b) - (a\mu + b)}{\sqrt{a^2\sigma^2}} = \frac{x - \mu}{\sigma}:$$

LayerNorm's output ignores both (up to $\epsilon$), so the layer before it cannot blow up the
next one by growing its weights. RMSNorm divides by $\sqrt{\overline{(ax)^2}} = a\sqrt{\overline{x^2}}$:
invariant to the scale $a$ but not to the shift $b$, the part LayerNorm's centring paid for.
The same scale invariance has a price in the backward pass: the gradient with respect to $x$ is
orthogonal to $x$ (see `batchnorm.py`'s derivation, with the axes swapped).

A worked example: LayerNorm of $(1, 2, 3)$ is $(x - 2)/\sqrt{2/3}$, and of $(10, 20, 30) + 7$ the same.

>>> ln = LayerNorm(3, eps=0.0)
>>> [round(v, 4) for v in ln(torch.tensor([[1.0, 2.0, 3.0]]))[0].tolist()]
[-1.2247, 0.0, 1.2247]
>>> [round(v, 4) for v in ln(torch.tensor([[17.0, 27.0, 37.0]]))[0].tolist()]
[-1.2247, 0.0, 1.2247]

References: Ba et al., *Layer Normalization* (2016); Zhang & Sennrich, *Root Mean Square Layer
Normalization* (2019); Wu & He, *Group Normalization* (2018); Ulyanov et al., *Instance
Normalization* (2016).

The layers are written with plain tensor ops so autograd differentiates them; the hand-derived
backward of a normalization is taught once, for batch norm, in `batchnorm.py`. Plain ops cost
several passes over memory where torch's fused kernel makes one, so in eager mode on the CPU
these layers are a few times slower than `nn.LayerNorm` (measured by `bench/layers.py`);
`torch.compile` fuses them back into one kernel. Left out: running
statistics for InstanceNorm (`track_running_stats`), which torch disables by default too.

## Exercises

1. Write `layer_norm(x, gamma, beta, eps)` over the last axis. Check it:
   `uv run pytest --exercise nn.normalization`.
2. Write `rms_norm(x, gamma, eps)` over the last axis. Check it:
   `uv run pytest --exercise nn.normalization`.
3. Write `group_norm(x, groups, gamma, beta, eps)` for `x` `(B, C, *S)`; which values of `groups`
   give InstanceNorm, and which a LayerNorm over `(C, *S)`? Check it:
   `uv run pytest --exercise nn.normalization`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _check_last_dim(name: str, x: Tensor, d: int) -> None:
    if x.dim() < 1 or x.shape[-1] != d:
        raise ValueError(
            f"{name}: expected input whose last dimension is {d}, got shape {tuple(x.shape)}"
        )


def _check_channels(name: str, x: Tensor, c: int) -> None:
    if x.dim() < 2 or x.shape[1] != c:
        raise ValueError(
            f"{name}: expected input of shape (B, {c}, ...) with {c} channels in dim 1, "
            f"got shape {tuple(x.shape)}"
        )


# ## LayerNorm
#
# Each feature vector $x \in \mathbb{R}^d$ is standardized on its own:
# $\mu = \frac1d \sum_i x_i$, $\sigma^2 = \frac1d \sum_i (x_i - \mu)^2$. Subtracting the mean
# before squaring (rather than $\overline{x^2} - \mu^2$) avoids catastrophic cancellation when
# $|\mu| \gg \sigma$.


class LayerNorm(nn.Module):
    r"""Layer normalization over the last dimension, equal to `torch.nn.LayerNorm(d)`.

    Input `(..., d)`, output the same shape. Parameters `weight` $\gamma$ (ones) and `bias`
    $\beta$ (zeros, only if `bias=True`).
    """

    def __init__(self, d: int, eps: float = 1e-5, bias: bool = True) -> None:
        super().__init__()
        if d <= 0:
            raise ValueError(f"LayerNorm: d must be positive, got {d}")
        self.d, self.eps = d, eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """Normalize `x` of shape `(..., d)`."""
        _check_last_dim("LayerNorm", x, self.d)
        # Statistics of 16-bit inputs are taken in float32, as torch's kernel does.
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        mu = xf.mean(dim=-1, keepdim=True)  # (..., 1)
        xc = xf - mu  # (..., d)
        var = (xc * xc).mean(dim=-1, keepdim=True)  # (..., 1), biased
        y = (xc * torch.rsqrt(var + self.eps)).to(x.dtype) * self.weight
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        """The arguments shown by `repr(module)`."""
        return f"{self.d}, eps={self.eps}, bias={self.bias is not None}"


# ## RMSNorm
#
# Only the scale is normalized: $\mathrm{rms}(x) = \sqrt{\frac1d \sum_i x_i^2 + \epsilon}$ and
# $y = x / \mathrm{rms}(x) \odot \gamma$. In reduced precision models (bf16) the square is taken
# in float32, as LLaMA does, and the result is cast back.


class RMSNorm(nn.Module):
    r"""Root-mean-square normalization over the last dimension, equal to `torch.nn.RMSNorm(d, eps)`.

    Input `(..., d)`, output the same shape and dtype. Parameter `weight` $\gamma$ (ones).

    >>> norm = RMSNorm(2, eps=0.0)
    >>> norm(torch.tensor([[3.0, 4.0]])).round(decimals=4).tolist()  # rms = sqrt(12.5)
    [[0.8485000133514404, 1.1313999891281128]]
    """

    def __init__(self, d: int, eps: float = 1e-6) -> None:
        super().__init__()
        if d <= 0:
            raise ValueError(f"RMSNorm: d must be positive, got {d}")
        self.d, self.eps = d, eps
        self.weight = nn.Parameter(torch.ones(d))

    # Under bf16 or fp16 the mean of squares is taken in float32; only the normalised result is
    # cast back.
    def forward(self, x: Tensor) -> Tensor:
        """Normalize `x` of shape `(..., d)`."""
        _check_last_dim("RMSNorm", x, self.d)
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        ms = (xf * xf).mean(dim=-1, keepdim=True)  # (..., 1)
        y = (xf * torch.rsqrt(ms + self.eps)).to(x.dtype)
        return y * self.weight

    def extra_repr(self) -> str:
        """The arguments shown by `repr(module)`."""
        return f"{self.d}, eps={self.eps}"


# ## GroupNorm and InstanceNorm
#
# For images, per-sample statistics over *all* channels mix unrelated features, while per-channel
# statistics over a small batch are noisy. GroupNorm splits the $C$ channels into $G$ groups and
# normalizes each group of each sample over its channels and all spatial positions. With $G = 1$
# it is LayerNorm over $(C, H, W)$; with $G = C$ it is InstanceNorm. The affine $\gamma, \beta$
# are per channel.


def _group_normalize(x: Tensor, groups: int, eps: float) -> Tensor:
    # (B, C, *S) -> (B, G, C/G * prod(S)): one row per (sample, group)
    B = x.shape[0]
    xg = x.reshape(B, groups, -1)  # (B, G, N)
    mu = xg.mean(dim=-1, keepdim=True)  # (B, G, 1)
    xc = xg - mu
    var = (xc * xc).mean(dim=-1, keepdim=True)  # (B, G, 1)
    return (xc * torch.rsqrt(var + eps)).reshape(x.shape)  # (B, C, *S)


# The affine step is per channel, whatever the grouping.
def _channel_affine(y: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    shape = (1, -1) + (1,) * (y.dim() - 2)  # broadcast (C,) over (B, C, *S)
    if weight is not None:
        y = y * weight.view(shape)
    if bias is not None:
        y = y + bias.view(shape)
    return y


# GroupNorm needs the groups to divide the channels; $\gamma$ starts at 1 and $\beta$ at 0.
class GroupNorm(nn.Module):
    """Group normalization, equal to `torch.nn.GroupNorm(num_groups, num_channels)`.

    Input `(B, C, *S)`, output the same shape. Parameters `weight`, `bias` of shape `(C,)`.
    """

    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True
    ) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups != 0:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by a positive "
                f"num_groups ({num_groups})"
            )
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = nn.Parameter(torch.ones(num_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_channels)) if affine else None

    # Normalise per (sample, group), then apply the per-channel affine.
    def forward(self, x: Tensor) -> Tensor:
        """Normalize `x` of shape `(B, C, *S)` per sample and per group."""
        _check_channels("GroupNorm", x, self.num_channels)
        y = _group_normalize(x, self.num_groups, self.eps)
        return _channel_affine(y, self.weight, self.bias)


# InstanceNorm is GroupNorm with one channel per group ($G = C$); it needs a spatial dim to
# average over, and by default has no affine, as in torch.
class InstanceNorm(nn.Module):
    """Instance normalization, equal to `torch.nn.InstanceNorm1d/2d(num_features)`.

    Each channel of each sample is standardized over its spatial positions. Input `(B, C, *S)`
    with at least one spatial dim. `affine=False` by default, as in torch.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = False) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None

    # Check the channel count, then that there is at least one spatial dim to average over.
    def forward(self, x: Tensor) -> Tensor:
        """Normalize `x` of shape `(B, C, *S)` per sample and per channel."""
        _check_channels("InstanceNorm", x, self.num_features)
        if x.dim() < 3:
            raise ValueError(
                f"InstanceNorm: expected (B, C, *S) with a spatial dim, got shape {tuple(x.shape)}"
            )
        y = _group_normalize(x, self.num_features, self.eps)
        return _channel_affine(y, self.weight, self.bias)
