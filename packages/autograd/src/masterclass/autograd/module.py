r"""# Modules and parameters on the engine

PyTorch's `nn.Module` is a small idea with a large payoff: a module is an object whose attributes
that are `Parameter`s (or other modules) are *registered*, so that `parameters()` can find every
trainable tensor in a tree of modules, `state_dict()` can name each one by its dotted path
(`"layers.0.weight"`), and an optimizer never needs to know the architecture.

This file rebuilds that idea on our `Tensor`:

- `Parameter` is a leaf `Tensor` that always requires grad.
- `Module.__setattr__` files parameters and submodules into ordered dicts as they are assigned,
  which is how PyTorch does it, and why assignment order fixes the order of `parameters()`.
- `state_dict()` / `load_state_dict()` copy arrays in and out by name, refusing missing or
  unexpected keys and shape mismatches with a message that names them.
- `Linear` initialises like `torch.nn.Linear`: $W, b \sim \mathcal{U}(-k, k)$ with
  $k = 1/\sqrt{\text{in\_features}}$ (Kaiming-uniform with $a=\sqrt5$ reduces to this), and
  computes $y = x W^{\top} + b$ with `weight` of shape `(out, in)`, PyTorch's layout, so a state
  dict moves between the two frameworks unchanged (see `nn_patterns.py`).

Left out: buffers, hooks and `train()`/`eval()` modes (none of our layers behave differently);
PyTorch's versions are taught in [nn patterns](nn_patterns.md). The layers compute with the
[engine](tensor.md) and the activations of [functional](functional.md).

## Exercises

1. Write `named_parameter_shapes(module)`: `(dotted name, shape)` for every parameter of a tree
   of modules, by walking `module._parameters` and `module._modules` yourself. A module's own
   parameters come first, then each submodule's, even when a submodule was assigned before a
   parameter. Check it (against `torch.nn`'s names for the same tree):
   `uv run pytest --exercise autograd.module`.
2. Write `linear_backward(x, weight, grad_out)`: the gradients `(grad_x, grad_weight, grad_bias)`
   of $y = x W^\top + b$ for `x (..., in)` and `weight (out, in)`, the batch dims summed out of
   the weight and bias gradients. Check it: `uv run pytest --exercise autograd.module`.
3. Write `mlp_forward(state, x)`: the output of a tanh `mlp(sizes, rng, "tanh")` computed in
   numpy from its `state_dict()` alone (keys `"0.weight"`, `"0.bias"`, `"2.weight"`, ...; no
   activation after the last layer). Check it (against `torch.nn.Sequential` loaded from the
   same dict): `uv run pytest --exercise autograd.module`.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterator

import numpy as np

from masterclass.autograd import functional as F
from masterclass.autograd.tensor import Tensor


# A parameter is a tensor that always requires grad; its type alone tells `Module` to register it.
class Parameter(Tensor):
    """A trainable leaf tensor: `requires_grad` is always True."""

    def __init__(self, data: object, dtype: object = None) -> None:
        super().__init__(data, requires_grad=True, dtype=dtype)


class Module:
    """Base class: subclasses assign Parameters and Modules as attributes and define `forward`."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())

    def __setattr__(self, name: str, value: object) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning '{name}'"
            )
        # Re-assigning a name keeps its place in the registry (dict assignment keeps order), and
        # moves it between registries if its kind changed (a Parameter replaced by a Module).
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def forward(self, *args: Tensor) -> Tensor:
        """The computation; subclasses override it."""
        raise TypeError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Tensor) -> Tensor:
        return self.forward(*args)

    # Parameters are found by walking the registries depth first; their dotted names (`0.weight`)
    # are the keys of the state dict.
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield `(dotted name, parameter)` in registration order, depth first."""
        for name, p in self._parameters.items():
            yield prefix + name, p
        for name, m in self._modules.items():
            yield from m.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        """All parameters of this module and its submodules."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Clear every parameter's gradient."""
        for p in self.parameters():
            p.zero_grad()

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """A copy of every parameter's array, keyed by dotted name."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    # Loading is strict, the same names and the same shapes, and it copies, so the state dict
    # stays independent of the module.
    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the parameters by name; keys and shapes must match exactly."""
        own = dict(self.named_parameters())
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for name, p in own.items():
            value = np.asarray(state[name])
            if value.shape != p.shape:
                raise ValueError(
                    f"load_state_dict: '{name}' has shape {value.shape} in the state dict "
                    f"but {p.shape} in the module"
                )
            p.data = value.astype(p.dtype, copy=True)


# A linear layer initialised as torch's: weight and bias uniform in
# $\pm 1/\sqrt{\text{in\_features}}$.
class Linear(Module):
    r"""Affine map $y = x W^\top + b$.

    Shapes: input `(..., in_features)`, weight `(out_features, in_features)`, bias
    `(out_features,)`, output `(..., out_features)`.
    """

    def __init__(
        self, in_features: int, out_features: int, rng: np.random.Generator, bias: bool = True
    ) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear: features must be >= 1, got ({in_features}, {out_features})")
        k = 1.0 / np.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(rng.uniform(-k, k, size=(out_features, in_features)))
        self.bias = Parameter(rng.uniform(-k, k, size=out_features)) if bias else None

    # The last axis must be `in_features`; leading axes are batch dims and pass through the
    # product.
    def forward(self, x: Tensor) -> Tensor:
        """Apply the map to `x` of shape `(..., in_features)`."""
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear: input shape {x.shape} does not end in in_features={self.in_features}"
            )
        y = x @ self.weight.T  # (..., out)
        return y + self.bias if self.bias is not None else y


# Containers: an activation function as a module, and a sequence of modules registered under
# their positions.
class Activation(Module):
    """Wrap an elementwise function from `functional` as a module (`Activation(F.relu)`)."""

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        """Apply the wrapped function."""
        return self.fn(x)


# Registering each module under its position gives parameter names such as `0.weight` and
# `2.bias`, as in torch.
class Sequential(Module):
    """Apply modules in order; they are registered as `"0"`, `"1"`, ... like PyTorch's."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def forward(self, x: Tensor) -> Tensor:
        """Feed `x` through every module."""
        for m in self._modules.values():
            x = m(x)
        return x


# An MLP alternates `Linear` and the activation, with none after the last layer: the output is
# raw logits.
def mlp(sizes: list[int], rng: np.random.Generator, activation: str = "relu") -> Sequential:
    """A multilayer perceptron `Linear → act → ... → Linear` with widths `sizes`.

    >>> net = mlp([2, 8, 3], np.random.default_rng(0))
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """
    acts = {"relu": F.relu, "tanh": F.tanh, "sigmoid": F.sigmoid}
    if activation not in acts:
        raise ValueError(f"mlp: activation must be one of {sorted(acts)}, got {activation!r}")
    if len(sizes) < 2:
        raise ValueError(f"mlp: sizes needs at least input and output widths, got {sizes}")
    layers: list[Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(Linear(n_in, n_out, rng))
        if i < len(sizes) - 2:
            layers.append(Activation(acts[activation]))
    return Sequential(*layers)
