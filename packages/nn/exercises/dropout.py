r"""# Exercises: Dropout

Inverted dropout from a given mask of uniforms, and the variance it adds."""

import torch

from masterclass.nn.dropout import dropout


def solution_1_inverted_dropout(x: torch.Tensor, u: torch.Tensor, p: float) -> torch.Tensor:
    r"""Keep where $u \ge p$ (probability $1 - p$), scale the kept units by $1/(1-p)$."""
    return x * (u >= p).to(x.dtype) / (1 - p)


def check_1_inverted_dropout(fn) -> None:
    """Feed the uniforms the chapter's `dropout` draws; the outputs must be identical."""
    for seed, p, shape in [(0, 0.5, (4, 5)), (1, 0.1, (100,)), (2, 0.9, (3, 3, 3)), (3, 0.0, (6,))]:
        x = torch.randn(
            shape, generator=torch.Generator().manual_seed(seed + 100), dtype=torch.float64
        )
        want = dropout(x, p, generator=torch.Generator().manual_seed(seed))
        u = torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        got = fn(x.clone(), u, p)
        assert torch.allclose(got, want, atol=1e-12), (
            f"p={p}, shape {shape}: off by {(got - want).abs().max():.2e}; drop where u < p, and "
            "scale the survivors by 1 / (1 - p) so the expectation is x"
        )


def solution_2_dropout_variance(x: float, p: float) -> float:
    r"""$\mathrm{Var}[y] = E[y^2] - x^2 = x^2/(1-p) - x^2 = x^2\,p/(1-p)$."""
    return x * x * p / (1 - p)


def check_2_dropout_variance(fn) -> None:
    """Compare with the variance of 400 000 draws of the chapter's `dropout`."""
    g = torch.Generator().manual_seed(0)
    for x, p in [(1.0, 0.5), (2.0, 0.1), (-1.5, 0.8), (3.0, 0.0)]:
        y = dropout(torch.full((400_000,), x, dtype=torch.float64), p, generator=g)
        want = float(y.var())
        got = fn(x, p)
        # The sample variance of 4e5 draws is within about 1% of the truth (its relative standard
        # error is below 0.6% for these p); 3% leaves room and still rejects a wrong formula.
        assert abs(got - want) <= 0.03 * abs(want) + 1e-9, (
            f"x={x}, p={p}: got {got}, the empirical variance is {want:.4f}"
        )
