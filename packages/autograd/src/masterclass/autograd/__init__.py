"""# masterclass.autograd

Module 2: a from-scratch reverse-mode autodiff engine on NumPy, and the PyTorch fundamentals it
explains (tensors and their layout, autograd mechanics, Dataset/DataLoader, `nn.Module`, custom
layers and losses, debugging and profiling). Every piece is checked against PyTorch.

>>> from masterclass.autograd import Tensor
>>> x = Tensor([3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad.data.tolist()
[6.0]
"""

from masterclass.autograd import functional
from masterclass.autograd.custom_functions import RMSNorm, smoothed_cross_entropy
from masterclass.autograd.dataloader import (
    DataLoader,
    Dataset,
    IterableDataset,
    TensorDataset,
    default_collate,
    get_worker_info,
)
from masterclass.autograd.debugging import (
    NonFiniteHunter,
    cprofile_top,
    first_nonfinite_node,
    gradient_check,
    numerical_gradient,
    torch_profile_top,
)
from masterclass.autograd.module import Linear, Module, Parameter, Sequential, mlp
from masterclass.autograd.optim import SGD, Adam
from masterclass.autograd.tensor import Tensor, cat, grad, no_grad, stack

__all__ = [
    "SGD",
    "Adam",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "Linear",
    "Module",
    "NonFiniteHunter",
    "Parameter",
    "RMSNorm",
    "Sequential",
    "Tensor",
    "TensorDataset",
    "cat",
    "cprofile_top",
    "default_collate",
    "first_nonfinite_node",
    "functional",
    "get_worker_info",
    "grad",
    "gradient_check",
    "mlp",
    "no_grad",
    "numerical_gradient",
    "smoothed_cross_entropy",
    "stack",
    "torch_profile_top",
]
