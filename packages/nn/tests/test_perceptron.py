"""The perceptron: convergence within Novikoff's bound on separable data, failure on XOR."""

import pytest
import torch

from masterclass.nn.perceptron import perceptron_predict, train_perceptron


def _separable(n=200, seed=0):
    # Points labelled by a known unit vector w*, with a margin gap of 0.1 carved out.
    g = torch.Generator().manual_seed(seed)
    w_star = torch.tensor([0.6, -0.8], dtype=torch.float64)
    x = torch.rand(n, 2, generator=g, dtype=torch.float64) * 2 - 1
    s = x @ w_star
    x = x[s.abs() > 0.1]
    return x, torch.sign(x @ w_star), w_star


def test_converges_on_separable_data_within_novikoff_bound():
    x, y, w_star = _separable()
    res = train_perceptron(x, y)
    assert res.converged
    # The learned rule separates the training set exactly (the reference is the true labels).
    assert torch.equal(perceptron_predict(x, res.weight, res.bias), y)
    # Novikoff's theorem (no bias, since w* passes through the origin; the bias is absorbed as a
    # constant feature 1, so R grows accordingly): mistakes <= (R / gamma)^2.
    R = torch.sqrt((x * x).sum(1) + 1).max().item()
    gamma = (y * (x @ w_star)).min().item() / w_star.norm().item()
    assert res.total_mistakes <= (R / gamma) ** 2


def test_fails_on_xor():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([-1.0, -1.0, 1.0, 1.0], dtype=torch.float64)
    res = train_perceptron(x, y, max_epochs=50)
    assert not res.converged
    # Every epoch keeps making mistakes; no linear rule gets all four right.
    assert min(res.mistakes_per_epoch) > 0
    assert not torch.equal(perceptron_predict(x, res.weight, res.bias), y)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        train_perceptron(torch.zeros(3, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="-1 or \\+1"):
        train_perceptron(torch.zeros(3, 2), torch.tensor([0.0, 1.0, 1.0]))
