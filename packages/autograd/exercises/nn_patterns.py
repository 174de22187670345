r"""# Exercises: Building neural networks with `torch.nn.Module`

A state dict is the whole model: fold the normalisation buffers into the first layer, run the
network from its state dict alone, and find the attributes `nn.Module` never registered, each
checked against `TorchMLP` and `torch.nn` themselves."""

import torch
from torch import nn

from masterclass.autograd.nn_patterns import TorchMLP


def solution_1_fold_normalisation(state: dict) -> dict:
    r"""Fold $x \mapsto (x - \mu)/\sigma$ into the first `Linear`.

    $W' = W\,\mathrm{diag}(1/\sigma)$ and $b' = b - W'\mu$; the new buffers are $\mu = 0$,
    $\sigma = 1$.
    """
    out = dict(state)
    mean, std = state["input_mean"], state["input_std"]  # (d_in,), (d_in,)
    weight = state["layers.0.weight"] / std  # (hidden, d_in): column j divided by std_j
    out["layers.0.weight"] = weight
    out["layers.0.bias"] = state["layers.0.bias"] - weight @ mean  # (hidden,)
    out["input_mean"], out["input_std"] = torch.zeros_like(mean), torch.ones_like(std)
    return out


def _random_mlp(sizes: list[int], seed: int) -> TorchMLP:
    torch.manual_seed(seed)
    model = TorchMLP(sizes, dtype=torch.float64).eval()
    model.input_mean.normal_()
    model.input_std.uniform_(0.5, 3.0)
    return model


def check_1_fold_normalisation(fn) -> None:
    """The folded state must load strictly into a fresh `TorchMLP` and compute the same function."""
    for seed, sizes in enumerate([[3, 5, 2], [4, 8, 8, 3], [1, 2, 1]]):
        model = _random_mlp(sizes, seed)
        x = torch.randn(6, sizes[0], dtype=torch.float64)
        want = model(x)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        folded = fn(state)
        fresh = TorchMLP(sizes, dtype=torch.float64).eval()
        fresh.load_state_dict(folded, strict=True)
        assert torch.equal(fresh.input_mean, torch.zeros(sizes[0], dtype=torch.float64)), (
            "the folded model's input_mean must be all zeros (the shift now lives in the bias)"
        )
        assert torch.equal(fresh.input_std, torch.ones(sizes[0], dtype=torch.float64)), (
            "the folded model's input_std must be all ones (the scale now lives in the weight)"
        )
        # float64, and folding only reassociates a few products and sums: rounding only.
        err = (fresh(x) - want).abs().max().item()
        assert err < 1e-10, (
            f"sizes {sizes}: the folded model differs by {err:.2e} from the original"
        )


def solution_2_functional_forward(state: dict, x: torch.Tensor) -> torch.Tensor:
    """`TorchMLP.forward` in eval mode, computed from the state dict alone.

    Shapes: x `(B, d_in)`, returns `(B, d_out)`.
    """
    h = (x - state["input_mean"]) / state["input_std"]  # (B, d_in)
    n = sum(1 for key in state if key.startswith("layers.") and key.endswith(".weight"))
    for i in range(n):
        # nn.Linear stores weight as (out, in): y = x W^T + b.
        h = h @ state[f"layers.{i}.weight"].T + state[f"layers.{i}.bias"]  # (B, out)
        if i < n - 1:
            h = torch.tanh(h)
    return h


def check_2_functional_forward(fn) -> None:
    """Compare with the module itself and with `torch.func.functional_call` on a swapped state."""
    for seed, sizes in enumerate([[3, 5, 2], [2, 4, 4, 4, 1], [6, 1]]):
        model = _random_mlp(sizes, seed)
        x = torch.randn(5, sizes[0], dtype=torch.float64)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        # float64, the same products and sums as nn.Linear: rounding only.
        err = (fn(state, x) - model(x)).abs().max().item()
        assert err < 1e-12, f"sizes {sizes}: off by {err:.2e} from TorchMLP.forward (eval mode)"
        other = {k: torch.randn_like(v) for k, v in state.items()}
        other["input_std"] = other["input_std"].abs() + 0.5
        want = torch.func.functional_call(model, other, (x,))
        err = (fn(other, x) - want).abs().max().item()
        assert err < 1e-12, (
            f"sizes {sizes}: with other weights, off by {err:.2e} from functional_call: read "
            "every weight, bias and buffer from the state dict"
        )


def solution_3_unregistered(module: nn.Module) -> list[str]:
    """Sorted names of attributes holding tensors or modules that `nn.Module` does not track.

    Registered parameters, buffers and submodules live in `_parameters`, `_buffers` and
    `_modules`, not in the instance `__dict__`; what is left there was never registered.
    """

    def holds_state(value: object) -> bool:
        if isinstance(value, torch.Tensor | nn.Module):
            return True
        if isinstance(value, list | tuple):
            return any(holds_state(v) for v in value)
        if isinstance(value, dict):
            return any(holds_state(v) for v in value.values())
        return False

    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and holds_state(value)
    )


# Each kind of attribute: how to make it, and whether nn.Module registers it.
_KINDS = {
    "parameter": (lambda: nn.Parameter(torch.ones(2)), True),
    "linear": (lambda: nn.Linear(2, 2), True),
    "module_list": (lambda: nn.ModuleList([nn.Linear(2, 2)]), True),
    "module_dict": (lambda: nn.ModuleDict({"a": nn.Linear(2, 2)}), True),
    "tensor": (lambda: torch.ones(2), False),
    "list_of_layers": (lambda: [nn.Linear(2, 2), nn.Linear(2, 2)], False),
    "dict_of_layers": (lambda: {"a": nn.Linear(2, 2)}, False),
    "tuple_of_tensors": (lambda: (torch.ones(2), torch.zeros(2)), False),
    "number": (lambda: 3.0, None),  # holds no tensor: neither registered nor missing
    "name": (lambda: "mlp", None),
}


def _module_with(kinds: list[str]) -> nn.Module:
    module = nn.Module()
    for i, kind in enumerate(kinds):
        setattr(module, f"{kind}_{i}", _KINDS[kind][0]())
    module.register_buffer(f"buffer_{len(kinds)}", torch.zeros(2))  # registered
    return module


def _floats(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, nn.Module):
        return list(value.parameters())
    if isinstance(value, list | tuple | dict):
        items = value.values() if isinstance(value, dict) else value
        return [t for v in items for t in _floats(v)]
    return []


def check_3_unregistered(fn) -> None:
    """Random modules with known attributes; what is missed must stay float32 on `.double()`."""
    import random

    rng = random.Random(0)
    for trial in range(6):
        kinds = [rng.choice(list(_KINDS)) for _ in range(rng.randint(3, 7))]
        kinds[trial % len(kinds)] = "list_of_layers" if trial % 2 else "tensor"
        module = _module_with(kinds)
        want = sorted(f"{k}_{i}" for i, k in enumerate(kinds) if _KINDS[k][1] is False)
        got = sorted(fn(module))
        assert got == want, f"attributes {kinds}: got {got}, want {want}"
        # The behaviour that makes it a bug: `.double()` (like `.to(device)`) skips them.
        module.double()
        for name in want:
            assert all(t.dtype == torch.float32 for t in _floats(getattr(module, name))), name
