r"""# Exercises: Induction heads: a circuit a two-layer attention-only model grows

Scoring a previous-token head, and the induction score for a different period."""

import torch

from masterclass.safety.induction_heads import induction_scores


def solution_1_previous_token_score(patterns: torch.Tensor) -> float:
    """Mean attention from position i >= 1 to i - 1, for patterns `(B, T, T)` of one head."""
    t = patterns.shape[-1]
    i = torch.arange(1, t)
    return float(patterns[:, i, i - 1].mean())


def check_1_previous_token_score(fn) -> None:
    """A shifted identity scores 1, a uniform causal pattern scores the mean of 1/(i+1)."""
    t = 8
    shifted = torch.zeros(2, t, t)
    shifted[:, 0, 0] = 1
    shifted[:, torch.arange(1, t), torch.arange(t - 1)] = 1
    assert abs(fn(shifted) - 1.0) < 1e-6, (
        f"a perfect previous-token head scores 1, got {fn(shifted)}"
    )
    uniform = torch.ones(t, t).tril()
    uniform = (uniform / uniform.sum(1, keepdim=True)).expand(2, t, t)
    expected = sum(1 / (i + 1) for i in range(1, t)) / (t - 1)
    assert abs(fn(uniform) - expected) < 1e-6, (
        f"uniform causal attention scores {expected:.4f}, got {fn(uniform)}"
    )


def solution_2_induction_score(patterns: torch.Tensor, n: int) -> torch.Tensor:
    """Induction score `(L, H)` of patterns `(B, L, H, 2n, 2n)` by an explicit loop."""
    _b, layers, heads, _t, _ = patterns.shape
    out = torch.zeros(layers, heads)
    for i in range(n, 2 * n):
        out += patterns[:, :, :, i, i - n + 1].mean(0) / n
    return out


def check_2_induction_score(fn) -> None:
    """Compare with the chapter's vectorised score on random patterns."""
    g = torch.Generator().manual_seed(0)
    patterns = torch.rand(3, 2, 2, 10, 10, generator=g).tril().softmax(-1)
    expected = induction_scores(patterns, 5)
    got = fn(patterns, 5)
    assert torch.allclose(got, expected, atol=1e-6), (
        f"expected {expected.tolist()}, got {got.tolist()}"
    )
