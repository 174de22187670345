r"""# Exercises: Activation functions in LLMs

GELU's tanh approximation, a SwiGLU feed-forward network from three matrices, and the width that
keeps a gated FFN's parameters equal to a plain one's."""

import torch
import torch.nn.functional as F

from masterclass.transformer.feedforward import FeedForward


def solution_1_gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    r"""$\tfrac12 x \left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715\, x^3)\right)\right)$."""
    return 0.5 * x * (1 + torch.tanh((2 / torch.pi) ** 0.5 * (x + 0.044715 * x**3)))


def check_1_gelu_tanh(fn) -> None:
    """Compare with `torch.nn.functional.gelu(x, approximate="tanh")`, value and gradient."""
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(200, generator=g, dtype=torch.float64) * 4, torch.tensor([0.0])])
    x.requires_grad_(True)
    got = fn(x)
    want = F.gelu(x, approximate="tanh")
    # float64: agreement to 1e-12 in value and derivative.
    assert torch.allclose(got, want, atol=1e-12), (
        f"max error {(got - want).abs().max().item():.2e} against torch's tanh GELU"
    )
    (grad_got,) = torch.autograd.grad(got.sum(), x)
    (grad_want,) = torch.autograd.grad(want.sum(), x)
    assert torch.allclose(grad_got, grad_want, atol=1e-12), "the derivative differs from torch's"


def solution_2_swiglu(
    x: torch.Tensor, w_gate: torch.Tensor, w_up: torch.Tensor, w_down: torch.Tensor
) -> torch.Tensor:
    r"""$W_2 (\mathrm{SiLU}(W_g x) \odot W_u x)$ with `nn.Linear`-shaped weights `(out, in)`."""
    return (F.silu(x @ w_gate.T) * (x @ w_up.T)) @ w_down.T


def check_2_swiglu(fn) -> None:
    """Compare with the transformer chapter's `FeedForward(gated=True, activation="silu")`
    on copied weights."""
    torch.manual_seed(0)
    for d, d_ff in [(8, 16), (64, 192), (12, 40)]:
        ffn = FeedForward(d, d_ff, activation="silu", gated=True, bias=False).double()
        x = torch.randn(2, 5, d, dtype=torch.float64)
        want = ffn(x)
        got = fn(x, ffn.gate.weight.detach(), ffn.up.weight.detach(), ffn.down.weight.detach())
        # float64: only summation order differs.
        assert torch.allclose(got, want, atol=1e-10), (
            f"d={d}, d_ff={d_ff}: max error {(got - want).abs().max().item():.2e}; the gate goes "
            "through SiLU, the up projection does not"
        )


def solution_3_equal_width(d_ff_plain: int) -> int:
    r"""Three matrices of $d \times w$ equal two of $d \times d_{ff}$ when $w = \tfrac23 d_{ff}$
    (rounded to the nearest integer)."""
    return round(2 * d_ff_plain / 3)


def check_3_equal_width(fn) -> None:
    """The gated FFN of the returned width must have the parameters of the plain one, as
    counted on real `FeedForward` modules, to within one hidden unit."""
    for d, d_ff in [(64, 256), (96, 384), (30, 120), (10, 33)]:
        plain = sum(p.numel() for p in FeedForward(d, d_ff, "gelu", False, False).parameters())
        width = fn(d_ff)
        gated = sum(p.numel() for p in FeedForward(d, width, "silu", True, False).parameters())
        # Parameters come in steps of 3d (one gated hidden unit): the best width is within 1.5 d.
        assert abs(gated - plain) <= 1.5 * d, (
            f"d={d}, plain d_ff={d_ff} ({plain} parameters): width {width} gives {gated}"
        )
