"""RMSNorm and LayerNorm kernels against F.rms_norm and F.layer_norm, value and gradients."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.kernels.norms import layer_norm, rms_norm

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _inputs(shape, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = shape[-1]
    x = torch.randn(shape, generator=g).to(DEVICE, dtype).requires_grad_()
    w = (1 + 0.1 * torch.randn(n, generator=g)).to(DEVICE, dtype).requires_grad_()
    b = (0.1 * torch.randn(n, generator=g)).to(DEVICE, dtype).requires_grad_()
    dy = torch.randn(shape, generator=g).to(DEVICE, dtype)
    return x, w, b, dy


# float32 kernels against the float64 reference: ~1e-6 after summing a row; float16 storage of
# the outputs and gradients rounds to 2^-11 relative, and dw sums over rows: 1e-2.
def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("shape", [(3, 16), (2, 5, 37)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_rms_norm_forward_and_backward(shape, dtype):
    x, w, _, dy = _inputs(shape, dtype)
    y = rms_norm(x, w)
    grads = torch.autograd.grad(y, (x, w), dy)
    x64, w64 = (t.detach().double().requires_grad_() for t in (x, w))
    y64 = F.rms_norm(x64, (shape[-1],), w64, 1e-5)
    refs = torch.autograd.grad(y64, (x64, w64), dy.double())
    torch.testing.assert_close(y.double(), y64, **_tol(dtype))
    for got, want in zip(grads, refs, strict=True):
        torch.testing.assert_close(got.double(), want, **_tol(dtype))


@pytest.mark.parametrize("shape", [(3, 16), (2, 5, 37)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_layer_norm_forward_and_backward(shape, dtype):
    x, w, b, dy = _inputs(shape, dtype)
    y = layer_norm(x, w, b)
    grads = torch.autograd.grad(y, (x, w, b), dy)
    x64, w64, b64 = (t.detach().double().requires_grad_() for t in (x, w, b))
    y64 = F.layer_norm(x64, (shape[-1],), w64, b64, 1e-5)
    refs = torch.autograd.grad(y64, (x64, w64, b64), dy.double())
    torch.testing.assert_close(y.double(), y64, **_tol(dtype))
    for got, want in zip(grads, refs, strict=True):
        torch.testing.assert_close(got.double(), want, **_tol(dtype))


def test_bad_input():
    with pytest.raises(ValueError, match=r"weight must have shape \(N,\)"):
        rms_norm(torch.ones(2, 4), torch.ones(5))
    with pytest.raises(ValueError, match="bias must have shape"):
        layer_norm(torch.ones(2, 4), torch.ones(4), torch.ones(3))
