"""# Tests: gradient descent and its variants

Tests for batch, mini-batch and stochastic gradient descent, with and without momentum.

References: the closed-form batch-GD iterates $(I - \\eta A)^k(w_0 - w^\\star) + w^\\star$, the
least-squares solution from `numpy.linalg.lstsq`, and torch for the gradient. Closed-form
iterates agree to `1e-12` (float64 rounding over 50 contracting steps). Convergence checks use
noiseless ("interpolation") data, where every variant reaches $w^\\star$; `atol = 1e-6` after a
fixed number of epochs is far from both the start (~1) and rounding.
"""

import numpy as np
import pytest
import torch

from masterclass.linalg.gradient_descent import (
    gradient_descent,
    least_squares_grad,
    least_squares_loss,
    minibatches,
)


def _data(seed: int = 0, n: int = 64, d: int = 4, cond: float = 10.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * np.geomspace(1.0, 1.0 / np.sqrt(cond), d)
    w_star = rng.normal(size=d)
    return x, x @ w_star, w_star


def test_least_squares_grad_matches_torch():
    x, y, _ = _data()
    w = np.linspace(-1, 1, 4)
    wt = torch.tensor(w, requires_grad=True)
    loss = ((torch.tensor(x) @ wt - torch.tensor(y)) ** 2).sum() / (2 * len(y))
    loss.backward()
    assert least_squares_loss(w, x, y) == pytest.approx(loss.item(), rel=1e-13)
    np.testing.assert_allclose(least_squares_grad(w, x, y), wt.grad.numpy(), rtol=1e-12)


def test_batch_gradient_descent_matches_closed_form():
    x, y, w_star = _data()
    a = x.T @ x / len(y)
    lr = 1.0 / np.linalg.eigvalsh(a)[-1]
    path = gradient_descent(least_squares_grad, np.zeros(4), x, y, lr=lr, epochs=50)
    step = np.eye(4) - lr * a
    for k in (1, 10, 50):
        expected = np.linalg.matrix_power(step, k) @ (np.zeros(4) - w_star) + w_star
        np.testing.assert_allclose(path[k], expected, atol=1e-12)


@pytest.mark.parametrize(
    ("batch_size", "lr", "epochs"), [(None, 0.5, 2000), (8, 0.2, 300), (1, 0.02, 300)]
)
def test_all_variants_reach_least_squares_solution(batch_size, lr, epochs):
    x, y, _ = _data(1)
    w_ref = np.linalg.lstsq(x, y, rcond=None)[0]
    path = gradient_descent(
        least_squares_grad, np.zeros(4), x, y, lr=lr, epochs=epochs, batch_size=batch_size
    )
    steps_per_epoch = 1 if batch_size is None else -(-64 // batch_size)
    assert len(path) == epochs * steps_per_epoch + 1
    np.testing.assert_allclose(path[-1], w_ref, atol=1e-6)


def test_momentum_and_nesterov_beat_plain_descent_on_ill_conditioned_problem():
    # kappa ~ 1e3: plain GD needs ~ kappa * log(1/tol) steps, momentum ~ sqrt(kappa) * log(1/tol).
    # Each method gets its textbook tuning: GD eta = 1/L; heavy ball eta = 4/(sqrt L + sqrt mu)^2,
    # beta = ((sqrt k - 1)/(sqrt k + 1))^2; Nesterov eta = 1/L, beta = (sqrt k - 1)/(sqrt k + 1).
    x, y, w_star = _data(2, n=200, d=5, cond=1e3)
    mu, big_l = np.linalg.eigvalsh(x.T @ x / len(y))[[0, -1]]
    root_kappa = np.sqrt(big_l / mu)

    def steps_to_converge(lr, **kw):
        path = gradient_descent(least_squares_grad, np.zeros(5), x, y, lr=lr, epochs=3000, **kw)
        errors = np.max(np.abs(path - w_star), axis=1)
        return int(np.argmax(errors < 1e-6)) if np.any(errors < 1e-6) else len(path)

    plain = steps_to_converge(1.0 / big_l)
    heavy = steps_to_converge(
        4.0 / (np.sqrt(big_l) + np.sqrt(mu)) ** 2,
        momentum=((root_kappa - 1) / (root_kappa + 1)) ** 2,
    )
    nesterov = steps_to_converge(
        1.0 / big_l, momentum=(root_kappa - 1) / (root_kappa + 1), nesterov=True
    )
    assert heavy < plain / 5 and nesterov < plain / 5, (plain, heavy, nesterov)


def test_minibatches_partition_the_data():
    batches = list(minibatches(10, 3, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))


def test_bad_input_raises_clear_errors():
    x, y, _ = _data()
    with pytest.raises(ValueError, match="batch_size"):
        gradient_descent(least_squares_grad, np.zeros(4), x, y, lr=0.1, epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="shapes do not agree"):
        gradient_descent(least_squares_grad, np.zeros(3), x, y, lr=0.1, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        gradient_descent(least_squares_grad, np.zeros(4), x, y, lr=0.1, epochs=0)
