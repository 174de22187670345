"""DP-SGD against a per-example loop and plain SGD, the accountant against opacus, and the attacks."""

import itertools
import math
import warnings

import pytest
import torch
from opacus.accountants import RDPAccountant as OpacusRDP
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.nn import functional as F

from masterclass.llm import LanguageModel, LMConfig
from masterclass.safety.privacy import (
    RDPAccountant,
    clip_factors,
    dp_sgd_step,
    exposure,
    loss_threshold_auc,
    noise_for_epsilon,
    per_example_losses,
    per_sample_grads,
    rdp_sampled_gaussian,
    roc_auc,
    sequence_log_perplexity,
)


def _ce(out, y):
    return F.cross_entropy(out, y, reduction="none")


def _mlp(d_in=6, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)


def test_per_sample_grads_equal_a_per_example_loop_in_fp64():
    model = _mlp()
    x, y = torch.randn(7, 6, dtype=torch.float64), torch.randint(0, 3, (7,))
    ours = per_sample_grads(model, _ce, x, y)
    for i in range(7):
        model.zero_grad()
        _ce(model(x[i : i + 1]), y[i : i + 1]).sum().backward()
        for name, p in model.named_parameters():
            # Same fp64 products in a vectorised order: agreement ~1e-15; the spec asks 1e-6.
            torch.testing.assert_close(ours[name][i], p.grad, atol=1e-6, rtol=0)


def test_dp_sgd_with_no_noise_and_no_clipping_is_plain_sgd_bitwise():
    a, b = _mlp(dtype=torch.float32), _mlp(dtype=torch.float32)
    opt = torch.optim.SGD(b.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
        dp_sgd_step(a, _ce, x, y, lr=0.1, noise_multiplier=0.0, max_grad_norm=math.inf)
        opt.zero_grad()
        _ce(b(x), y).mean().backward()
        opt.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_dp_sgd_gradient_equals_clip_sum_noise_by_hand():
    model = _mlp()
    x, y = torch.randn(9, 6, dtype=torch.float64), torch.randint(0, 3, (9,))
    c, sigma, n = 0.3, 0.7, 12.0
    # The reference: a loop over examples, each gradient clipped by its own norm, then summed.
    total = {k: torch.zeros_like(p) for k, p in model.named_parameters()}
    for i in range(9):
        model.zero_grad()
        _ce(model(x[i : i + 1]), y[i : i + 1]).sum().backward()
        norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters()))
        for k, p in model.named_parameters():
            total[k] += p.grad * min(1.0, c / float(norm))
    g = torch.Generator().manual_seed(3)
    noise = {
        k: torch.randn(p.shape, generator=g, dtype=p.dtype) for k, p in model.named_parameters()
    }
    dp_sgd_step(
        model,
        _ce,
        x,
        y,
        lr=0.0,
        noise_multiplier=sigma,
        max_grad_norm=c,
        expected_batch_size=n,
        generator=torch.Generator().manual_seed(3),
    )
    for k, p in model.named_parameters():
        # fp64, a sum of 9 terms in a different order: 1e-12.
        torch.testing.assert_close(
            p.grad, (total[k] + sigma * c * noise[k]) / n, atol=1e-12, rtol=0
        )


def test_clipped_norms_are_at_most_c():
    model = _mlp()
    x, y = torch.randn(20, 6, dtype=torch.float64) * 10, torch.randint(0, 3, (20,))
    grads = per_sample_grads(model, _ce, x, y)
    w = clip_factors(grads, 0.1)
    norms = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in grads.values()))
    assert torch.all(w * norms <= 0.1 + 1e-12) and torch.all(w <= 1)


# A grid that covers integer and fractional orders, tiny and large q, one and many steps.
GRID = list(itertools.product([0.6, 1.1, 4.0], [0.004, 0.1, 0.6], [1, 1000], [1e-5, 1e-3]))


@pytest.mark.parametrize("sigma,q,steps,delta", GRID)
def test_accountant_equals_opacus(sigma, q, steps, delta):
    ours = RDPAccountant()
    ours.step(noise_multiplier=sigma, sample_rate=q, steps=steps)
    ref = OpacusRDP()
    for _ in range(3):  # opacus merges repeated steps into one history entry
        ref.step(noise_multiplier=sigma, sample_rate=q)
    ref.history = [(sigma, q, steps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # opacus warns when the optimum is at the grid's edge
        expected = ref.get_epsilon(delta)
    # Both sum the same convergent series in float64; the spec's 1e-6 holds with margin (seen 2e-10).
    assert ours.epsilon(delta)[0] == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_rdp_limits_and_bad_input():
    assert rdp_sampled_gaussian(1.0, 2.0, 3) == pytest.approx(3 / 8)
    assert rdp_sampled_gaussian(0.0, 2.0, 3) == 0.0
    with pytest.raises(ValueError, match="sigma must be > 0"):
        rdp_sampled_gaussian(0.1, 0.0, 2)
    with pytest.raises(ValueError, match="alpha must be > 1"):
        rdp_sampled_gaussian(0.1, 1.0, 1.0)
    with pytest.raises(ValueError, match="max_grad_norm"):
        clip_factors({"w": torch.ones(2, 3)}, 0.0)
    with pytest.raises(ValueError, match="delta"):
        RDPAccountant().epsilon(0.0)


def test_roc_auc_equals_sklearn():
    g = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(50, generator=g) + 0.5, torch.randn(70, generator=g)
    pos[:5] = neg[:5]  # ties
    labels = [1] * 50 + [0] * 70
    expected = roc_auc_score(labels, torch.cat([pos, neg]).numpy())
    assert roc_auc(pos, neg) == pytest.approx(expected, abs=1e-12)


def _train_mlp(x, y, *, steps, dp_sigma=None, c=1.0, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(x.shape[1], 128), nn.ReLU(), nn.Linear(128, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        if dp_sigma is None:
            opt.zero_grad()
            _ce(model(x), y).mean().backward()
            opt.step()
        else:
            dp_sgd_step(
                model, _ce, x, y, lr=0.5, noise_multiplier=dp_sigma, max_grad_norm=c, generator=g
            )
    return model


@pytest.mark.slow
def test_membership_inference_auc_high_when_overfit_and_low_under_dp():
    # Random labels: the only way to fit the members is to memorise them.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 10, generator=g)
    y = torch.randint(0, 2, (200,), generator=g)
    members, others = slice(0, 100), slice(100, 200)
    overfit = _train_mlp(x[members], y[members], steps=300)
    auc = loss_threshold_auc(
        per_example_losses(overfit, _ce, x[members], y[members]),
        per_example_losses(overfit, _ce, x[others], y[others]),
    )
    assert auc > 0.8
    steps, delta = 100, 1e-5
    sigma = noise_for_epsilon(1.0, 1.0, steps, delta)
    acc = RDPAccountant()
    acc.step(noise_multiplier=sigma, sample_rate=1.0, steps=steps)
    assert acc.epsilon(delta)[0] == pytest.approx(1.0, abs=0.01)
    private = _train_mlp(x[members], y[members], steps=steps, dp_sigma=sigma)
    dp_auc = loss_threshold_auc(
        per_example_losses(private, _ce, x[members], y[members]),
        per_example_losses(private, _ce, x[others], y[others]),
    )
    assert dp_auc <= 0.6


def test_exposure_counts_rank():
    assert exposure(1.0, [0.0, 1.0, 2.0, 3.0]) == pytest.approx(1.0)  # rank 2 of 4
    with pytest.raises(ValueError, match="empty"):
        exposure(1.0, [])


@pytest.mark.slow
def test_a_planted_canary_is_exposed_and_an_unplanted_one_is_not():
    # Digits 0-9 are ids 0-9, id 10 is the prefix marker; a canary is the marker and 3 digits.
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=11, d_model=32, n_layers=1, n_heads=2, max_seq_len=8))
    g = torch.Generator().manual_seed(0)
    canary, other = torch.tensor([3, 1, 4]), torch.tensor([2, 7, 1])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(60):
        batch = torch.randint(0, 10, (32, 4), generator=g)
        batch[:, 0] = 10
        batch[:4, 1:4] = canary  # the canary appears in 1/8 of the sequences
        _, loss = model(batch[:, :-1], batch[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    space = torch.tensor(list(itertools.product(range(10), repeat=3)))  # (1000, 3)
    scores = sequence_log_perplexity(model, torch.tensor([10]), space)
    index = {tuple(s.tolist()): i for i, s in enumerate(space)}
    planted = exposure(float(scores[index[tuple(canary.tolist())]]), scores.tolist())
    unplanted = exposure(float(scores[index[tuple(other.tolist())]]), scores.tolist())
    assert planted > 9.0 and unplanted < 5.0  # max log2(1000) = 9.97
