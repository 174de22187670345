r"""# Building neural networks with `torch.nn.Module`

[`module.py`](module.md) rebuilt the core of `nn.Module` on our engine; this chapter shows the
real thing and the patterns every later package uses.

- **Registration.** Assigning an `nn.Parameter` or an `nn.Module` to an attribute registers it.
  A plain Python list of layers is *not* registered (its parameters would be invisible to the
  optimizer and to `state_dict`), hence `nn.ModuleList` / `nn.ModuleDict`. A plain tensor attribute
  is not registered either.
- **Buffers.** State that is saved with the model but not trained (running statistics,
  normalisation constants, masks) goes in `register_buffer`: it is in `state_dict()` and moves
  with `.to()`, but not in `parameters()`.
- **`train()` / `eval()`** set `module.training` recursively; dropout and batch norm read it.
- **`state_dict()` round trips.** The state dict maps dotted names to tensors; saving it (not the
  pickled module) and loading with `weights_only=True` is the safe, portable format. `strict=True`
  loading refuses missing and unexpected keys, which catches architecture drift.

`TorchMLP` uses every pattern once. Because our engine's `Linear` stores `weight` as
`(out, in)` like PyTorch, `engine_to_torch` / `torch_to_engine` move weights between the two
frameworks by name with no reshaping; the tests check that both then compute the same function.

**A worked example.** A `[3, 4, 2]` network has two `Linear` layers,
$3 \cdot 4 + 4 = 16$ and $4 \cdot 2 + 2 = 10$ parameters; the two buffers are in the state dict
but are not parameters, and a plain list of layers registers nothing:

>>> model = TorchMLP([3, 4, 2])
>>> [name for name, _ in model.named_parameters()]
['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']
>>> count_parameters(model)
(26, 26)
>>> [name for name in model.state_dict() if name not in dict(model.named_parameters())]
['input_mean', 'input_std']
>>> class Hidden(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.blocks = [nn.Linear(3, 3)]  # a plain list: not registered
>>> count_parameters(Hidden())
(0, 0)

Freezing a layer (`requires_grad_(False)`) keeps its parameters in the model but out of the
trainable count; `eval()` turns dropout off, so two calls agree:

>>> model.layers[0].requires_grad_(False)
Linear(in_features=3, out_features=4, bias=True)
>>> count_parameters(model)
(10, 26)
>>> model = TorchMLP([3, 4, 2], dropout=0.5).eval()
>>> x = torch.ones(2, 3)
>>> bool(torch.equal(model(x), model(x)))
True

Left out: `torch.compile`, parametrizations, `nn.Module` hooks (shown in
[`debugging.py`](debugging.md)), lazy modules, meta-device initialisation.

## Exercises

1. Write `fold_normalisation(state)`: given a `TorchMLP` state dict, return one whose first
   layer absorbs the input normalisation, $W' = W\,\mathrm{diag}(1/\sigma)$ and
   $b' = b - W'\mu$, with `input_mean` zeros and `input_std` ones, so that the network computes
   the same function (the trick that removes a normalisation layer at export time). Check it:
   `uv run pytest --exercise autograd.nn_patterns`.
2. Write `functional_forward(state, x)`: the eval-mode forward pass of a `TorchMLP`, computed
   from its state dict alone with plain tensor ops (mind the `(out, in)` weight layout). Check it
   (against the module and `torch.func.functional_call`):
   `uv run pytest --exercise autograd.nn_patterns`.
3. Write `unregistered(module)`: the sorted names of the attributes of `module` that hold tensors
   or modules (directly, or in a list, tuple or dict) that `nn.Module` did not register, the ones
   `state_dict`, `parameters()` and `.to()` silently skip. Check it:
   `uv run pytest --exercise autograd.nn_patterns`.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from masterclass.autograd.module import Module


class TorchMLP(nn.Module):
    """MLP with input normalisation buffers and dropout.

    Shapes: input `(B, sizes[0])`, output `(B, sizes[-1])`.
    """

    def __init__(self, sizes: list[int], dropout: float = 0.0, dtype: torch.dtype = torch.float32):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"TorchMLP: sizes needs input and output widths, got {sizes}")
        # ModuleList registers each layer as "layers.0", "layers.1", ...
        self.layers = nn.ModuleList(
            nn.Linear(a, b, dtype=dtype) for a, b in itertools.pairwise(sizes)
        )
        self.dropout = nn.Dropout(dropout)
        # Buffers: saved and moved with the model, never updated by the optimizer.
        self.register_buffer("input_mean", torch.zeros(sizes[0], dtype=dtype))
        self.register_buffer("input_std", torch.ones(sizes[0], dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise, then Linear → tanh → dropout for each hidden layer, then Linear."""
        x = (x - self.input_mean) / self.input_std  # (B, d_in)
        for layer in self.layers[:-1]:
            x = self.dropout(torch.tanh(layer(x)))  # (B, hidden)
        return self.layers[-1](x)  # (B, d_out)


# Counting: buffers are not parameters, and a frozen parameter counts only in the total.
def count_parameters(model: nn.Module) -> tuple[int, int]:
    """`(trainable, total)` number of scalar parameters (buffers are not parameters)."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


def save_state_dict(model: nn.Module, path: str | os.PathLike) -> None:
    """Save `model.state_dict()` to `path` atomically (temporary file, then rename)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(model.state_dict(), tmp)
        # Module 9 and later use the shared version, `masterclass.infra.atomic.atomic_write`.
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state_dict(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load weights saved by `save_state_dict` into `model` (strict, `weights_only=True`)."""
    state = torch.load(os.fspath(path), weights_only=True, map_location="cpu")
    model.load_state_dict(state, strict=True)
    return model


def engine_to_torch(module: Module) -> OrderedDict[str, torch.Tensor]:
    """Our engine module's parameters as a torch state dict with the same names."""
    return OrderedDict((k, torch.from_numpy(v)) for k, v in module.state_dict().items())


def torch_to_engine(state: dict[str, torch.Tensor]) -> OrderedDict[str, np.ndarray]:
    """A torch state dict as numpy arrays for `Module.load_state_dict` (float64 kept exact)."""
    return OrderedDict((k, v.detach().cpu().numpy().copy()) for k, v in state.items())
