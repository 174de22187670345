"""# masterclass.nn: neural networks from scratch

Module 3 of the course: activations, backpropagation, losses, regularization, normalization,
convolutional and recurrent networks, attention, residual connections, initialization, dropout,
mixed precision and data-parallel training, each written from its equations and checked against
PyTorch's own implementation with copied weights.
"""

from masterclass.nn.activations import (
    ACTIVATIONS,
    elu,
    gelu,
    leaky_relu,
    mish,
    relu,
    sigmoid,
    silu,
    softplus,
    tanh,
)
from masterclass.nn.batchnorm import BatchNorm1d, BatchNorm2d
from masterclass.nn.dropout import Dropout, dropout
from masterclass.nn.normalization import GroupNorm, InstanceNorm, LayerNorm, RMSNorm

__all__ = [
    "ACTIVATIONS",
    "BatchNorm1d",
    "BatchNorm2d",
    "Dropout",
    "GroupNorm",
    "InstanceNorm",
    "LayerNorm",
    "RMSNorm",
    "dropout",
    "elu",
    "gelu",
    "leaky_relu",
    "mish",
    "relu",
    "sigmoid",
    "silu",
    "softplus",
    "tanh",
]
