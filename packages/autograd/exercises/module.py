r"""# Exercises: Modules and parameters on the engine

How `parameters()` finds every tensor in a tree of modules, the backward of `Linear` written
out, and what a state dict alone is enough to compute. Checked against `torch.nn` twins of the
same modules, weights copied by name."""

import itertools

import numpy as np
import torch

from masterclass.autograd.module import Linear, Module, Parameter, Sequential, mlp
from masterclass.autograd.tensor import Tensor


def solution_1_named_parameter_shapes(module: Module) -> list[tuple[str, tuple[int, ...]]]:
    """`(dotted name, shape)` of every parameter: a module's own first, then each submodule's."""
    found = [(name, p.shape) for name, p in module._parameters.items()]
    for prefix, child in module._modules.items():
        found += [
            (f"{prefix}.{name}", shape) for name, shape in solution_1_named_parameter_shapes(child)
        ]
    return found


class _Block(Module):
    # A submodule assigned *before* a parameter: the parameter still comes first in
    # `named_parameters()`, in PyTorch and here, because parameters and modules are kept apart.
    def __init__(self, width: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.proj = Linear(width, width, rng)
        self.scale = Parameter(np.ones(width))
        self.ffn = mlp([width, 2 * width, width], rng)
        self.note = "not a parameter"


class _Net(Module):
    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.embed = Parameter(rng.normal(size=(7, 4)))
        self.blocks = Sequential(_Block(4, rng), _Block(4, rng))
        self.head = Linear(4, 3, rng, bias=False)


class _TorchBlock(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(width, width)
        self.scale = torch.nn.Parameter(torch.ones(width))
        self.ffn = torch.nn.Sequential(
            torch.nn.Linear(width, 2 * width), torch.nn.ReLU(), torch.nn.Linear(2 * width, width)
        )
        self.note = "not a parameter"


class _TorchNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Parameter(torch.zeros(7, 4))
        self.blocks = torch.nn.Sequential(_TorchBlock(4), _TorchBlock(4))
        self.head = torch.nn.Linear(4, 3, bias=False)


def check_1_named_parameter_shapes(fn) -> None:
    """Compare names, order and shapes with `torch.nn`'s `named_parameters()` on the same tree."""
    rng = np.random.default_rng(0)
    pairs = [
        (_Net(rng), _TorchNet()),
        (_Block(3, rng), _TorchBlock(3)),
        (Linear(5, 2, rng), torch.nn.Linear(5, 2)),
    ]
    for ours, theirs in pairs:
        want = [(name, tuple(p.shape)) for name, p in theirs.named_parameters()]
        got = [(name, tuple(shape)) for name, shape in fn(ours)]
        assert got == want, (
            f"{type(ours).__name__}: got\n  {got}\nbut torch.nn names\n  {want}\n(a module's own "
            "parameters come before its submodules', whatever the assignment order)"
        )


def solution_2_linear_backward(
    x: np.ndarray, weight: np.ndarray, grad_out: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""For $y = x W^\top + b$: $\bar x = \bar y W$, $\bar W = \bar y^\top x$, $\bar b = \sum \bar y$.

    x `(..., in)`, weight `(out, in)`, grad_out `(..., out)`; the batch dims are summed out of the
    weight and bias gradients.
    """
    n_out, n_in = weight.shape
    g2, x2 = grad_out.reshape(-1, n_out), x.reshape(-1, n_in)  # (N, out), (N, in)
    return grad_out @ weight, g2.T @ x2, g2.sum(axis=0)


def check_2_linear_backward(fn) -> None:
    """Compare with `torch.nn.functional.linear`'s autograd and with the engine's `Linear`."""
    rng = np.random.default_rng(1)
    for batch, n_in, n_out in [((5,), 3, 4), ((2, 3), 4, 2), ((), 3, 3), ((1, 1, 2), 1, 5)]:
        x = rng.normal(size=(*batch, n_in))
        layer = Linear(n_in, n_out, rng)
        g = rng.normal(size=(*batch, n_out))
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(layer.weight.data, requires_grad=True)
        bt = torch.tensor(layer.bias.data, requires_grad=True)
        out = torch.nn.functional.linear(xt, wt, bt)
        want = torch.autograd.grad(out, (xt, wt, bt), torch.tensor(g))
        xe = Tensor(x, requires_grad=True)
        layer(xe).backward(Tensor(g))
        engine = (xe.grad.numpy(), layer.weight.grad.numpy(), layer.bias.grad.numpy())
        got = fn(x.copy(), layer.weight.data.copy(), g.copy())
        for label, mine, ref, eng in zip(("x", "weight", "bias"), got, want, engine, strict=True):
            mine = np.asarray(mine, dtype=float)
            where = f"input {x.shape}, weight ({n_out}, {n_in}): grad of {label}"
            assert mine.shape == ref.shape, (
                f"{where} has shape {mine.shape}, want {tuple(ref.shape)}"
            )
            # float64 matrix products of a few terms: rounding only.
            assert np.allclose(mine, ref.numpy(), atol=1e-12), (
                f"{where} off by {np.abs(mine - ref.numpy()).max():.2e} from torch"
            )
            assert np.allclose(mine, eng, atol=1e-12), f"{where} differs from the engine's"


def solution_3_mlp_forward(state: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The output of `mlp(sizes, rng, "tanh")` from its state dict alone. x `(N, sizes[0])`."""
    layers = sorted({int(key.split(".")[0]) for key in state})  # 0, 2, 4, ... (numerically)
    for i, index in enumerate(layers):
        x = x @ state[f"{index}.weight"].T + state[f"{index}.bias"]
        if i < len(layers) - 1:
            x = np.tanh(x)
    return x


def check_3_mlp_forward(fn) -> None:
    """Compare with the engine's module and a `torch.nn.Sequential` loaded from the same dict."""
    rng = np.random.default_rng(2)
    # Seven linear layers put the last one at index 12, which sorts before "2" as a string.
    for sizes in [[2, 5, 3], [4, 3], [3, 4, 4, 4, 4, 4, 4, 2]]:
        net = mlp(sizes, rng, activation="tanh")
        state = net.state_dict()
        layers: list[torch.nn.Module] = []
        for n_in, n_out in itertools.pairwise(sizes):
            layers += [torch.nn.Linear(n_in, n_out, dtype=torch.float64), torch.nn.Tanh()]
        twin = torch.nn.Sequential(*layers[:-1])
        twin.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        x = rng.normal(size=(6, sizes[0]))
        with torch.no_grad():
            want = twin(torch.tensor(x)).numpy()
        engine = net(Tensor(x)).numpy()
        got = np.asarray(fn({k: v.copy() for k, v in state.items()}, x.copy()), dtype=float)
        assert got.shape == want.shape, f"sizes {sizes}: shape {got.shape}, want {want.shape}"
        # float64, the same matrix products: rounding only.
        assert np.allclose(got, want, atol=1e-12), (
            f"sizes {sizes}: off by {np.abs(got - want).max():.2e} from torch; keys are "
            "'<layer index>.weight' with weight of shape (out, in), and there is no tanh after "
            "the last layer"
        )
        assert np.allclose(got, engine, atol=1e-12), f"sizes {sizes}: differs from the engine"
