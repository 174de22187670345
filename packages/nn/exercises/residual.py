r"""# Exercises: Residual connections

The backward pass of one residual tanh layer (the identity term of the derivation), and when a
ResNet block needs a projection on its skip path."""

import torch

from masterclass.nn.residual import BasicBlock


def solution_1_residual_grad(
    x: torch.Tensor, weight: torch.Tensor, grad_out: torch.Tensor
) -> torch.Tensor:
    r"""For $y = x + \tanh(x W^\top)$: $\partial L/\partial x = g + (g \odot (1 - h^2)) W$."""
    h = torch.tanh(x @ weight.T)  # (B, d)
    return grad_out + (grad_out * (1 - h * h)) @ weight


def check_1_residual_grad(fn) -> None:
    """Compare with autograd through the same layer."""
    g = torch.Generator().manual_seed(0)
    for B, d in [(3, 4), (1, 1), (5, 8)]:
        x = torch.randn(B, d, generator=g, dtype=torch.float64, requires_grad=True)
        w = torch.randn(d, d, generator=g, dtype=torch.float64)
        gy = torch.randn(B, d, generator=g, dtype=torch.float64)
        (want,) = torch.autograd.grad(x + torch.tanh(x @ w.T), x, gy)
        got = fn(x.detach().clone(), w.clone(), gy.clone())
        # float64; rounding only.
        assert torch.allclose(got, want, atol=1e-12), (
            f"B={B}, d={d}: off by {(got - want).abs().max():.2e}; do not forget the identity "
            "term: the skip passes the upstream gradient through unchanged"
        )


def solution_2_needs_projection(in_channels: int, out_channels: int, stride: int) -> bool:
    """The identity skip fits only when the block keeps both the channels and the resolution."""
    return stride != 1 or in_channels != out_channels


def check_2_needs_projection(fn) -> None:
    """Compare with whether the chapter's `BasicBlock` builds a shortcut, and why it must."""
    for c_in, c_out, stride in [(4, 4, 1), (4, 8, 1), (4, 4, 2), (8, 4, 2), (3, 3, 3)]:
        block = BasicBlock(c_in, c_out, stride)
        want = block.shortcut is not None
        got = fn(c_in, c_out, stride)
        out = block(torch.randn(2, c_in, 6, 6))
        assert got == want, (
            f"in {c_in}, out {c_out}, stride {stride}: got {got}; the input (2, {c_in}, 6, 6) "
            f"becomes {tuple(out.shape)}, so x + F(x) {'does not' if want else 'does'} type-check "
            "without a 1x1 projection"
        )
