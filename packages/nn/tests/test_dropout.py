"""Inverted dropout: train/eval behaviour, expectation preserved, clear errors."""

import math

import pytest
import torch

from masterclass.nn.dropout import Dropout, dropout


def test_eval_mode_is_identity():
    m = Dropout(0.3).eval()
    x = torch.randn(5, 7)
    assert torch.equal(m(x), x)


def test_survivors_scaled_and_drop_rate_statistical():
    # n = 200_000 Bernoulli(0.3) draws: the drop fraction has std sqrt(p(1-p)/n) ~ 1e-3, so a
    # 5-sigma band of 5e-3 fails a wrong rate (e.g. keep-prob used as drop-prob) but not chance.
    p, n = 0.3, 200_000
    y = dropout(torch.ones(n), p, training=True, generator=torch.Generator().manual_seed(0))
    kept = y != 0
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    assert abs((~kept).float().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_expectation_preserved():
    # E[y] = x. With x ~ U(1, 2) and n = 200_000, the sample mean of y has std
    # < 2 * sqrt(p/(1-p)) / sqrt(n) ~ 3e-3; check the relative error within 5 sigma.
    g = torch.Generator().manual_seed(1)
    x = 1 + torch.rand(200_000, generator=g, dtype=torch.float64)
    y = dropout(x, 0.5, training=True, generator=g)
    assert abs(y.mean().item() - x.mean().item()) < 5 * 2 * math.sqrt(1.0) / math.sqrt(x.numel())


def test_gradient_uses_the_same_mask():
    # d(sum y)/dx = mask / (1 - p): exactly the forward's scaling of ones.
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1000, dtype=torch.float64, requires_grad=True)
    y = dropout(x, 0.25, generator=g)
    y.sum().backward()
    expected = (y.detach() != 0).double() / 0.75
    torch.testing.assert_close(x.grad, expected)


def test_matches_torch_distribution_of_scaled_values():
    # torch's dropout uses its own RNG stream; compare the set of output values, which must be
    # {0, x/(1-p)} in both.
    x = torch.full((1000,), 2.0)
    for y in (Dropout(0.2).train()(x), torch.nn.functional.dropout(x, 0.2)):
        assert set(y.unique().tolist()) <= {0.0, 2.5}


def test_edge_probabilities():
    x = torch.randn(10)
    assert torch.equal(dropout(x, 0.0), x)
    assert torch.equal(dropout(x, 1.0), torch.zeros(10))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_invalid_probability_raises(p):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Dropout(p)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dropout(torch.ones(2), p)
