"""# Tests: backpropagation by hand

Hand-written backpropagation against torch autograd and central differences.

Both the hand-derived gradients and torch's autograd evaluate the same float64 expressions in
slightly different orders: `rtol = 1e-12`. Central differences have ~1e-9 error: `atol = 1e-7`.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.linalg import backprop as bp
from masterclass.linalg.calculus import numerical_gradient


@settings(max_examples=40, deadline=None)
@given(*(st.floats(-3, 3, allow_subnormal=False) for _ in range(3)))
def test_scalar_graph_matches_torch(a, b, c):
    f, grads = bp.scalar_graph(a, b, c)
    ta, tb, tc = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (a, b, c))
    tf = (ta * tb + tc) * torch.tanh(ta)
    tf.backward()
    assert f == pytest.approx(tf.item(), rel=1e-12, abs=1e-15)
    for name, t in zip("abc", (ta, tb, tc)):
        assert grads[name] == pytest.approx(t.grad.item(), rel=1e-12, abs=1e-15)


def _net(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = bp.MLPParams.init(d=4, hidden=6, classes=3, seed=seed)
    x = rng.normal(size=(5, 4))
    y = rng.integers(0, 3, size=5)
    return params, x, y


def test_mlp_gradients_match_torch():
    params, x, y = _net()
    loss, grads = bp.mlp_loss_and_grads(params, x, y)
    t = {k: torch.tensor(getattr(params, k), requires_grad=True) for k in ("w1", "b1", "w2", "b2")}
    z = torch.tanh(torch.tensor(x) @ t["w1"] + t["b1"]) @ t["w2"] + t["b2"]
    ref = F.cross_entropy(z, torch.tensor(y))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    for k, tensor in t.items():
        np.testing.assert_allclose(getattr(grads, k), tensor.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_mlp_gradients_match_finite_differences():
    params, x, y = _net(1)
    _, grads = bp.mlp_loss_and_grads(params, x, y)
    flat_w1 = params.w1.ravel()

    def loss_of_w1(w):
        p = bp.MLPParams(w.reshape(params.w1.shape), params.b1, params.w2, params.b2)
        return bp.mlp_loss_and_grads(p, x, y)[0]

    np.testing.assert_allclose(numerical_gradient(loss_of_w1, flat_w1), grads.w1.ravel(), atol=1e-7)


def test_bad_input_raises_clear_errors():
    params, x, y = _net()
    with pytest.raises(ValueError, match="features"):
        bp.mlp_loss_and_grads(params, x[:, :3], y)
    with pytest.raises(ValueError, match="targets"):
        bp.mlp_loss_and_grads(params, x, y[:2])
    with pytest.raises(ValueError, match="finite"):
        bp.scalar_graph(float("nan"), 1.0, 1.0)
