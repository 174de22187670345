r"""# Exercises: Fused SwiGLU, and a `torch.library` custom operator

The closed-form SwiGLU gradients, checked against autograd."""

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
