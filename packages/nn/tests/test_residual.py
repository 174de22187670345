"""Residual blocks against torch compositions with copied weights; gradient flow by depth."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from masterclass.nn.residual import BasicBlock, ResidualMLPBlock, gradient_norms_by_depth

# float64 with the same operations composed from torch's layers: 1e-10.
TOL = dict(rtol=1e-10, atol=1e-10)


def test_residual_mlp_block_matches_torch_composition():
    block = ResidualMLPBlock(6, 10).double()
    ln, fc1, fc2 = nn.LayerNorm(6).double(), nn.Linear(6, 10).double(), nn.Linear(10, 6).double()
    with torch.no_grad():
        nn.init.normal_(block.norm.weight)
        nn.init.normal_(block.norm.bias)
        for src, dst in ((block.norm, ln), (block.fc1, fc1), (block.fc2, fc2)):
            dst.load_state_dict(src.state_dict())
    x = torch.randn(3, 4, 6, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y1 = block(x1)
    y2 = x2 + fc2(F.gelu(fc1(ln(x2))))
    torch.testing.assert_close(y1, y2, **TOL)
    y1.sum().backward()
    y2.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, **TOL)
    torch.testing.assert_close(block.fc1.weight.grad, fc1.weight.grad, **TOL)


@pytest.mark.parametrize(("c_in", "c_out", "stride"), [(4, 4, 1), (4, 6, 2)])
def test_basic_block_matches_torch_resnet_block(c_in, c_out, stride):
    torch.manual_seed(0)
    ours = BasicBlock(c_in, c_out, stride).double()
    conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False).double()
    conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False).double()
    bn1, bn2 = nn.BatchNorm2d(c_out).double(), nn.BatchNorm2d(c_out).double()
    with torch.no_grad():
        conv1.weight.copy_(ours.conv1.weight)
        conv2.weight.copy_(ours.conv2.weight)
    short = None
    if ours.shortcut is not None:
        short = nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
        ).double()
        with torch.no_grad():
            short[0].weight.copy_(ours.shortcut[0].weight)

    def ref(x):
        out = bn2(conv2(F.relu(bn1(conv1(x)))))
        return F.relu(out + (x if short is None else short(x)))

    x = torch.randn(2, c_in, 6, 6, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y1, y2 = ours(x1), ref(x2)
    assert y1.shape == (2, c_out, 6 // stride, 6 // stride)
    torch.testing.assert_close(y1, y2, **TOL)
    y1.sum().backward()
    y2.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, **TOL)
    torch.testing.assert_close(ours.conv1.weight.grad, conv1.weight.grad, **TOL)


def test_residual_stack_keeps_gradients_plain_stack_loses_them():
    # 50 contractive tanh layers: the plain stack's input gradient is below 1e-6 of its output
    # gradient (it decays geometrically, ~0.5 per layer), the residual one stays within 100x.
    plain = gradient_norms_by_depth(residual=False, depth=50)
    res = gradient_norms_by_depth(residual=True, depth=50)
    assert plain[0] / plain[-1] < 1e-6
    assert 1e-2 < res[0] / res[-1] < 1e2


def test_bad_depth_raises():
    with pytest.raises(ValueError, match="depth"):
        gradient_norms_by_depth(True, depth=0)
