r"""# Exercises: TorchScript and `torch.export`: a model without Python

Seeing when a trace is wrong, and exporting with a dynamic batch dimension."""

import warnings

import torch
from torch import nn

from masterclass.perf.torchscript import SignGate, trace


def solution_1_traced_branch_is_wrong(x_example: torch.Tensor, x_new: torch.Tensor) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = trace(SignGate(), x_example)
    return not torch.equal(traced(x_new), SignGate()(x_new))


def check_1_traced_branch_is_wrong(fn) -> None:
    pos, neg = torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -3.0])
    for a, b, want in [
        (pos, neg, True),
        (neg, pos, True),
        (pos, pos * 3, False),
        (neg, neg, False),
    ]:
        got = fn(a, b)
        assert got == want, (
            f"traced_branch_is_wrong({a.tolist()}, {b.tolist()}) = {got}, expected {want}"
        )


def solution_2_export_with_dynamic_batch(module: nn.Module, example: torch.Tensor):
    batch = torch.export.Dim("batch", min=1, max=1024)
    return torch.export.export(module.eval(), (example,), dynamic_shapes=({0: batch},))


def check_2_export_with_dynamic_batch(fn) -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    program = fn(module, torch.randn(2, 4))
    assert isinstance(program, torch.export.ExportedProgram), (
        "return a torch.export.ExportedProgram"
    )
    for b in (1, 5, 9):
        x = torch.randn(b, 4)
        assert torch.allclose(program.module()(x), module(x), atol=1e-6), (
            f"the exported program differs from the module at batch size {b}"
        )
