r"""# Residual connections

A residual block learns a *correction* to its input instead of a whole new representation
(He et al., *Deep Residual Learning for Image Recognition*, CVPR 2016):

$$x_{\ell+1} = x_\ell + F(x_\ell).$$

The identity path changes what backpropagation sees. Differentiating,

$$\frac{\partial x_{\ell+1}}{\partial x_\ell} = I + \frac{\partial F}{\partial x_\ell}
\quad\Longrightarrow\quad
\frac{\partial L}{\partial x_\ell} = \frac{\partial L}{\partial x_L}
\prod_{k=\ell}^{L-1}\Bigl(I + \frac{\partial F_k}{\partial x_k}\Bigr),$$

so the gradient reaching an early layer contains the upstream gradient *itself*, plus correction
terms, instead of a product of $L - \ell$ Jacobians that can shrink geometrically. In a plain
stack $x_{\ell+1} = F(x_\ell)$ the gradient of the first layer of a deep, badly conditioned
network can be many orders of magnitude smaller than that of the last; with skips it stays of the
same order of magnitude. `gradient_norms_by_depth` measures exactly that, and the figure plots it:

![gradient norm per layer, plain vs residual](figures/residual_gradient_norms.png)

Two block designs are here. `ResidualMLPBlock` is the *pre-norm* block of transformers,
$x + W_2\,\phi(W_1 \mathrm{LN}(x))$ (He et al., *Identity Mappings in Deep Residual Networks*,
2016, showed that keeping the skip path free of normalization and nonlinearity is what matters).
`BasicBlock` is the ResNet-18/34 convolutional block, conv-BN-ReLU-conv-BN, added to the
input (through a 1x1 convolution when the shape changes) and followed by a ReLU.

A worked example: through 20 contractive tanh layers the plain stack's first-layer gradient
is about $10^{-7}$ of its last layer's, while the residual stack's stays of order one; and a
block that halves the resolution and doubles the channels projects its skip path.

>>> plain = gradient_norms_by_depth(False, depth=20, d=16)
>>> res = gradient_norms_by_depth(True, depth=20, d=16)
>>> plain[0] / plain[-1] < 1e-5, 0.1 < res[0] / res[-1] < 10
(True, True)
>>> block = BasicBlock(4, 8, stride=2)
>>> tuple(block(torch.randn(2, 4, 8, 8)).shape), block.shortcut is not None
((2, 8, 4, 4), True)

Left out: bottleneck blocks (ResNet-50), stochastic depth, and zero-initializing the last
normalization of each branch.

## Exercises

1. Write `residual_grad(x, weight, grad_out)`: $\partial L/\partial x$ for the layer
   $y = x + \tanh(x W^\top)$ on `(B, d)` rows, given $\partial L/\partial y$. Check it:
   `uv run pytest --exercise nn.residual`.
2. Write `needs_projection(in_channels, out_channels, stride)`: whether a ResNet basic block
   needs a 1x1 convolution on its skip path. Check it: `uv run pytest --exercise nn.residual`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from masterclass.nn.activations import gelu, relu
from masterclass.nn.batchnorm import BatchNorm2d
from masterclass.nn.conv import Conv2d
from masterclass.nn.normalization import LayerNorm


# Pre-norm: the branch sees a normalised input and the skip carries $x$ untouched, so the
# identity path contributes a gradient of exactly 1.
class ResidualMLPBlock(nn.Module):
    r"""Pre-norm residual MLP block $x + W_2\,\mathrm{GELU}(W_1\,\mathrm{LN}(x))$ on `(..., d)`."""

    def __init__(self, d: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or 4 * d
        self.norm = LayerNorm(d)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)

    def forward(self, x: Tensor) -> Tensor:
        """`(..., d)` to `(..., d)`."""
        return x + self.fc2(gelu(self.fc1(self.norm(x))))


# The ResNet basic block: two 3x3 convolutions with batch norm, added to the (possibly projected)
# input before the last ReLU.
class BasicBlock(nn.Module):
    """ResNet basic block on images `(B, C_in, H, W)` -> `(B, C_out, H/stride, W/stride)`."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BatchNorm2d(out_channels)
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = BatchNorm2d(out_channels)
        # When the block changes the shape, the skip path needs a projection to match it.
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        r"""$\mathrm{ReLU}(\mathrm{BN}(\mathrm{conv}(\mathrm{ReLU}(\mathrm{BN}(\mathrm{conv}(x))))) + \mathrm{skip}(x))$."""
        out = relu(self.bn1(self.conv1(x)))  # (B, C_out, H', W')
        out = self.bn2(self.conv2(out))
        skip = x if self.shortcut is None else self.shortcut(x)
        return relu(out + skip)


# ## Measuring gradient flow
#
# Plain and residual stacks of the same depth and the same layers: `Linear` + `tanh` branches,
# with a weight scale below the critical $1/\sqrt{d}$ so that a plain stack is contractive, the
# regime where gradients vanish. The loss is a fixed random linear readout of the output, so the
# upstream gradient $\partial L / \partial x_L$ is the same in both stacks; the measurement is the
# norm of the gradient with respect to each layer's input, $\|\partial L / \partial x_\ell\|$,
# the quantity in the product above.


class DeepStack(nn.Module):
    r"""`depth` layers $x \mapsto \tanh(W x)$, composed plainly or with identity skips."""

    def __init__(
        self, d: int, depth: int, residual: bool, weight_std: float, seed: int = 0
    ) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.residual = residual
        self.layers = nn.ModuleList(nn.Linear(d, d, bias=False) for _ in range(depth))
        with torch.no_grad():
            for layer in self.layers:
                layer.weight.normal_(0.0, weight_std, generator=g)

    # `retain_grad` makes autograd store `.grad` on each layer's input, which it does not do for
    # intermediate tensors by default.
    def forward(self, x: Tensor, inputs: list[Tensor] | None = None) -> Tensor:
        """`(B, d)` to `(B, d)`; if `inputs` is a list, each layer's input is appended to it."""
        for layer in self.layers:
            if inputs is not None:
                x.retain_grad()
                inputs.append(x)
            h = torch.tanh(layer(x))
            x = x + h if self.residual else h
        return x


# One backward pass fills the gradient of every layer's input; the fixed readout makes the
# upstream gradient the same for the plain and the residual stack.
def gradient_norms_by_depth(
    residual: bool, depth: int = 50, d: int = 64, weight_gain: float = 0.5, seed: int = 0
) -> list[float]:
    r"""$\|\partial L/\partial x_\ell\|$ for each layer's input $x_\ell$, first layer first.

    Weights are $\mathcal{N}(0, (g/\sqrt d)^2)$ with gain $g$ = `weight_gain`.
    """
    if depth < 1 or d < 1:
        raise ValueError(f"depth and d must be positive, got depth={depth}, d={d}")
    model = DeepStack(d, depth, residual, weight_gain / d**0.5, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(32, d, generator=g).requires_grad_(True)  # (B, d)
    readout = torch.randn(d, generator=g)  # (d,)
    inputs: list[Tensor] = []
    (model(x, inputs) @ readout).mean().backward()
    return [t.grad.norm().item() for t in inputs]
