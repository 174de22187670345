"""AdamW (a torch.optim adapter over linalg's adamw_step) against torch.optim.AdamW."""

import io

import pytest
import torch
from torch import nn

from masterclass.training.optim import AdamW, param_groups_for_weight_decay


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.LayerNorm(8), nn.Linear(8, 3)).double()


def _run(model: nn.Module, opt: torch.optim.Optimizer, steps: int) -> None:
    g = torch.Generator().manual_seed(1)
    for t in range(steps):
        x = torch.randn(16, 6, generator=g, dtype=torch.float64)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        for group in opt.param_groups:
            group["lr"] = 1e-2 * (0.5 + 0.5 * (t % 7) / 7)  # a changing rate, as a schedule sets it
        opt.step()


def test_matches_torch_adamw_over_150_steps():
    # Reference: torch's single-tensor AdamW in float64 with two parameter groups. The two compute
    # the same formula with a slightly different operation order (e.g. (1-b2)*g*g vs addcmul),
    # so they agree to rounding: 1e-10 relative over 150 steps (float64 eps is 2e-16).
    ours, ref = _model(), _model()
    opt = AdamW(param_groups_for_weight_decay(ours, 0.1), lr=1e-2, betas=(0.85, 0.99), eps=1e-7)
    ref_opt = torch.optim.AdamW(
        param_groups_for_weight_decay(ref, 0.1),
        lr=1e-2,
        betas=(0.85, 0.99),
        eps=1e-7,
        foreach=False,
    )
    _run(ours, opt, 150)
    _run(ref, ref_opt, 150)
    for p, q in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)
    # The decay groups are the matrices and the vectors respectively.
    assert [p.dim() for p in opt.param_groups[0]["params"]] == [2, 2]
    assert all(p.dim() == 1 for p in opt.param_groups[1]["params"])


def test_state_dict_round_trips_with_weights_only():
    model = _model()
    opt = AdamW(model.parameters(), lr=1e-2)
    _run(model, opt, 5)
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    clone = _model()
    clone.load_state_dict(model.state_dict())
    opt2 = AdamW(clone.parameters(), lr=1e-2)
    opt2.load_state_dict(torch.load(buf, weights_only=True))
    _run(model, opt, 5)
    _run(clone, opt2, 5)
    for p, q in zip(model.parameters(), clone.parameters()):
        assert torch.equal(p, q)  # the same arithmetic on the same state: exactly equal


def test_skips_parameters_without_grad_and_rejects_bad_lr():
    a, b = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    opt = AdamW([a, b], lr=0.1)
    a.grad = torch.ones(2)
    opt.step()
    assert torch.equal(b, torch.ones(2)) and not torch.equal(a, torch.ones(2))
    with pytest.raises(ValueError, match="lr"):
        AdamW([a], lr=-1.0)
