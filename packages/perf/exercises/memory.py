r"""# Exercises: Memory management: what backward keeps, and how to keep less

Predicting the bytes autograd saves, with and without checkpointing, and checking the prediction."""

import torch
from torch import nn

from masterclass.perf.memory import SavedTensorCounter, checkpoint_module


def solution_1_saved_bytes_of_mlp(n: int, d: int, f: int) -> int:
    # The first linear saves its input (n, d); ReLU saves its output (n, f), which the second
    # linear saves again as its input (the same storage, counted once).
    return 4 * (n * d + n * f)


def _measure_mlp(n: int, d: int, f: int) -> int:
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(d, f, bias=False), nn.ReLU(), nn.Linear(f, d, bias=False))
    with SavedTensorCounter(mlp.parameters()) as counter:
        mlp(torch.randn(n, d)).sum()
    return counter.bytes


def check_1_saved_bytes_of_mlp(fn) -> None:
    for n, d, f in [(3, 8, 32), (5, 4, 16), (1, 16, 8)]:
        got, want = fn(n, d, f), _measure_mlp(n, d, f)
        assert got == want, f"saved_bytes_of_mlp({n}, {d}, {f}) = {got}, measured {want}"


class _Residual(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.lin1, self.lin2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.lin2(torch.relu(self.lin1(x)))


def solution_2_checkpointed_saved_bytes(n: int, d: int, layers: int) -> int:
    # Each checkpointed block keeps only its (n, d) fp32 input.
    return layers * 4 * n * d


def _measure_checkpointed(n: int, d: int, layers: int) -> int:
    torch.manual_seed(0)
    stack = nn.Sequential(*(checkpoint_module(_Residual(d)) for _ in range(layers)))
    with SavedTensorCounter(stack.parameters()) as counter:
        stack(torch.randn(n, d, requires_grad=True)).sum()
    return counter.bytes


def check_2_checkpointed_saved_bytes(fn) -> None:
    for n, d, layers in [(3, 8, 2), (4, 4, 5), (2, 16, 1)]:
        got, want = fn(n, d, layers), _measure_checkpointed(n, d, layers)
        assert got == want, f"checkpointed_saved_bytes({n}, {d}, {layers}) = {got}, measured {want}"
