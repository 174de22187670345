r"""# Exercises: Normalization layers: LayerNorm, RMSNorm, GroupNorm, InstanceNorm

LayerNorm, RMSNorm and GroupNorm as a few lines of tensor code each, checked against
`torch.nn.functional`."""

import torch
import torch.nn.functional as F


def solution_1_layer_norm(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float
) -> torch.Tensor:
    r"""$(x - \mu)/\sqrt{\sigma^2 + \epsilon}\odot\gamma + \beta$ over the last axis, biased variance."""
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * gamma + beta


def _inputs(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64) * 3 + 1


def check_1_layer_norm(fn) -> None:
    """Compare with `F.layer_norm` over the last dimension."""
    for seed, shape in enumerate([(4, 6), (2, 3, 5), (1, 1)]):
        x, d = _inputs(seed, shape), shape[-1]
        gamma, beta = _inputs(seed + 10, (d,)), _inputs(seed + 20, (d,))
        want = F.layer_norm(x, (d,), gamma, beta, eps=1e-5)
        got = fn(x.clone(), gamma.clone(), beta.clone(), 1e-5)
        # float64; rounding only.
        assert torch.allclose(got, want, atol=1e-12), (
            f"shape {shape}: off by {(got - want).abs().max():.2e} (biased variance, eps inside "
            "the square root)"
        )


def solution_2_rms_norm(x: torch.Tensor, gamma: torch.Tensor, eps: float) -> torch.Tensor:
    r"""$x/\sqrt{\overline{x^2} + \epsilon}\odot\gamma$: no mean, no bias."""
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * gamma


def check_2_rms_norm(fn) -> None:
    """Compare with `F.rms_norm` over the last dimension."""
    for seed, shape in enumerate([(4, 6), (2, 3, 5), (3, 1)]):
        x, d = _inputs(seed, shape), shape[-1]
        gamma = _inputs(seed + 10, (d,))
        want = F.rms_norm(x, (d,), gamma, eps=1e-6)
        got = fn(x.clone(), gamma.clone(), 1e-6)
        assert torch.allclose(got, want, atol=1e-12), (
            f"shape {shape}: off by {(got - want).abs().max():.2e} (RMSNorm does not subtract "
            "the mean)"
        )


def solution_3_group_norm(
    x: torch.Tensor, groups: int, gamma: torch.Tensor, beta: torch.Tensor, eps: float
) -> torch.Tensor:
    """Statistics over each group of `C / groups` channels and all positions, per sample."""
    B, C = x.shape[:2]
    xg = x.reshape(B, groups, -1)  # (B, G, C/G * spatial)
    mu = xg.mean(-1, keepdim=True)
    var = ((xg - mu) ** 2).mean(-1, keepdim=True)
    y = ((xg - mu) / torch.sqrt(var + eps)).reshape(x.shape)
    view = (1, C) + (1,) * (x.dim() - 2)
    return y * gamma.view(view) + beta.view(view)


def check_3_group_norm(fn) -> None:
    """Compare with `F.group_norm`; `groups = C` is InstanceNorm, `groups = 1` LayerNorm-like."""
    for seed, (shape, groups) in enumerate(
        [((2, 6, 4, 4), 3), ((3, 4, 5), 4), ((2, 4, 3, 3), 1), ((1, 8), 2)]
    ):
        x, c = _inputs(seed, shape), shape[1]
        gamma, beta = _inputs(seed + 10, (c,)), _inputs(seed + 20, (c,))
        want = F.group_norm(x, groups, gamma, beta, eps=1e-5)
        got = fn(x.clone(), groups, gamma.clone(), beta.clone(), 1e-5)
        assert torch.allclose(got, want, atol=1e-12), (
            f"shape {shape}, groups {groups}: off by {(got - want).abs().max():.2e}; a group is "
            "C / groups consecutive channels, and its statistics include every spatial position"
        )
