r"""# Exercises: Privacy: DP-SGD, the RDP accountant, membership inference and canaries

Clipping per-sample gradients, the Gaussian mechanism's RDP, and exposure by sorting."""

import math

import torch

from masterclass.safety.privacy import exposure, rdp_sampled_gaussian


def solution_1_clip(grads: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Clip each row of `grads` `(B, P)` to L2 norm at most `max_norm`."""
    norms = grads.norm(dim=1, keepdim=True)  # (B, 1)
    return grads * torch.clamp(max_norm / norms, max=1.0)


def check_1_clip(fn) -> None:
    """Compare with a per-row loop."""
    g = torch.randn(6, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g[0] *= 1e-3  # one row already inside the ball must stay unchanged
    out = fn(g.clone(), 0.5)
    for i in range(6):
        n = float(g[i].norm())
        expected = g[i] * min(1.0, 0.5 / n)
        assert torch.allclose(out[i], expected, atol=1e-12), (
            f"row {i} (norm {n:.3g}) should be {expected.tolist()}, got {out[i].tolist()}"
        )


def solution_2_gaussian_rdp(sigma: float, alpha: float) -> float:
    """RDP of the Gaussian mechanism with sensitivity 1: alpha / (2 sigma^2)."""
    return alpha / (2 * sigma**2)


def check_2_gaussian_rdp(fn) -> None:
    """Compare with the sampled mechanism at q = 1 and with the closed form at q close to 1."""
    for sigma, alpha in [(0.5, 2), (1.0, 3.5), (3.0, 32)]:
        got = fn(sigma, alpha)
        assert math.isclose(got, rdp_sampled_gaussian(1.0, sigma, alpha), rel_tol=1e-12), (
            f"sigma={sigma}, alpha={alpha}: expected {alpha / (2 * sigma**2)}, got {got}"
        )
        near = rdp_sampled_gaussian(0.999999, sigma, float(alpha))
        assert math.isclose(got, near, rel_tol=1e-3), "q -> 1 should approach the Gaussian RDP"


def solution_3_exposure(canary: float, candidates: list[float]) -> float:
    """Exposure by sorting: the canary's position (1-based, ties favour the canary) in sorted order."""
    ordered = sorted(candidates)
    rank = ordered.index(canary) + 1
    return math.log2(len(candidates)) - math.log2(rank)


def check_3_exposure(fn) -> None:
    """Compare with the chapter's counting implementation on random scores."""
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(64, generator=g).tolist()
    for i in (0, 5, 17, 63):
        expected = exposure(scores[i], scores)
        got = fn(scores[i], scores)
        assert math.isclose(got, expected, abs_tol=1e-12), (
            f"canary {i}: expected {expected:.4f} bits, got {got}"
        )
