"""Weight penalties and decoupled decay against torch's optimizers; early stopping; augmentation."""

import pytest
import torch
from torch import nn

from masterclass.nn.regularization import (
    AugmentedDataset,
    EarlyStopping,
    decoupled_weight_decay_,
    gaussian_noise,
    l1_penalty,
    l2_penalty,
    random_crop,
    random_horizontal_flip,
)

# Five optimizer steps in float64 with identical arithmetic up to summation order: 1e-12.
TOL = dict(rtol=1e-12, atol=1e-12)


def _model_and_data(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 4, generator=g, dtype=torch.float64)
    y = torch.randn(16, 2, generator=g, dtype=torch.float64)
    return model, x, y


def _train(model, x, y, opt, extra=None, before_step=None, steps=5):
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        if extra is not None:
            loss = loss + extra(model)
        loss.backward()
        if before_step is not None:
            before_step(model)
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def test_l2_penalty_equals_coupled_weight_decay():
    lr, wd = 1e-2, 0.3
    for make, name in ((torch.optim.SGD, "sgd"), (torch.optim.Adam, "adam")):
        m1, x, y = _model_and_data()
        m2, _, _ = _model_and_data()
        ours = _train(
            m1, x, y, make(m1.parameters(), lr=lr), extra=lambda m: l2_penalty(m.parameters(), wd)
        )
        ref = _train(m2, x, y, make(m2.parameters(), lr=lr, weight_decay=wd))
        for a, b in zip(ours, ref, strict=True):
            torch.testing.assert_close(a, b, **TOL, msg=name)


def test_decoupled_decay_plus_adam_equals_adamw_and_differs_from_l2():
    lr, wd = 1e-2, 0.3
    m1, x, y = _model_and_data()
    m2, _, _ = _model_and_data()
    m3, _, _ = _model_and_data()
    ours = _train(
        m1,
        x,
        y,
        torch.optim.Adam(m1.parameters(), lr=lr),
        before_step=lambda m: decoupled_weight_decay_(m.parameters(), lr, wd),
    )
    ref = _train(m2, x, y, torch.optim.AdamW(m2.parameters(), lr=lr, weight_decay=wd))
    coupled = _train(m3, x, y, torch.optim.Adam(m3.parameters(), lr=lr, weight_decay=wd))
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    # Adam's L2 and AdamW's decay are different algorithms: the weights must differ.
    assert max((a - c).abs().max().item() for a, c in zip(ours, coupled, strict=True)) > 1e-6


def test_l1_gradient_is_sign():
    p = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    l1_penalty([p], 0.1).backward()
    torch.testing.assert_close(p.grad, 0.1 * torch.sign(p.detach()))


def test_early_stopping_stops_after_patience_and_restores_best():
    model = nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2, min_delta=0.01)
    values = [1.0, 0.8, 0.7, 0.695, 0.9, 0.5]
    stopped_at = None
    for i, v in enumerate(values):
        with torch.no_grad():
            model.weight.fill_(float(i))
        if stopper.step(v, model):
            stopped_at = i
            break
    # 0.695 is not an improvement over 0.7 by more than min_delta; 0.9 is worse: stop at step 4.
    assert stopped_at == 4 and stopper.best == 0.7 and stopper.best_step == 2
    stopper.restore_best(model)
    assert model.weight.item() == 2.0
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_augmentation_hooks():
    images = [(torch.arange(12.0).reshape(1, 3, 4), k) for k in range(50)]
    flipped = AugmentedDataset(images, [random_horizontal_flip(1.0)])
    x, y = flipped[3]
    assert torch.equal(x, images[3][0].flip(-1)) and y == 3
    crop = AugmentedDataset(images, [random_crop(3, padding=1)], seed=1)
    xs = [crop[i][0] for i in range(50)]
    assert all(x.shape == (1, 3, 3) for x in xs)
    # Each crop is a window of the zero-padded image, and different windows do occur.
    padded = nn.functional.pad(images[0][0], (1, 1, 1, 1))
    windows = {
        (i, j)
        for i in range(3)
        for j in range(4)
        if any(torch.equal(padded[..., i : i + 3, j : j + 3], x) for x in xs)
    }
    assert len(windows) > 3
    # Same seed, same augmentations: reproducible runs.
    a = AugmentedDataset(images, [gaussian_noise(0.1)], seed=5)
    b = AugmentedDataset(images, [gaussian_noise(0.1)], seed=5)
    assert torch.equal(a[0][0], b[0][0])
    with pytest.raises(ValueError, match="exceeds"):
        AugmentedDataset(images, [random_crop(9)])[0]
