r"""# Exercises: A small CNN on rendered shapes

Counting the parameters of the small CNN, and of the dense layer that weight sharing replaces."""

import torch

from masterclass.nn.cnn import CNNConfig, SmallCNN


def solution_1_cnn_parameters(channels: tuple[int, int], image_size: int, n_classes: int) -> int:
    r"""Two $3\times3$ convs with bias, two batch norms ($\gamma, \beta$), and the linear head."""
    c1, c2 = channels
    conv = (1 * 9 + 1) * c1 + (c1 * 9 + 1) * c2
    bn = 2 * c1 + 2 * c2
    head = (c2 * (image_size // 4) ** 2 + 1) * n_classes
    return conv + bn + head


def check_1_cnn_parameters(fn) -> None:
    """Compare with the trainable parameters of the chapter's `SmallCNN`."""
    for channels, size, classes in [((8, 16), 16, 3), ((4, 6), 8, 5), ((1, 1), 12, 2)]:
        model = SmallCNN(CNNConfig(channels=channels, image_size=size, n_classes=classes))
        want = sum(p.numel() for p in model.parameters())
        got = fn(channels, size, classes)
        assert got == want, (
            f"channels {channels}, image {size}, classes {classes}: got {got}, SmallCNN has "
            f"{want} (count the biases, BatchNorm's gamma and beta, and the head's input width "
            "after two 2x2 poolings)"
        )


def solution_2_dense_equivalent(c_in: int, c_out: int, size: int) -> int:
    r"""A dense map $(C_{in}, S, S) \to (C_{out}, S, S)$: $C_{in}S^2 \cdot C_{out}S^2 + C_{out}S^2$."""
    return c_in * size * size * c_out * size * size + c_out * size * size


def check_2_dense_equivalent(fn) -> None:
    """Compare with an `nn.Linear` between the flattened feature maps."""
    for c_in, c_out, size in [(1, 8, 16), (8, 16, 8), (3, 3, 5)]:
        with torch.device("meta"):
            lin = torch.nn.Linear(c_in * size * size, c_out * size * size)
        want = sum(p.numel() for p in lin.parameters())
        got = fn(c_in, c_out, size)
        assert got == want, (
            f"({c_in}, {size}, {size}) -> ({c_out}, {size}, {size}): got {got}, want {want}"
        )
