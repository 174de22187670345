r"""# Exercises: Profiling and optimizing a training step

Counting a step's FLOPs by hand, checked against the profiler, and turning them into utilisation."""

import torch
from torch import nn

from masterclass.perf.profiling import profile_step


def solution_1_mlp_training_flops(n: int, d: int, f: int) -> int:
    # Forward: 2ndf per layer. Backward: the second layer needs its weight and input gradients
    # (2ndf each); the first only its weight gradient, since the input needs none.
    return 2 * n * d * f * 2 + 2 * n * d * f * 3


def check_1_mlp_training_flops(fn) -> None:
    for n, d, f in [(3, 8, 16), (5, 4, 12)]:
        mlp = nn.Sequential(nn.Linear(d, f, bias=False), nn.ReLU(), nn.Linear(f, d, bias=False))
        x = torch.randn(n, d)
        want = profile_step(lambda mlp=mlp, x=x: mlp(x).sum().backward()).matmul_flops
        got = fn(n, d, f)
        assert got == want, f"mlp_training_flops({n}, {d}, {f}) = {got}, the profiler counts {want}"


def solution_2_model_flops_utilisation(flops: float, seconds: float, peak_flops: float) -> float:
    return flops / seconds / peak_flops


def check_2_model_flops_utilisation(fn) -> None:
    for flops, seconds, peak in [(6e12, 2.0, 1e13), (1e9, 0.5, 4e9), (3.0, 1.0, 3.0)]:
        got, want = fn(flops, seconds, peak), flops / (seconds * peak)
        assert abs(got - want) < 1e-12 * max(1.0, want), (
            f"model_flops_utilisation({flops}, {seconds}, {peak}) = {got}, expected {want}"
        )
