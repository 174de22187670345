"""LayerNorm, RMSNorm, GroupNorm and InstanceNorm against torch's layers with copied weights."""

import pytest
import torch
from torch import nn

from masterclass.nn.normalization import GroupNorm, InstanceNorm, LayerNorm, RMSNorm

# float64 throughout: the two implementations reduce in different orders, so they agree to
# ~1e-15 relative; 1e-10 leaves room without hiding a wrong formula (those differ by > 1e-3).
TOL = dict(rtol=1e-10, atol=1e-10)


def _compare(ours, ref, x):
    # Random affine parameters, copied into both layers, so gamma/beta gradients are non-trivial.
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
            q.copy_(p)
    x1 = x.clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    y1, y2 = ours(x1), ref(x2)
    torch.testing.assert_close(y1, y2, **TOL)
    w = torch.randn(y1.shape, generator=g, dtype=y1.dtype)
    (y1 * w).sum().backward()
    (y2 * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, **TOL)
    for (n, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, **TOL, msg=n)


def _x(*shape):
    # An offset mean (3.0) makes a formula that forgets to centre fail loudly.
    return 3.0 + torch.randn(
        *shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )


@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_matches_torch(bias):
    _compare(LayerNorm(8, bias=bias).double(), nn.LayerNorm(8, bias=bias).double(), _x(2, 5, 8))


def test_rmsnorm_matches_torch():
    _compare(RMSNorm(8, eps=1e-6).double(), nn.RMSNorm(8, eps=1e-6).double(), _x(2, 5, 8))


def test_layernorm_bf16_keeps_dtype_and_matches_torch():
    # bf16 has 8 significant bits: agreement to about 2^-7 relative.
    x = _x(4, 16).bfloat16()
    ours, ref = LayerNorm(16).bfloat16(), nn.LayerNorm(16).bfloat16()
    y = ours(x)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y, ref(x), rtol=1e-2, atol=1e-2)


def test_rmsnorm_bf16_keeps_dtype_and_matches_torch():
    # bf16 has 8 mantissa bits: agreement to about 2^-7 relative.
    x = _x(4, 16).bfloat16()
    ours, ref = RMSNorm(16).bfloat16(), nn.RMSNorm(16, eps=1e-6).bfloat16()
    y = ours(x)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y, ref(x), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_groupnorm_matches_torch(groups):
    _compare(GroupNorm(groups, 6).double(), nn.GroupNorm(groups, 6).double(), _x(3, 6, 4, 5))


@pytest.mark.parametrize("affine", [False, True])
def test_instancenorm_matches_torch_1d_and_2d(affine):
    _compare(
        InstanceNorm(4, affine=affine).double(),
        nn.InstanceNorm2d(4, affine=affine).double(),
        _x(2, 4, 3, 5),
    )
    _compare(
        InstanceNorm(4, affine=affine).double(),
        nn.InstanceNorm1d(4, affine=affine).double(),
        _x(2, 4, 7),
    )


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match="last dimension is 8"):
        LayerNorm(8)(torch.randn(2, 7))
    with pytest.raises(ValueError, match="last dimension is 8"):
        RMSNorm(8)(torch.randn(2, 7))
    with pytest.raises(ValueError, match="divisible"):
        GroupNorm(4, 6)
    with pytest.raises(ValueError, match="channels"):
        GroupNorm(2, 6)(torch.randn(2, 4, 3))
    with pytest.raises(ValueError, match="spatial"):
        InstanceNorm(4)(torch.randn(2, 4))
