r"""# Convolution by im2col, and pooling

A 2-D convolution slides a small filter over an image and takes a dot product at every position.
For input $x$ of shape $(B, C_{in}, H, W)$ and weight $w$ of shape $(C_{out}, C_{in}/G, k_h, k_w)$,

$$y_{b,o,i,j} = \beta_o + \sum_{c}\sum_{u,v} w_{o,c,u,v}\;
x_{b,\,c,\; s i + d u - p,\; s j + d v - p},$$

with stride $s$, dilation $d$ (the gap between filter taps), zero padding $p$ and, for *groups*
$G$, the channel sum running only over the $C_{in}/G$ inputs of the output's group
($G = C_{in}$ is a depthwise convolution). The output size per axis is

$$H_{out} = \left\lfloor \frac{H + 2p - d(k - 1) - 1}{s} \right\rfloor + 1.$$

Derived: in padded coordinates output row $i$ reads rows $s i, s i + d, \dots, s i + d(k-1)$.
The padded input has rows $0, \dots, H + 2p - 1$, so row $i$ exists when its last tap fits,
$s i + d(k - 1) \le H + 2p - 1$, that is $i \le (H + 2p - d(k-1) - 1)/s$. Rows start at $i = 0$,
so there are $\lfloor\cdot\rfloor + 1$ of them. With $k = 3$, $d = 1$, $p = 1$, $s = 1$ this is
$H$ ("same" padding); with $s = 2$ it halves.

**Receptive field.** Stacking layers widens what one output sees. A layer $(k, d)$ on a grid whose
neighbouring cells are $J$ input pixels apart (the product of the earlier strides) widens it by
$d(k-1)J$, so $r = 1 + \sum_\ell d_\ell(k_\ell - 1)\prod_{j<\ell} s_j$: two $3\times3$ layers see
$5\times5$, three see $7\times7$ (VGG's argument for small filters).

A worked example: a $2\times2$ filter of ones with stride 2 sums each $2\times2$ block.

>>> import torch
>>> x = torch.arange(16.0).view(1, 1, 4, 4)
>>> conv2d(x, torch.ones(1, 1, 2, 2), stride=2).tolist()
[[[[10.0, 18.0], [42.0, 50.0]]]]
>>> max_pool2d(x, 2).flatten().tolist(), avg_pool2d(x, 2).flatten().tolist()
([5.0, 7.0, 13.0, 15.0], [2.5, 4.5, 10.5, 12.5])

(Like every deep learning library, this is strictly a *cross-correlation*: the filter is not
flipped. Learned filters do not care.)

**im2col** turns the convolution into one matrix multiply: gather every receptive field into a
column, so the input becomes a matrix of shape $(C_{in} k_h k_w,\; H_{out} W_{out})$ per image,
and the filters a matrix $(C_{out}, C_{in} k_h k_w)$. The gather here takes one strided slice of
the padded input per filter tap $(u, v)$: $k_h k_w$ cheap views instead of a Python loop over
output pixels. The matrix multiply then runs at BLAS speed, and autograd differentiates the
slices and the product, giving the backward pass (itself a convolution) for free.

**Pooling** reuses the same patches: max pooling takes the maximum of each window (padding
counts as $-\infty$), average pooling the mean (padding counts as 0 and is included in the
divisor, torch's default `count_include_pad=True`).

Reference: Chellapilla, Puri & Simard, *High Performance Convolutional Neural Networks for Document
Processing* (2006); Dumoulin & Visin, *A guide to convolution arithmetic* (2016).

Left out: FFT and Winograd convolutions, transposed convolution, `ceil_mode` pooling and padding
modes other than zeros.

## Exercises

1. Write `conv2d_loops(x, weight, bias, stride, padding)`: the convolution of the definition
   above with explicit loops over output positions (no im2col), for square kernels and no
   groups or dilation. Check it: `uv run pytest --exercise nn.conv`.
2. Write `receptive_field(layers)` for a list of layers `(k, s, d)`: the width of input one output
   pixel sees. Check it: `uv run pytest --exercise nn.conv`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    a, b = (v, v) if isinstance(v, int) else tuple(v)
    return int(a), int(b)


def conv_output_size(n: int, k: int, stride: int, padding: int, dilation: int) -> int:
    r"""$\lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1$ along one axis.

    >>> conv_output_size(32, k=3, stride=1, padding=1, dilation=1), conv_output_size(32, k=3, stride=2, padding=1, dilation=1)
    (32, 16)
    """
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


# im2col copies each receptive field out as a column, so a convolution becomes one matrix
# multiply over the `C * kh * kw` axis.
def im2col(
    x: Tensor,
    kernel_size: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    pad_value: float = 0.0,
) -> Tensor:
    """Gather the receptive fields of `x` `(B, C, H, W)` into `(B, C, kh*kw, Ho, Wo)`."""
    # The output size per axis; a kernel that does not fit the padded input is an error.
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    H, W = x.shape[-2:]
    Ho = conv_output_size(H, kh, sh, ph, dh)
    Wo = conv_output_size(W, kw, sw, pw, dw)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(
            f"kernel {kernel_size} with dilation {dilation} does not fit in the padded input "
            f"{H + 2 * ph}x{W + 2 * pw}"
        )
    xp = nn.functional.pad(x, (pw, pw, ph, ph), value=pad_value)  # (B, C, H+2p, W+2p)
    # Tap (u, v) of the filter sees rows $d u, d u + s, \dots$ and columns $d v, d v + s, \dots$
    # of the padded image: one strided slice of shape (B, C, Ho, Wo).
    taps = [
        xp[:, :, u * dh : u * dh + sh * (Ho - 1) + 1 : sh, v * dw : v * dw + sw * (Wo - 1) + 1 : sw]
        for u in range(kh)
        for v in range(kw)
    ]
    return torch.stack(taps, dim=2)  # (B, C, kh*kw, Ho, Wo)


# The convolution proper: check the shapes, gather the columns, then one batched product per
# group.
def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution by im2col, equal to `torch.nn.functional.conv2d`.

    `x` `(B, C_in, H, W)`, `weight` `(C_out, C_in/groups, kh, kw)`, `bias` `(C_out,)`;
    returns `(B, C_out, Ho, Wo)`.
    """
    if x.dim() != 4 or weight.dim() != 4:
        raise ValueError(
            f"conv2d: expected x (B, C, H, W) and weight (C_out, C_in/groups, kh, kw), got "
            f"{tuple(x.shape)} and {tuple(weight.shape)}"
        )
    # Groups split `C_in` and `C_out` into equal parts; the weight holds `C_in/groups` input
    # channels per filter.
    B, C = x.shape[:2]
    O, Cg, kh, kw = weight.shape
    if groups < 1 or C % groups or O % groups:
        raise ValueError(f"conv2d: C_in={C} and C_out={O} must be divisible by groups={groups}")
    if Cg != C // groups:
        raise ValueError(
            f"conv2d: weight expects {Cg * groups} input channels (C_in/groups={Cg}), input has {C}"
        )
    cols = im2col(x, (kh, kw), _pair(stride), _pair(padding), _pair(dilation))
    Ho, Wo = cols.shape[-2:]
    # Split channels into groups; each group is an independent matrix multiply.
    cols = cols.reshape(B, groups, Cg * kh * kw, Ho * Wo)  # (B, G, Cg*kh*kw, Ho*Wo)
    w = weight.reshape(groups, O // groups, Cg * kh * kw)  # (G, O/G, Cg*kh*kw)
    out = torch.einsum("gok,bgkl->bgol", w, cols)  # (B, G, O/G, Ho*Wo)
    out = out.reshape(B, O, Ho, Wo)  # (B, C_out, Ho, Wo)
    if bias is not None:
        out = out + bias.view(1, O, 1, 1)
    return out


# Pooling reuses im2col: the maximum over the taps, with $-\infty$ padding so that a pad never
# wins.
def max_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """Max pooling of `x` `(B, C, H, W)`, equal to `F.max_pool2d` (stride defaults to the kernel)."""
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    p = _pair(padding)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"max_pool2d: padding {p} must be at most half the kernel {k}")
    cols = im2col(x, k, s, p, _pair(dilation), pad_value=-math.inf)
    return cols.amax(dim=2)  # (B, C, Ho, Wo)


# Average pooling pads with zeros and counts them in the mean, as `F.avg_pool2d` does by
# default.
def avg_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """Average pooling of `x` `(B, C, H, W)`, equal to `F.avg_pool2d` (zero padding counted)."""
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    p = _pair(padding)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"avg_pool2d: padding {p} must be at most half the kernel {k}")
    return im2col(x, k, s, p).mean(dim=2)  # (B, C, Ho, Wo)


# The layer stores `weight` and `bias` and calls `conv2d` with its hyperparameters.
class Conv2d(nn.Module):
    r"""A convolution layer on `conv2d`, with `torch.nn.Conv2d`'s parameters and initialization.

    `weight` `(C_out, C_in/groups, kh, kw)` and `bias` `(C_out,)` start uniform in
    $\pm 1/\sqrt{C_{in} k_h k_w / G}$, as torch's default.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        # Groups must divide both channel counts.
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d: in_channels={in_channels} and out_channels={out_channels} must be "
                f"divisible by groups={groups}"
            )
        # torch's default, Kaiming-uniform with $a = \sqrt 5$, reduces to
        # $U(\pm 1/\sqrt{\text{fan-in}})$, for the weight and the bias alike.
        kh, kw = _pair(kernel_size)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        fan_in = in_channels // groups * kh * kw
        bound = 1 / math.sqrt(fan_in)
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups, kh, kw).uniform_(-bound, bound)
        )
        self.bias = (
            nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None
        )

    def forward(self, x: Tensor) -> Tensor:
        """Convolve `x` `(B, C_in, H, W)` to `(B, C_out, Ho, Wo)`."""
        return conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )
