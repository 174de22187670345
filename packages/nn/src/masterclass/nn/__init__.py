"""# masterclass.nn: neural networks from scratch

Module 3 of the course: perceptrons and activations, backpropagation, losses, regularization,
batch and layer normalization, convolutional and recurrent networks, attention, residual
connections, initialization, dropout, mixed precision and data-parallel training. Each piece is
written from its equations and checked against PyTorch's own implementation with copied weights,
forward and backward.

`masterclass.nn.data_parallel` is imported on its own (it is also a `torchrun` entry point):
`from masterclass.nn.data_parallel import allreduce_gradients`.
"""

from masterclass.nn.activations import (
    ACTIVATIONS,
    DERIVATIVES,
    elu,
    gelu,
    get_activation,
    leaky_relu,
    mish,
    relu,
    sigmoid,
    silu,
    softplus,
    tanh,
)
from masterclass.nn.batchnorm import BatchNorm1d, BatchNorm2d, batch_norm_backward
from masterclass.nn.cnn import SmallCNN, render_shapes
from masterclass.nn.conv import Conv2d, avg_pool2d, conv2d, max_pool2d
from masterclass.nn.dropout import Dropout, dropout
from masterclass.nn.init import (
    kaiming_normal_,
    kaiming_uniform_,
    orthogonal_,
    xavier_normal_,
    xavier_uniform_,
)
from masterclass.nn.losses import (
    bce_with_logits,
    contrastive_loss,
    cross_entropy,
    focal_loss,
    hinge_loss,
    huber_loss,
    mae_loss,
    mse_loss,
    nll_loss,
    triplet_loss,
)
from masterclass.nn.lstm_gru import GRU, LSTM
from masterclass.nn.mixed_precision import DynamicLossScaler
from masterclass.nn.mlp import MLP
from masterclass.nn.normalization import GroupNorm, InstanceNorm, LayerNorm, RMSNorm
from masterclass.nn.perceptron import train_perceptron
from masterclass.nn.regularization import (
    AugmentedDataset,
    EarlyStopping,
    decoupled_weight_decay_,
    l1_penalty,
    l2_penalty,
)
from masterclass.nn.residual import BasicBlock, ResidualMLPBlock
from masterclass.nn.rnn import RNN
from masterclass.nn.seq2seq_attention import AdditiveAttention, LuongAttention, Seq2Seq

__all__ = [
    "ACTIVATIONS",
    "DERIVATIVES",
    "GRU",
    "LSTM",
    "MLP",
    "RNN",
    "AdditiveAttention",
    "AugmentedDataset",
    "BasicBlock",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "DynamicLossScaler",
    "EarlyStopping",
    "GroupNorm",
    "InstanceNorm",
    "LayerNorm",
    "LuongAttention",
    "RMSNorm",
    "ResidualMLPBlock",
    "Seq2Seq",
    "SmallCNN",
    "avg_pool2d",
    "batch_norm_backward",
    "bce_with_logits",
    "contrastive_loss",
    "conv2d",
    "cross_entropy",
    "decoupled_weight_decay_",
    "dropout",
    "elu",
    "focal_loss",
    "gelu",
    "get_activation",
    "hinge_loss",
    "huber_loss",
    "kaiming_normal_",
    "kaiming_uniform_",
    "l1_penalty",
    "l2_penalty",
    "leaky_relu",
    "mae_loss",
    "max_pool2d",
    "mish",
    "mse_loss",
    "nll_loss",
    "orthogonal_",
    "relu",
    "render_shapes",
    "sigmoid",
    "silu",
    "softplus",
    "tanh",
    "train_perceptron",
    "triplet_loss",
    "xavier_normal_",
    "xavier_uniform_",
]
