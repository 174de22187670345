"""Every loss against torch.nn.functional in float64, value and gradient."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.nn import losses as L

# float64, same formulas: values and gradients agree to ~1e-15; 1e-10 catches any wrong term.
TOL = dict(rtol=1e-10, atol=1e-10)
REDUCTIONS = ["mean", "sum", "none"]


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _check(ours, ref, *inputs):
    # Compare values, then gradients of a random weighting of the outputs w.r.t. every float input.
    a = [t.clone().requires_grad_(t.is_floating_point()) for t in inputs]
    b = [t.clone().requires_grad_(t.is_floating_point()) for t in inputs]
    y1, y2 = ours(*a), ref(*b)
    torch.testing.assert_close(y1, y2, **TOL)
    w = torch.randn(y1.shape, generator=_g(9), dtype=y1.dtype)
    (y1 * w).sum().backward()
    (y2 * w).sum().backward()
    for t1, t2 in zip(a, b, strict=True):
        if t1.is_floating_point():
            torch.testing.assert_close(t1.grad, t2.grad, **TOL)


def _pair(shape=(6, 4), scale=3.0):
    g = _g(1)
    return (
        scale * torch.randn(*shape, generator=g, dtype=torch.float64),
        scale * torch.randn(*shape, generator=g, dtype=torch.float64),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(reduction):
    p, t = _pair()
    _check(
        lambda a, b: L.mse_loss(a, b, reduction),
        lambda a, b: F.mse_loss(a, b, reduction=reduction),
        p,
        t,
    )
    _check(
        lambda a, b: L.mae_loss(a, b, reduction),
        lambda a, b: F.l1_loss(a, b, reduction=reduction),
        p,
        t,
    )
    for delta in (0.5, 2.0):
        _check(
            lambda a, b, d=delta: L.huber_loss(a, b, d, reduction),
            lambda a, b, d=delta: F.huber_loss(a, b, reduction=reduction, delta=d),
            p,
            t,
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch_and_is_stable(reduction):
    z, _ = _pair(scale=20.0)  # logits up to ~+-60: naive sigmoid-then-log would give inf
    y = torch.rand(z.shape, generator=_g(3), dtype=torch.float64)
    _check(
        lambda a, b: L.bce_with_logits(a, b, reduction),
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
        z,
        y,
    )
    big = torch.tensor([1000.0, -1000.0])
    assert torch.isfinite(L.bce_with_logits(big, torch.tensor([0.0, 1.0]))).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_with_smoothing_and_ignore_index(reduction, smoothing):
    g = _g(4)
    logits = 5 * torch.randn(3, 5, 4, generator=g, dtype=torch.float64)  # (N, V, T)
    target = torch.randint(0, 5, (3, 4), generator=g)
    target[0, 1] = target[2, 3] = -100  # padding positions
    _check(
        lambda a, b: L.cross_entropy(a, b, smoothing, reduction=reduction),
        lambda a, b: F.cross_entropy(a, b, label_smoothing=smoothing, reduction=reduction),
        logits,
        target,
    )
    target[1, 0] = 7
    _check(
        lambda a, b: L.cross_entropy(a, b, smoothing, ignore_index=7, reduction=reduction),
        lambda a, b: F.cross_entropy(
            a, b, ignore_index=7, label_smoothing=smoothing, reduction=reduction
        ),
        logits,
        target.clamp_min(0),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_matches_torch(reduction):
    g = _g(5)
    lp = F.log_softmax(torch.randn(6, 4, generator=g, dtype=torch.float64), dim=1)
    t = torch.randint(0, 4, (6,), generator=g)
    t[2] = -100
    _check(
        lambda a, b: L.nll_loss(a, b, reduction=reduction),
        lambda a, b: F.nll_loss(a, b, reduction=reduction),
        lp,
        t,
    )


def test_focal_loss_against_its_formula_and_cross_entropy():
    g = _g(6)
    logits = 3 * torch.randn(8, 5, generator=g, dtype=torch.float64)
    t = torch.randint(0, 5, (8,), generator=g)
    # gamma = 0 without alpha is exactly cross-entropy (torch's).
    _check(lambda a, b: L.focal_loss(a, b, gamma=0.0), F.cross_entropy, logits, t)
    # General case against the defining formula on torch's softmax.
    alpha = torch.rand(5, generator=g, dtype=torch.float64)

    def ref(a, b):
        pt = F.softmax(a, dim=1)[torch.arange(8), b]
        return (-alpha[b] * (1 - pt) ** 2 * torch.log(pt)).mean()

    _check(lambda a, b: L.focal_loss(a, b, 2.0, alpha), ref, logits, t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_matches_multi_margin_loss(reduction):
    g = _g(7)
    s = torch.randn(6, 4, generator=g, dtype=torch.float64)
    t = torch.randint(0, 4, (6,), generator=g)
    _check(
        lambda a, b: L.hinge_loss(a, b, 0.7, reduction),
        lambda a, b: F.multi_margin_loss(a, b, margin=0.7, reduction=reduction),
        s,
        t,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_matches_torch(reduction):
    g = _g(8)
    a, p, n = (torch.randn(6, 3, generator=g, dtype=torch.float64) for _ in range(3))
    _check(
        lambda x, y, z: L.triplet_loss(x, y, z, 0.5, reduction),
        lambda x, y, z: F.triplet_margin_loss(x, y, z, margin=0.5, reduction=reduction),
        a,
        p,
        n,
    )


def test_contrastive_against_formula_and_pairwise_distance():
    g = _g(10)
    x1, x2 = (torch.randn(8, 3, generator=g, dtype=torch.float64) for _ in range(2))
    y = torch.tensor([1, 0, 1, 0, 0, 1, 1, 0])

    def ref(a, b):
        d = F.pairwise_distance(a, b)
        return (y * d**2 + (1 - y) * F.relu(1.5 - d) ** 2).mean()

    _check(lambda a, b: L.contrastive_loss(a, b, y, margin=1.5), ref, x1, x2)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="shapes differ"):
        L.mse_loss(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        L.mae_loss(torch.zeros(3), torch.zeros(3), reduction="avg")
    with pytest.raises(ValueError, match="does not match"):
        L.cross_entropy(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        L.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="label_smoothing"):
        L.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), label_smoothing=1.5)
