"""Every engine op replayed in torch.autograd (float64, forward and backward) over random shapes,
plus central-difference checks, higher-order gradients and the error messages."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.autograd import functional as F
from masterclass.autograd.debugging import numerical_gradient
from masterclass.autograd.tensor import Tensor, cat, grad, no_grad, stack

# float64 on both sides: the two engines do the same arithmetic in a possibly different order,
# so results agree to a few ulps times the depth of the computation; 1e-10 leaves a wide margin
# while still catching any wrong rule (those are off by O(1)).
RTOL, ATOL = 1e-10, 1e-10

dims = st.integers(1, 4)
shapes = st.lists(dims, min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**31 - 1)
SETTINGS = settings(max_examples=10, deadline=None)


def _broadcastable_pair(draw):
    shape = draw(shapes)
    # The second operand drops leading dims and turns some dims into 1: every NumPy broadcast case.
    keep = draw(st.integers(0, len(shape)))
    other = tuple(n if draw(st.booleans()) else 1 for n in shape[len(shape) - keep :])
    return (shape, other) if draw(st.booleans()) else (other, shape)


def _inputs(shapes_, seed, positive=()):
    rng = np.random.default_rng(seed)
    arrays = []
    for i, s in enumerate(shapes_):
        a = rng.standard_normal(s)
        arrays.append(np.abs(a) + 0.5 if i in positive else a)
    return arrays


def _compare(ours, theirs, arrays, seed):
    """Run `ours` on engine tensors and `theirs` on torch tensors; compare value and VJP."""
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    # A random upstream gradient exercises the full VJP, not just the all-ones direction.
    w = np.random.default_rng(seed + 1).standard_normal(out.shape)
    (out * Tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts, strict=True):
        assert x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=RTOL, atol=ATOL)


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, ()),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, ()),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, ()),
    "div": (lambda a, b: a / b, lambda a, b: a / b, (1,)),
    "pow": (lambda a, b: a**b, lambda a, b: a**b, (0,)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(data=st.data(), seed=seeds)
def test_binary_ops_match_torch(name, data, seed):
    ours, theirs, positive = BINARY[name]
    shape_a, shape_b = data.draw(st.composite(lambda d: _broadcastable_pair(d))())
    _compare(ours, theirs, _inputs([shape_a, shape_b], seed, positive), seed)


UNARY = {
    "neg": (lambda x: -x, lambda x: -x, False),
    "exp": (lambda x: x.exp(), torch.exp, False),
    "log": (lambda x: x.log(), torch.log, True),
    "pow_scalar": (lambda x: x**3.0, lambda x: x**3.0, False),
    "rpow": (lambda x: 2.0**x, lambda x: 2.0**x, False),
    "relu": (F.relu, torch.relu, False),
    "tanh": (F.tanh, torch.tanh, False),
    "sigmoid": (F.sigmoid, torch.sigmoid, False),
    "softmax": (F.softmax, lambda x: torch.softmax(x, dim=-1), False),
    "log_softmax": (F.log_softmax, lambda x: torch.log_softmax(x, dim=-1), False),
    "softmax_first": (lambda x: F.softmax(x, dim=0), lambda x: torch.softmax(x, dim=0), False),
    "sum_tuple_keepdim": (
        lambda x: x.sum(dim=(0,), keepdim=True),
        lambda x: x.sum(dim=(0,), keepdim=True),
        False,
    ),
    "sum_all": (lambda x: x.sum(), torch.sum, False),
    "mean_all": (lambda x: x.mean(), torch.mean, False),
    "max_all": (lambda x: x.max(), torch.amax, False),
    "sum_last_keepdim": (
        lambda x: x.sum(dim=-1, keepdim=True),
        lambda x: x.sum(dim=-1, keepdim=True),
        False,
    ),
    "mean_first": (lambda x: x.mean(dim=0), lambda x: x.mean(dim=0), False),
    "max_last": (lambda x: x.max(dim=-1), lambda x: torch.amax(x, dim=-1), False),
    "max_first_keepdim": (
        lambda x: x.max(dim=0, keepdim=True),
        lambda x: torch.amax(x, dim=0, keepdim=True),
        False,
    ),
    "reshape_flat": (lambda x: x.reshape(-1), lambda x: x.reshape(-1), False),
    "transpose": (lambda x: x.transpose(0, -1), lambda x: x.transpose(0, -1), False),
    "slice": (lambda x: x[::2], lambda x: x[::2], False),
    "index_repeat": (lambda x: x[[0, 0, -1]], lambda x: x[[0, 0, -1]], False),
    "cat_self": (lambda x: cat([x, x * 2.0], dim=-1), lambda x: torch.cat([x, x * 2.0], -1), False),
    "stack_self": (lambda x: stack([x, -x], dim=0), lambda x: torch.stack([x, -x], 0), False),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_unary_ops_match_torch(name, shape, seed):
    ours, theirs, positive = UNARY[name]
    _compare(ours, theirs, _inputs([shape], seed, (0,) if positive else ()), seed)


@SETTINGS
@given(
    batch=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    n=dims,
    k=dims,
    m=dims,
    broadcast_a=st.booleans(),
    seed=seeds,
)
def test_batched_matmul_matches_torch(batch, n, k, m, broadcast_a, seed):
    # One side without batch dims exercises the unbroadcast of the batch gradient.
    shape_a = (n, k) if broadcast_a else (*batch, n, k)
    _compare(lambda a, b: a @ b, torch.matmul, _inputs([shape_a, (*batch, k, m)], seed), seed)


@pytest.mark.parametrize("shapes_", [((3,), (3, 2)), ((2, 3), (3,)), ((4,), (4,))])
def test_matmul_vector_cases_match_torch(shapes_):
    _compare(lambda a, b: a @ b, torch.matmul, _inputs(shapes_, 0), 0)


@SETTINGS
@given(b=dims, v=st.integers(2, 5), seed=seeds)
def test_cross_entropy_matches_torch(b, v, seed):
    targets = np.random.default_rng(seed).integers(0, v, size=b)
    _compare(
        lambda x: F.cross_entropy(x, targets),
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor(targets)),
        _inputs([(b, v)], seed),
        seed,
    )


def test_log_softmax_is_stable_for_huge_logits():
    x = Tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    t = torch.tensor(x.data, requires_grad=True)
    out, ref = F.log_softmax(x), torch.log_softmax(t, -1)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=RTOL)
    assert np.isfinite(out.data).all()


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_composite_gradient_matches_central_differences(shape, seed):
    (a,) = _inputs([shape], seed)

    def f(x: Tensor) -> Tensor:
        # Kept O(1) in size: the rounding error of central differences scales with |f|.
        return (F.tanh(x) * F.sigmoid(x * 2.0) + (x * 0.3).exp() * 0.1).sum() + F.log_softmax(
            x.reshape(-1)
        )[0]

    x = Tensor(a, requires_grad=True)
    f(x).backward()
    numeric = numerical_gradient(lambda arr: f(Tensor(arr)).item(), a)
    # Central differences have truncation error O(eps^2) ~ 1e-12 and rounding error
    # O(|f| ulp / eps) ~ 1e-9 at eps = 1e-6 with |f| <~ 50, so 1e-7 is safely above both.
    np.testing.assert_allclose(x.grad.data, numeric, rtol=1e-7, atol=1e-7)


def test_gradients_accumulate_and_zero_grad_resets():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3.0 + 2.0 * x.data)  # exact in float64
    x.zero_grad()
    assert x.grad is None


def test_shared_subexpression_sums_both_paths():
    # y = x*x used twice: the topological order must wait for both uses before propagating.
    xt = torch.tensor([0.5, -1.5], requires_grad=True)
    x = Tensor(xt.detach().numpy(), requires_grad=True)
    y, yt = x * x, xt * xt
    (y * y + y).sum().backward()
    (yt * yt + yt).sum().backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=RTOL)


def test_requires_grad_propagation_no_grad_and_detach():
    x = Tensor([1.0], requires_grad=True)
    c = Tensor([2.0])
    assert (x * c).requires_grad and not (c * c).requires_grad
    with no_grad():
        y = x * c
    assert not y.requires_grad and y.grad_fn is None
    assert not x.detach().requires_grad
    assert (x * c).grad_fn == "MulBackward0"


def test_retain_grad_on_intermediate_matches_torch():
    xt = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    ht = torch.tanh(xt)
    ht.retain_grad()
    (ht * ht).sum().backward()
    x = Tensor(xt.detach().numpy(), requires_grad=True)
    h = F.tanh(x)
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, ht.grad.numpy(), rtol=RTOL)


@SETTINGS
@given(n=dims, seed=seeds)
def test_hessian_vector_product_matches_torch(n, seed):
    a, v, w = _inputs([(n,), (n,), (n, n)], seed)

    def f(x, tanh, softmax):
        return (tanh(x @ w) * softmax(x)).sum() + (x**3.0).sum()

    x = Tensor(a, requires_grad=True)
    (g,) = grad(f(x, F.tanh, F.softmax), [x], create_graph=True)
    (hv,) = grad((g * Tensor(v)).sum(), [x])
    xt = torch.tensor(a, requires_grad=True)
    w = torch.tensor(w)
    (gt,) = torch.autograd.grad(
        f(xt, torch.tanh, lambda z: torch.softmax(z, -1)), xt, create_graph=True
    )
    (hvt,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), xt)
    np.testing.assert_allclose(hv.data, hvt.numpy(), rtol=1e-9, atol=1e-9)


def test_errors_name_the_op_and_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4,)))
    with pytest.raises(ValueError, match=r"add: cannot broadcast shapes \(2, 3\) and \(4,\)"):
        a + b
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ: \(2, 3\) @ \(4,"):
        a @ Tensor(np.ones((4, 2)))
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"backward: .*scalar.*\(2, 3\)"):
        y.backward()
    with pytest.raises(TypeError, match=r"mul: dtype mismatch float32 \(2, 3\) vs float64"):
        Tensor(np.ones((2, 3)), dtype=np.float32) * Tensor(np.ones(3))
    with pytest.raises(TypeError, match=r"int64 with shape \(2,\)"):
        Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(ValueError, match=r"cross_entropy: targets shape \(3,\)"):
        F.cross_entropy(Tensor(np.ones((2, 4))), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape \(2, 3\)"):
        a.reshape(4, 2)


def test_max_splits_gradient_between_ties_like_torch_amax():
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    _compare(lambda x: x.max(dim=1), lambda x: torch.amax(x, dim=1), [data], 0)
    _compare(lambda x: x.max(), torch.amax, [data], 0)


def test_float32_stays_float32_and_matches_torch():
    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((3, 5))
    w0 = w0.astype(np.float32)
    y = np.array([0, 4, 2, 1])
    x, w = Tensor(x0, requires_grad=True), Tensor(w0, requires_grad=True)
    loss = F.cross_entropy(F.relu(x @ w) * 0.5 + F.sigmoid(x).sum(dim=1, keepdim=True), y)
    loss.backward()
    xt, wt = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(
        torch.relu(xt @ wt) * 0.5 + torch.sigmoid(xt).sum(1, keepdim=True), torch.tensor(y)
    )
    ref.backward()
    assert loss.dtype == x.grad.dtype == w.grad.dtype == np.float32
    # float32 (eps ~ 1.2e-7) through a dozen ops: 1e-5 absolute is a few hundred ulps of O(1) values.
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-5)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), atol=1e-5)
