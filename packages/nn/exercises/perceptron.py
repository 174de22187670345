r"""# Exercises: The perceptron

One step of the perceptron learning rule, and Novikoff's bound on the mistakes it can make."""

import math

import torch

from masterclass.nn.perceptron import train_perceptron


def _separable(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    # Points labelled by a random separating line $w^{*\top} x + b^* = 0$, with a margin gap.
    g = torch.Generator().manual_seed(seed)
    w_star = torch.randn(2, generator=g, dtype=torch.float64)
    b_star = float(torch.randn((), generator=g, dtype=torch.float64)) * 0.3
    x = torch.rand(n, 2, generator=g, dtype=torch.float64) * 4 - 2
    s = (x @ w_star + b_star) / w_star.norm()
    x = x[s.abs() > 0.15]
    return x, torch.sign(x @ w_star + b_star), w_star, b_star


def solution_1_perceptron_step(
    w: torch.Tensor, b: torch.Tensor, xi: torch.Tensor, yi: torch.Tensor, lr: float
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""If $y_i(w^\top x_i + b) \le 0$: $w \leftarrow w + \eta y_i x_i$, $b \leftarrow b + \eta y_i$."""
    if yi * (xi @ w + b) <= 0:
        return w + lr * yi * xi, b + lr * yi
    return w, b


def check_1_perceptron_step(fn) -> None:
    """Sweep separable data with the candidate's step; the weights must match `train_perceptron`."""
    for seed, lr in [(0, 1.0), (1, 0.5), (2, 0.1)]:
        x, y, _, _ = _separable(60, seed)
        want = train_perceptron(x, y, lr=lr, max_epochs=30)
        w = torch.zeros(2, dtype=torch.float64)
        b = torch.zeros((), dtype=torch.float64)
        for _ in want.mistakes_per_epoch:
            for xi, yi in zip(x, y, strict=True):
                w, b = fn(w, b, xi, yi, lr)
        assert torch.allclose(torch.as_tensor(w), want.weight, atol=1e-12), (
            f"seed {seed}, lr {lr}: weights {w.tolist()}, the chapter's rule gives "
            f"{want.weight.tolist()} (update only when y (w.x + b) <= 0, on the boundary too)"
        )
        assert torch.allclose(torch.as_tensor(b), want.bias, atol=1e-12), (
            f"seed {seed}, lr {lr}: bias {float(b)}, the chapter's rule gives {float(want.bias)}"
        )


def solution_2_mistake_bound(
    x: torch.Tensor, y: torch.Tensor, w_star: torch.Tensor, b_star: float
) -> float:
    r"""$(R/\gamma)^2$ in the augmented space $\tilde x = (x, 1)$, $\tilde w^* = (w^*, b^*)$."""
    xa = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)  # (N, d + 1)
    wa = torch.cat([w_star, torch.tensor([b_star], dtype=x.dtype)])  # (d + 1,)
    r = xa.norm(dim=1).max()
    gamma = (y * (xa @ wa)).min() / wa.norm()
    return float((r / gamma) ** 2)


def check_2_mistake_bound(fn) -> None:
    """Recompute the bound by hand; it must also hold for what `train_perceptron` does."""
    for seed in range(4):
        x, y, w_star, b_star = _separable(80, seed)
        r = max(math.sqrt(sum(v * v for v in row) + 1.0) for row in x.tolist())
        norm = math.sqrt(sum(v * v for v in w_star.tolist()) + b_star * b_star)
        gamma = min(
            yi * (sum(a * c for a, c in zip(row, w_star.tolist(), strict=True)) + b_star)
            for row, yi in zip(x.tolist(), y.tolist(), strict=True)
        )
        want = (r * norm / gamma) ** 2
        got = fn(x, y, w_star, b_star)
        assert math.isclose(got, want, rel_tol=1e-9), (
            f"seed {seed}: got {got}, want (R / gamma)^2 = {want}; remember the bias: append a "
            "constant feature 1 to x and b* to w*, and normalise w* in that space"
        )
        mistakes = train_perceptron(x, y, max_epochs=200).total_mistakes
        assert mistakes <= got, f"seed {seed}: the rule made {mistakes} > {got} mistakes"
