"""The fused SwiGLU kernel against F.silu(g) * u, value and gradients; opcheck of the custom op."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.kernels.swiglu import swiglu, swiglu_reference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize("shape", [(7,), (3, 50), (2, 4, 33)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_forward_and_backward_match_torch(shape, dtype):
    g0 = torch.Generator().manual_seed(0)
    g, u, dh = (torch.randn(shape, generator=g0).to(DEVICE, dtype) for _ in range(3))
    g.requires_grad_(), u.requires_grad_()
    h = swiglu(g, u)
    grads = torch.autograd.grad(h, (g, u), dh)
    g64, u64 = (t.detach().double().requires_grad_() for t in (g, u))
    h64 = F.silu(g64) * u64
    refs = torch.autograd.grad(h64, (g64, u64), dh.double())
    # float32 arithmetic inside: ~1e-7 relative; float16 outputs round to 2^-11 relative.
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=2e-3, atol=2e-3)
    torch.testing.assert_close(h.double(), h64, **tol)
    torch.testing.assert_close(swiglu_reference(g, u).double(), h64, **tol)
    for got, want in zip(grads, refs, strict=True):
        torch.testing.assert_close(got.double(), want, **tol)


@pytest.mark.slow
def test_custom_op_passes_opcheck():
    g0 = torch.Generator().manual_seed(0)
    g, u = (torch.randn(3, 20, generator=g0).to(DEVICE).requires_grad_() for _ in range(2))
    # Schema, fake (meta) implementation, autograd registration and torch.compile's AOT dispatch.
    torch.library.opcheck(torch.ops.masterclass.swiglu.default, (g, u))


def test_bad_input():
    with pytest.raises(ValueError, match="same shape, dtype and device"):
        swiglu(torch.ones(3), torch.ones(3, dtype=torch.float16))
