"""Hand-written backward passes: gradcheck against finite differences, and value and gradient
against PyTorch's own RMSNorm and label-smoothed cross-entropy (float64)."""

import pytest
import torch

from masterclass.autograd.custom_functions import (
    RMSNorm,
    RMSNormFunction,
    SmoothedCrossEntropy,
    smoothed_cross_entropy,
)

# float64, a few dozen flops per output: 1e-12 is far above rounding and far below any bug.
TOL = {"rtol": 1e-12, "atol": 1e-12}


def test_rmsnorm_backward_passes_gradcheck():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: RMSNormFunction.apply(a, b, 1e-6), (x, w))


def test_rmsnorm_matches_torch_rmsnorm():
    torch.manual_seed(1)
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    ours = RMSNorm(6, eps=1e-5, dtype=torch.float64)
    ref = torch.nn.RMSNorm(6, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        ours.weight.copy_(torch.randn(6))
        ref.weight.copy_(ours.weight)
    g = torch.randn(4, 6, dtype=torch.float64)
    y, y_ref = ours(x), ref(x)
    torch.testing.assert_close(y, y_ref, **TOL)
    (gx,) = torch.autograd.grad((y * g).sum(), x)
    (gx_ref,) = torch.autograd.grad((y_ref * g).sum(), x)
    torch.testing.assert_close(gx, gx_ref, **TOL)
    (ours(x) * g).sum().backward()
    (ref(x) * g).sum().backward()
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, **TOL)
    with pytest.raises(ValueError, match=r"RMSNorm: input shape \(4, 5\) does not end in dim=6"):
        ours(torch.ones(4, 5, dtype=torch.float64))


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_smoothed_cross_entropy_matches_torch_and_gradcheck(smoothing):
    torch.manual_seed(2)
    z = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 7, (5,))
    assert torch.autograd.gradcheck(lambda a: SmoothedCrossEntropy.apply(a, y, smoothing), (z,))
    loss = smoothed_cross_entropy(z, y, smoothing)
    ref = torch.nn.functional.cross_entropy(z, y, label_smoothing=smoothing)
    torch.testing.assert_close(loss, ref, **TOL)
    (g,) = torch.autograd.grad(loss, z)
    (g_ref,) = torch.autograd.grad(ref, z)
    torch.testing.assert_close(g, g_ref, **TOL)


def test_smoothed_cross_entropy_rejects_bad_input():
    z = torch.zeros(3, 4)
    with pytest.raises(
        ValueError, match=r"logits \(B, V\) and targets \(B,\), got \(3, 4\) and \(2,\)"
    ):
        smoothed_cross_entropy(z, torch.zeros(2, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"targets must be int64, got torch\.float32"):
        smoothed_cross_entropy(z, torch.zeros(3))
