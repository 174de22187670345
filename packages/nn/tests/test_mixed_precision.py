"""Autocast on the CPU and the dynamic loss scaler against torch.amp.GradScaler."""

import pytest
import torch
from torch import nn

from masterclass.nn.mixed_precision import (
    DynamicLossScaler,
    curve_gap,
    low_precision_linear,
    train_precision_comparison,
)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_linear_is_low_precision_linear(dtype):
    # Inside autocast, nn.Linear runs on operands cast to the low dtype: bit-identical to our
    # explicit reference, while the float32 weights stay untouched.
    lin = nn.Linear(6, 5)
    x = torch.randn(4, 6)
    with torch.autocast("cpu", dtype=dtype):
        y = lin(x)
    assert y.dtype == dtype and lin.weight.dtype == torch.float32
    torch.testing.assert_close(
        y, low_precision_linear(x, lin.weight, lin.bias, dtype), rtol=0, atol=0
    )


def _run(scaler, steps=12, inject_inf_at=(7,)):
    # fp16 autocast with a huge initial scale: the first steps overflow in the fp16 backward,
    # the scale backs off, then grows every 3 good steps; an inf is also injected at step 7.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1)
    scales, stepped = [], []
    for i in range(steps):
        x = torch.randn(32, 4, generator=g)
        with torch.autocast("cpu", dtype=torch.float16):
            pred = model(x)
        loss = nn.functional.mse_loss(pred.float(), x[:, :1])
        opt.zero_grad()
        scaler.scale(loss).backward()
        if i in inject_inf_at:
            model[0].weight.grad[0, 0] = float("inf")
        before = [p.detach().clone() for p in model.parameters()]
        scaler.step(opt)
        scaler.update()
        stepped.append(
            any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
        )
        scales.append(scaler.get_scale())
    return scales, stepped, [p.detach() for p in model.parameters()]


def test_dynamic_scaler_matches_grad_scaler():
    kw = dict(init_scale=2.0**20, growth_factor=2.0, backoff_factor=0.5, growth_interval=3)
    ours = _run(DynamicLossScaler(**kw))
    ref = _run(torch.amp.GradScaler("cpu", **kw))
    # Same skipped steps and same scale history: exact (the scales are powers of two).
    assert ours[0] == ref[0]
    assert ours[1] == ref[1]
    # Both must have exercised every branch: skips (backoff) and growth.
    assert not all(ours[1]) and any(ours[1])
    assert any(b > a for a, b in zip(ours[0], ours[0][1:], strict=False))
    # Identical float32 arithmetic on the weights: bit-for-bit equal.
    for a, b in zip(ours[2], ref[2], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_unscale_then_clip_workflow():
    # unscale_ before step (for gradient clipping) must not unscale twice.
    p = nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([p], lr=1.0)
    s = DynamicLossScaler(init_scale=8.0)
    s.scale((p * 2).sum()).backward()
    s.unscale_(opt)
    torch.testing.assert_close(p.grad, torch.full((3,), 2.0))
    assert s.step(opt)
    torch.testing.assert_close(p.detach(), torch.full((3,), -1.0))
    with pytest.raises(RuntimeError, match="already"):
        s.unscale_(opt)
        s.unscale_(opt)


def test_fp32_and_bf16_autocast_loss_curves_agree():
    # bf16 keeps 8 significant bits (relative error ~4e-3 per op): the mixed curve follows the
    # float32 one to within 3% of the initial loss at every step, and both learn (> 10x drop).
    fp32, mixed = train_precision_comparison(steps=100)
    assert curve_gap(fp32, mixed) < 0.03
    assert fp32[-1] < 0.1 * fp32[0] and mixed[-1] < 0.1 * mixed[0]


def test_bad_scaler_configuration_raises():
    with pytest.raises(ValueError, match="growth_factor"):
        DynamicLossScaler(growth_factor=0.5)
    with pytest.raises(ValueError, match="init_scale"):
        DynamicLossScaler(init_scale=0.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp16_autocast_with_scaler_on_gpu():
    fp32, mixed = train_precision_comparison(steps=60, device="cuda", low_dtype=torch.float16)
    assert curve_gap(fp32, mixed) < 0.03
