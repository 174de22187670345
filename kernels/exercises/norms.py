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
