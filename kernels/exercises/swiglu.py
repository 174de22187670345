r"""# Exercises: Fused SwiGLU, and a `torch.library` custom operator

The closed-form SwiGLU gradients, checked against autograd, and the width of the gated FFN."""

import torch
import torch.nn.functional as F


def solution_1_swiglu_backward_reference(g, u, dh):
    sig = torch.sigmoid(g)
    return dh * u * sig * (1 + g * (1 - sig)), dh * g * sig


def check_1_swiglu_backward_reference(fn) -> None:
    gen = torch.Generator().manual_seed(0)
    g, u, dh = (torch.randn(4, 6, generator=gen, dtype=torch.float64) for _ in range(3))
    g.requires_grad_(), u.requires_grad_()
    want = torch.autograd.grad(F.silu(g) * u, (g, u), dh)
    got = fn(g.detach(), u.detach(), dh)
    for name, a, b in zip(("dg", "du"), got, want, strict=True):
        assert torch.allclose(a, b, atol=1e-12), f"{name} differs from autograd"


def solution_2_swiglu_hidden_dim(d_model: int, multiple_of: int) -> int:
    hidden = 8 * d_model // 3  # 3 d F = 8 d^2
    return multiple_of * -(-hidden // multiple_of)


def check_2_swiglu_hidden_dim(fn) -> None:
    """The FFN widths of the four released LLaMA-1 models, then the rule's properties."""
    # (d_model, multiple_of, F) of the 7B, 13B, 33B and 65B checkpoints (Touvron et al., 2023).
    for d, mult, want in [(4096, 256, 11008), (5120, 256, 13824), (6656, 256, 17920),
                          (8192, 256, 22016)]:  # fmt: skip
        got = fn(d, mult)
        assert got == want, f"swiglu_hidden_dim({d}, {mult}) = {got}; LLaMA uses {want}"
    # Properties of any answer: a multiple of `multiple_of`, the smallest at least floor(8d/3).
    for d, mult in [(192, 64), (768, 256), (100, 1), (48, 32)]:
        got = fn(d, mult)
        floor = 8 * d // 3
        assert got % mult == 0 and floor <= got < floor + mult, (
            f"swiglu_hidden_dim({d}, {mult}) = {got}: want the smallest multiple of {mult} that "
            f"is at least floor(8 * {d} / 3) = {floor}"
        )
