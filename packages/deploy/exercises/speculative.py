r"""# Exercises: Speculative decoding

The residual distribution and the expected tokens per target pass, checked by identity and simulation."""

import numpy as np
import torch


def solution_1_residual(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    r = (p - q).clamp(min=0)
    return r / r.sum()


def check_1_residual(fn) -> None:
    # The defining identity: min(p, q) + beta * r = p, with beta = 1 - sum min(p, q).
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        p = torch.rand(6, generator=g, dtype=torch.float64)
        q = torch.rand(6, generator=g, dtype=torch.float64)
        p, q = p / p.sum(), q / q.sum()
        r = fn(p, q)
        beta = 1 - torch.minimum(p, q).sum()
        assert torch.allclose(torch.minimum(p, q) + beta * r, p, atol=1e-12), f"residual wrong: {r}"


def solution_2_expected_tokens(alpha: float, k: int) -> float:
    return float(sum(alpha**i for i in range(k + 1)))


def check_2_expected_tokens(fn) -> None:
    # Against a simulation: accept each of k drafts with probability alpha until the first
    # rejection, plus the target's own token.
    rng = np.random.default_rng(0)
    for alpha, k in [(0.5, 4), (0.8, 3), (1.0, 5), (0.0, 2)]:
        acc = rng.random((100000, k)) < alpha
        tokens = np.cumprod(acc, axis=1).sum(axis=1) + 1
        got = fn(alpha, k)
        assert abs(got - tokens.mean()) < 0.02, f"expected_tokens({alpha}, {k}) = {got}"
