r"""# Exercises: RMSNorm and LayerNorm, forward and backward

The closed-form RMSNorm backward, checked against the kernel and autograd."""

import torch
import torch.nn.functional as F


def solution_1_rms_norm_backward_reference(x, w, dy, eps):
    rstd = (x.pow(2).mean(-1, keepdim=True) + eps).rsqrt()
    xhat = x * rstd
    g = dy * w
    dx = rstd * (g - xhat * (g * xhat).mean(-1, keepdim=True))
    dw = (dy * xhat).reshape(-1, x.shape[-1]).sum(0)
    return dx, dw


def check_1_rms_norm_backward_reference(fn) -> None:
    g0 = torch.Generator().manual_seed(0)
    for shape in [(3, 8), (2, 4, 5)]:
        x = torch.randn(shape, generator=g0, dtype=torch.float64, requires_grad=True)
        w = torch.randn(shape[-1], generator=g0, dtype=torch.float64, requires_grad=True)
        dy = torch.randn(shape, generator=g0, dtype=torch.float64)
        want = torch.autograd.grad(F.rms_norm(x, (shape[-1],), w, 1e-5), (x, w), dy)
        got = fn(x.detach(), w.detach(), dy, 1e-5)
        for name, a, b in zip(("dx", "dw"), got, want, strict=True):
            assert torch.allclose(a, b, atol=1e-10), (
                f"{name} differs from autograd for shape {shape}"
            )


def solution_2_layer_norm_backward_reference(x, w, b, dy, eps):
    mu = x.mean(-1, keepdim=True)
    rstd = ((x - mu).pow(2).mean(-1, keepdim=True) + eps).rsqrt()
    xhat = (x - mu) * rstd
    g = dy * w
    dx = rstd * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))
    n = x.shape[-1]
    dw = (dy * xhat).reshape(-1, n).sum(0)
    db = dy.reshape(-1, n).sum(0)
    return dx, dw, db


def check_2_layer_norm_backward_reference(fn) -> None:
    """Against autograd through `F.layer_norm` in float64: only rounding differs (1e-10)."""
    g0 = torch.Generator().manual_seed(1)
    for shape in [(3, 8), (2, 4, 5), (1, 16)]:
        n = shape[-1]
        # An offset of 3: a formula that forgets the mean fails at once.
        x = (3 + torch.randn(shape, generator=g0, dtype=torch.float64)).requires_grad_()
        w = torch.randn(n, generator=g0, dtype=torch.float64, requires_grad=True)
        b = torch.randn(n, generator=g0, dtype=torch.float64, requires_grad=True)
        dy = torch.randn(shape, generator=g0, dtype=torch.float64)
        want = torch.autograd.grad(F.layer_norm(x, (n,), w, b, 1e-5), (x, w, b), dy)
        got = fn(x.detach(), w.detach(), b.detach(), dy, 1e-5)
        for name, a, b_ in zip(("dx", "dw", "db"), got, want, strict=True):
            assert a.shape == b_.shape, f"{name} has shape {tuple(a.shape)}, want {tuple(b_.shape)}"
            assert torch.allclose(a, b_, atol=1e-10), (
                f"{name} differs from autograd for shape {shape} by "
                f"{(a - b_).abs().max().item():.2e}"
            )
