"""PyTorch's autograd graph, hooks, retain_grad, higher-order gradients and a custom Function,
each checked against torch's own answer or an independent computation."""

import numpy as np
import pytest
import torch

from masterclass.autograd import functional as F
from masterclass.autograd.autograd_mechanics import (
    Softplus,
    clip_hook,
    graph_nodes,
    hessian_vector_product,
    record_gradients,
)
from masterclass.autograd.tensor import Tensor


def test_engine_graph_has_the_same_nodes_as_torch():
    a0, b0 = np.array([0.3, -0.7]), np.array([1.2, 0.4])
    a, b = (torch.tensor(v, requires_grad=True) for v in (a0, b0))
    c = torch.tensor([2.0], dtype=torch.float64)  # no grad: omitted from both graphs
    ref = graph_nodes(torch.tanh(a * b + a.exp() / c).sum())
    x, y = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
    ours = graph_nodes(F.tanh(x * y + x.exp() / Tensor([2.0])).sum())
    assert ours == ref
    assert ref[0] == ("SumBackward0", ["TanhBackward0"])
    assert ref.count(("AccumulateGrad", [])) == 2  # one per leaf that requires grad


def test_hooks_see_the_same_gradient_as_retain_grad():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    h = torch.tanh(x)
    z = h * h
    h.retain_grad()
    store, handles = record_gradients({"h": h, "z": z})
    z.sum().backward()
    for handle in handles:
        handle.remove()
    torch.testing.assert_close(store["h"], h.grad, rtol=0, atol=0)  # the very same tensor values
    torch.testing.assert_close(store["h"], 2 * h.detach(), rtol=1e-15, atol=0)  # d(h^2)/dh
    torch.testing.assert_close(store["z"], torch.ones_like(z), rtol=0, atol=0)
    # Leaves keep .grad; a non-leaf only if retained, and reading it otherwise warns.
    assert x.grad is not None
    with pytest.warns(UserWarning, match="not a leaf"):
        assert z.grad is None


def test_clip_hook_replaces_the_gradient_that_flows_on():
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    y = x * 10.0
    y.register_hook(clip_hook(1.0))
    y.sum().backward()
    # dL/dy = ones(5) has norm sqrt(5) -> rescaled to unit norm, then times dy/dx = 10.
    expected = torch.full((5,), 10.0 / 5**0.5, dtype=torch.float64)
    torch.testing.assert_close(x.grad, expected, rtol=1e-14, atol=0)


def test_hessian_vector_product_matches_torch_functional():
    torch.manual_seed(0)
    w = torch.randn(4, 4, dtype=torch.float64)

    def f(x):
        return (torch.tanh(x @ w) ** 2).sum() + (x**4).sum()

    x, v = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    _, ref = torch.autograd.functional.hvp(f, x, v)
    hessian = torch.autograd.functional.hessian(f, x).reshape(12, 12)
    ours = hessian_vector_product(f, x, v)
    # float64 and the same ops in a different association order: 1e-12 is generous.
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours.reshape(-1), hessian @ v.reshape(-1), rtol=1e-12, atol=1e-12)


def test_custom_softplus_passes_gradcheck_and_matches_torch():
    x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True) * 10
    x = x.detach().requires_grad_(True)
    torch.testing.assert_close(
        Softplus.apply(x), torch.nn.functional.softplus(x), rtol=1e-14, atol=1e-14
    )
    assert torch.autograd.gradcheck(Softplus.apply, (x,))
    assert torch.autograd.gradgradcheck(Softplus.apply, (x,))
    assert torch.isfinite(Softplus.apply(torch.tensor([1000.0, -1000.0]))).all()
