"""Batch norm against `torch.nn.BatchNorm1d/2d`: forward, hand-written backward, running stats."""

import pytest
import torch
from torch import nn

from masterclass.nn.batchnorm import (
    BatchNorm1d,
    BatchNorm2d,
    batch_norm_backward,
    batch_norm_forward,
)

# float64: different reduction orders agree to ~1e-15; 1e-10 catches any wrong term.
TOL = dict(rtol=1e-10, atol=1e-10)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_hand_written_backward_matches_autograd():
    g = _gen()
    x = 2 + torch.randn(6, 3, 4, 5, generator=g, dtype=torch.float64)
    gamma = torch.randn(3, generator=g, dtype=torch.float64)
    beta = torch.randn(3, generator=g, dtype=torch.float64)
    grad_y = torch.randn(6, 3, 4, 5, generator=g, dtype=torch.float64)
    y, cache = batch_norm_forward(x, gamma, beta)
    gx, gg, gb = batch_norm_backward(grad_y, cache)
    xs, gs, bs = (t.clone().requires_grad_(True) for t in (x, gamma, beta))
    y_ref = torch.nn.functional.batch_norm(xs, None, None, gs, bs, training=True)
    torch.testing.assert_close(y, y_ref, **TOL)
    ref = torch.autograd.grad(y_ref, (xs, gs, bs), grad_y)
    for ours, theirs in zip((gx, gg, gb), ref, strict=True):
        torch.testing.assert_close(ours, theirs, **TOL)


@pytest.mark.parametrize(
    ("ours_cls", "ref_cls", "shape"),
    [
        (BatchNorm1d, nn.BatchNorm1d, (8, 4)),
        (BatchNorm1d, nn.BatchNorm1d, (8, 4, 5)),
        (BatchNorm2d, nn.BatchNorm2d, (5, 4, 3, 3)),
    ],
)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_module_matches_torch_train_and_eval(ours_cls, ref_cls, shape, momentum):
    g = _gen(1)
    ours = ours_cls(4, momentum=momentum).double()
    ref = ref_cls(4, momentum=momentum).double()
    with torch.no_grad():
        ours.weight.copy_(torch.randn(4, generator=g))
        ours.bias.copy_(torch.randn(4, generator=g))
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
    # Three training steps: outputs, gradients and running statistics (momentum update with the
    # unbiased variance, or the cumulative average for momentum=None) must all agree.
    for _ in range(3):
        x = 1.5 + 2 * torch.randn(*shape, generator=g, dtype=torch.float64)
        x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        y1, y2 = ours(x1), ref(x2)
        torch.testing.assert_close(y1, y2, **TOL)
        w = torch.randn(y1.shape, generator=g, dtype=torch.float64)
        (y1 * w).sum().backward()
        (y2 * w).sum().backward()
        torch.testing.assert_close(x1.grad, x2.grad, **TOL)
        torch.testing.assert_close(ours.weight.grad, ref.weight.grad, **TOL)
        torch.testing.assert_close(ours.bias.grad, ref.bias.grad, **TOL)
    torch.testing.assert_close(ours.running_mean, ref.running_mean, **TOL)
    torch.testing.assert_close(ours.running_var, ref.running_var, **TOL)
    assert int(ours.num_batches_tracked) == int(ref.num_batches_tracked) == 3
    # Eval mode uses the running statistics, so the output no longer depends on the batch.
    ours.eval()
    ref.eval()
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)
    torch.testing.assert_close(ours(x[:2])[0], ours(x)[0], **TOL)


def test_no_running_stats_uses_batch_statistics_in_eval():
    ours = BatchNorm1d(3, track_running_stats=False, affine=False).double().eval()
    ref = nn.BatchNorm1d(3, track_running_stats=False, affine=False).double().eval()
    x = torch.randn(7, 3, generator=_gen(2), dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="4 channels"):
        BatchNorm1d(4)(torch.randn(8, 3))
    with pytest.raises(ValueError, match="4-D"):
        BatchNorm2d(4)(torch.randn(8, 4))
    with pytest.raises(ValueError, match="more than 1 value"):
        BatchNorm1d(4)(torch.randn(1, 4))
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(4, momentum=2.0)
