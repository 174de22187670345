"""im2col convolution and pooling against torch.nn.functional; the shapes CNN trains."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.nn.cnn import SmallCNN, render_shapes, train_shapes_cnn
from masterclass.nn.conv import Conv2d, avg_pool2d, conv2d, max_pool2d

# float64: im2col + matmul sums the same products as torch's kernel in another order; 1e-10.
TOL = dict(rtol=1e-10, atol=1e-10)

CONFIGS = [
    # (C_in, C_out, kernel, stride, padding, dilation, groups)
    (3, 4, 3, 1, 0, 1, 1),
    (3, 6, (3, 2), 2, 1, 1, 3),
    (4, 4, 3, 1, 2, 2, 4),  # depthwise and dilated
    (4, 8, 1, 1, 0, 1, 2),
    (2, 3, 5, (2, 3), (2, 1), 1, 1),
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_conv2d_matches_torch_forward_and_backward(cfg):
    c_in, c_out, k, s, p, d, g = cfg
    k2 = (k, k) if isinstance(k, int) else k
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, c_in, 9, 8, generator=gen, dtype=torch.float64)
    w = torch.randn(c_out, c_in // g, *k2, generator=gen, dtype=torch.float64)
    b = torch.randn(c_out, generator=gen, dtype=torch.float64)
    ins1 = [t.clone().requires_grad_(True) for t in (x, w, b)]
    ins2 = [t.clone().requires_grad_(True) for t in (x, w, b)]
    y1 = conv2d(*ins1, stride=s, padding=p, dilation=d, groups=g)
    y2 = F.conv2d(*ins2, stride=s, padding=p, dilation=d, groups=g)
    torch.testing.assert_close(y1, y2, **TOL)
    up = torch.randn(y1.shape, generator=gen, dtype=torch.float64)
    y1.backward(up)
    y2.backward(up)
    for a, c in zip(ins1, ins2, strict=True):
        torch.testing.assert_close(a.grad, c.grad, **TOL)


@pytest.mark.parametrize(
    ("k", "s", "p", "d"), [(2, None, 0, 1), (3, 2, 1, 1), (3, 1, 1, 2), ((2, 3), (1, 2), (1, 1), 1)]
)
def test_max_pool_matches_torch(k, s, p, d):
    gen = torch.Generator().manual_seed(1)
    # A random permutation: no ties, so the max (and its gradient) is unique.
    x = torch.randperm(2 * 3 * 7 * 8, generator=gen).double().reshape(2, 3, 7, 8)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y1 = max_pool2d(x1, k, s, p, d)
    y2 = F.max_pool2d(x2, k, s, p, d)
    torch.testing.assert_close(y1, y2, **TOL)
    up = torch.randn(y1.shape, generator=gen, dtype=torch.float64)
    y1.backward(up)
    y2.backward(up)
    torch.testing.assert_close(x1.grad, x2.grad, **TOL)


@pytest.mark.parametrize(("k", "s", "p"), [(2, None, 0), (3, 2, 1), ((3, 2), 1, (1, 0))])
def test_avg_pool_matches_torch(k, s, p):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 7, 8, generator=gen, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y1, y2 = avg_pool2d(x1, k, s, p), F.avg_pool2d(x2, k, s, p)
    torch.testing.assert_close(y1, y2, **TOL)
    y1.sum().backward()
    y2.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, **TOL)


def test_conv2d_module_matches_nn_conv2d_with_copied_weights():
    ours = Conv2d(4, 6, 3, stride=2, padding=1, groups=2).double()
    ref = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2).double()
    assert ours.weight.shape == ref.weight.shape
    with torch.no_grad():
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), **TOL)


def test_bad_configurations_raise():
    x = torch.randn(1, 4, 5, 5)
    with pytest.raises(ValueError, match="divisible by groups"):
        conv2d(x, torch.randn(6, 2, 3, 3), groups=3)
    with pytest.raises(ValueError, match="input channels"):
        conv2d(x, torch.randn(6, 3, 3, 3))
    with pytest.raises(ValueError, match="does not fit"):
        conv2d(x, torch.randn(2, 4, 7, 7))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        conv2d(torch.randn(4, 5, 5), torch.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="half the kernel"):
        max_pool2d(x, 2, padding=2)


def test_rendered_shapes_are_distinct_classes():
    x, y = render_shapes(30, noise=0.0, seed=3)
    assert x.shape == (30, 1, 16, 16) and set(y.tolist()) == {0, 1, 2}
    # Every image holds one non-empty shape of 0/1 pixels.
    assert ((x == 0) | (x == 1)).all() and (x.sum(dim=(1, 2, 3)) > 5).all()


def test_small_cnn_learns_shapes():
    # A few seconds of training: held-out accuracy on unseen random shapes >= 90%
    # (chance is 33%; the run reaches ~99%).
    model, acc, losses = train_shapes_cnn()
    assert isinstance(model, SmallCNN)
    assert acc >= 0.9
    assert sum(losses[-10:]) / 10 < 0.3 * losses[0]
