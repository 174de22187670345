r"""# Exercises: Position-wise feed-forward networks

The plain two-layer MLP from its weights, and ReLU² with its derivative."""

import torch
import torch.nn.functional as F

from masterclass.transformer.feedforward import FeedForward


def solution_1_mlp(x, w1, b1, w2, b2) -> torch.Tensor:
    r"""$\mathrm{GELU}(x W_1^\top + b_1) W_2^\top + b_2$ with `nn.Linear`-shaped weights, the
    same map at every position."""
    return F.gelu(x @ w1.T + b1) @ w2.T + b2


def check_1_mlp(fn) -> None:
    """Compare with the chapter's `FeedForward(activation="gelu")` on copied weights."""
    torch.manual_seed(0)
    for C, d_ff in [(4, 16), (8, 32), (6, 10)]:
        ffn = FeedForward(C, d_ff, activation="gelu").double().eval()
        x = torch.randn(2, 3, C, dtype=torch.float64)
        want = ffn(x)
        got = fn(
            x,
            ffn.up.weight.detach(),
            ffn.up.bias.detach(),
            ffn.down.weight.detach(),
            ffn.down.bias.detach(),
        )
        # float64: 1e-10.
        assert torch.allclose(got, want, atol=1e-10), (
            f"C={C}, d_ff={d_ff}: max error {(got - want).abs().max().item():.2e} (exact GELU, "
            "biases on both layers)"
        )


def solution_2_relu2(x: torch.Tensor) -> torch.Tensor:
    r"""$\max(x, 0)^2$, whose derivative $2\max(x, 0)$ is continuous, unlike ReLU's."""
    return torch.clamp(x, min=0) ** 2


def check_2_relu2(fn) -> None:
    """Compare with `FeedForward`'s `"relu2"` activation, value and gradient."""
    ffn = FeedForward(2, 2, activation="relu2")
    x = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    got, want = fn(x), ffn.act(x)
    assert torch.allclose(got, want, atol=1e-12), "values differ from max(x, 0)^2"
    (g_got,) = torch.autograd.grad(got.sum(), x)
    assert torch.allclose(g_got, 2 * x.detach().clamp(min=0), atol=1e-12), (
        "the derivative must be 2 max(x, 0)"
    )
