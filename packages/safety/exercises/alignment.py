r"""# Exercises: Model alignment: reward hacking on a toy, and the KL-regularised fix

The closed-form optimum of the KL-regularised objective, and its distance from the reference."""

import torch


def solution_1_optimal_policy(
    ref_probs: torch.Tensor, rewards: torch.Tensor, beta: float
) -> torch.Tensor:
    """pi* proportional to pi_ref * exp(r / beta)."""
    logits = ref_probs.log() + rewards / beta
    return logits.softmax(-1)


def check_1_optimal_policy(fn) -> None:
    """The optimum maximises E[r] - beta KL: no random distribution scores higher."""
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(6, generator=g, dtype=torch.float64).softmax(0)
    r = torch.randn(6, generator=g, dtype=torch.float64)
    for beta in (0.1, 1.0, 5.0):
        pi = fn(ref, r, beta)
        assert abs(float(pi.sum()) - 1) < 1e-9, "the policy must be a distribution"

        def objective(p, beta=beta):
            return float((p * r).sum() - beta * (p * (p / ref).log()).sum())

        best = objective(pi)
        for _ in range(200):
            q = torch.rand(6, generator=g, dtype=torch.float64).softmax(0)
            assert objective(q) <= best + 1e-9, f"beta={beta}: a random policy beats yours"


def solution_2_kl(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p || q) of two categorical distributions."""
    return float((p * (p / q).log()).sum())


def check_2_kl(fn) -> None:
    """Compare with torch's kl_div, and check that the optimum's KL falls as beta grows."""
    g = torch.Generator().manual_seed(1)
    p = torch.rand(5, generator=g, dtype=torch.float64).softmax(0)
    q = torch.rand(5, generator=g, dtype=torch.float64).softmax(0)
    expected = float(torch.nn.functional.kl_div(q.log(), p, reduction="sum"))
    assert abs(fn(p, q) - expected) < 1e-12, f"expected KL {expected}, got {fn(p, q)}"
    r = torch.randn(5, generator=g, dtype=torch.float64)
    kls = [fn(solution_1_optimal_policy(q, r, b), q) for b in (0.1, 1.0, 10.0)]
    assert kls[0] > kls[1] > kls[2], f"KL to the reference should fall as beta grows, got {kls}"
