r"""# A small CNN on rendered shapes

A convolutional network learns a bank of small filters shared across positions: far fewer
parameters than a dense layer on pixels, and a built-in assumption that a pattern means the same
thing wherever it appears (translation equivariance). Pooling then makes the features tolerant to
small shifts, and a final linear layer classifies.

The dataset is generated, not downloaded: each image is a $16 \times 16$ grey canvas with one
filled shape (a disc, a square or a triangle) of random size and position, plus Gaussian noise.
Position and size vary, so a classifier has to recognise the *shape*, not a fixed pixel
pattern, which is exactly what convolution and pooling are for.

The network is built from this module's own pieces, `Conv2d` (im2col, `conv.py`), `BatchNorm2d`
(`batchnorm.py`) and `max_pool2d`, and trained with Adam. The test trains it for a few seconds
and checks the held-out accuracy.

**What weight sharing saves.** The second convolution maps $8$ channels of $8\times8$ to $16$
channels of $8\times8$ with $16 \cdot (8 \cdot 9 + 1) = 1168$ parameters. A dense layer between
the same two feature maps needs one weight per (input pixel, output pixel) pair,
$(8 \cdot 64)(16 \cdot 64) + 16 \cdot 64 = 525\,312$, 450 times more, and would have to learn the
same edge detector separately at every position.

**Translation equivariance**, the property that makes sharing right: write $T$ for a shift of the
image by one pixel. Each output of a convolution is the same dot product at a different place, so
$\mathrm{conv}(T x) = T\,\mathrm{conv}(x)$ away from the borders, and elementwise activations
commute with $T$ too. Max pooling over $2\times2$ windows turns a shift by 2 into a shift by 1
of its output and absorbs part of a shift by 1, which is how the network becomes *tolerant*
(approximately invariant) to where the shape is.

A worked example: the data and the network's shapes, and its parameter count.

>>> x, y = render_shapes(4, seed=0)
>>> tuple(x.shape), [SHAPES[i] for i in y]
((4, 1, 16, 16), ['triangle', 'disc', 'triangle', 'disc'])
>>> model = SmallCNN()
>>> tuple(model(x).shape), sum(p.numel() for p in model.parameters())
((4, 3), 2067)

Left out: data augmentation (see `regularization.py`), deeper architectures (ResNets use the
residual blocks of `residual.py`).

## Exercises

1. Write `cnn_parameters(channels, image_size, n_classes)`: the number of trainable parameters
   of `SmallCNN`. Check it: `uv run pytest --exercise nn.cnn`.
2. Write `dense_equivalent(c_in, c_out, size)`: the parameters of a dense layer from a
   `(c_in, size, size)` feature map to a `(c_out, size, size)` one, the count a $3\times3$
   convolution's $c_{out}(9 c_{in} + 1)$ replaces. Check it: `uv run pytest --exercise nn.cnn`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from masterclass.nn.activations import relu
from masterclass.nn.batchnorm import BatchNorm2d
from masterclass.nn.conv import Conv2d, max_pool2d

SHAPES = ("disc", "square", "triangle")


# ## Rendering shapes
#
# Each shape is a boolean mask over the pixel grid, computed from pixel-centre coordinates: the
# disc from the distance to its centre, the square from the max-norm, the triangle (pointing up)
# from three half-planes.


def render_shapes(
    n: int, size: int = 16, noise: float = 0.1, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Render `n` images `(n, 1, size, size)` of random shapes and their labels `(n,)`."""
    if size < 8:
        raise ValueError(f"render_shapes: size must be >= 8 to draw a shape, got {size}")
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, len(SHAPES), (n,), generator=g)
    radius = size * (0.2 + 0.15 * torch.rand(n, generator=g))  # (n,)
    margin = radius + 1
    cx = margin + (size - 2 * margin) * torch.rand(n, generator=g)
    cy = margin + (size - 2 * margin) * torch.rand(n, generator=g)
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    # Offsets of every pixel centre from each image's shape centre: (n, size, size).
    dy = coords.view(1, size, 1) - cy.view(n, 1, 1)
    dx = coords.view(1, 1, size) - cx.view(n, 1, 1)
    r = radius.view(n, 1, 1)
    disc = dx * dx + dy * dy <= r * r
    square = torch.maximum(dx.abs(), dy.abs()) <= 0.8 * r
    # An upward triangle: below the two slanted edges and above the base.
    triangle = (dy <= 0.7 * r) & (2 * dx.abs() - dy <= 1.2 * r) & (dy >= -r)
    masks = torch.stack([disc, square, triangle], dim=1)  # (n, 3, size, size)
    img = masks[torch.arange(n), labels].float()  # (n, size, size)
    img = img + noise * torch.randn(img.shape, generator=g)
    return img.unsqueeze(1), labels  # (n, 1, size, size), (n,)


@dataclass
class CNNConfig:
    """Shape of the small CNN."""

    # channels of the two convolution stages
    channels: tuple[int, int] = (8, 16)
    # side of the square input images
    image_size: int = 16
    # number of classes
    n_classes: int = len(SHAPES)


# Two conv-BN-ReLU-pool stages halve the side twice, so the head sees `c2 * (S/4)^2` features.
class SmallCNN(nn.Module):
    """conv-BN-ReLU-pool twice, then a linear classifier. Input `(B, 1, S, S)`, logits `(B, V)`."""

    def __init__(self, config: CNNConfig | None = None) -> None:
        super().__init__()
        c = config or CNNConfig()
        if c.image_size % 4:
            raise ValueError(f"SmallCNN: image_size must be divisible by 4, got {c.image_size}")
        c1, c2 = c.channels
        self.conv1, self.bn1 = Conv2d(1, c1, 3, padding=1), BatchNorm2d(c1)
        self.conv2, self.bn2 = Conv2d(c1, c2, 3, padding=1), BatchNorm2d(c2)
        self.head = nn.Linear(c2 * (c.image_size // 4) ** 2, c.n_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Classify images `(B, 1, S, S)` into logits `(B, V)`."""
        x = max_pool2d(relu(self.bn1(self.conv1(x))), 2)  # (B, c1, S/2, S/2)
        x = max_pool2d(relu(self.bn2(self.conv2(x))), 2)  # (B, c2, S/4, S/4)
        return self.head(x.flatten(1))  # (B, V)


# Training: Adam on random minibatches of rendered shapes, then accuracy on a held-out set
# rendered with another seed.
def train_shapes_cnn(
    n_train: int = 600, n_test: int = 300, steps: int = 80, batch: int = 32, seed: int = 0
) -> tuple[SmallCNN, float, list[float]]:
    """Train `SmallCNN` on rendered shapes; return the model, held-out accuracy and loss curve."""
    torch.manual_seed(seed)
    x, y = render_shapes(n_train, seed=seed)
    x_test, y_test = render_shapes(n_test, seed=seed + 1)
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    losses = []
    # Minibatches are drawn with replacement from a seeded generator, so a run is reproducible.
    for _ in range(steps):
        idx = torch.randint(0, n_train, (batch,), generator=g)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        acc = (model(x_test).argmax(1) == y_test).float().mean().item()
    return model, acc, losses
