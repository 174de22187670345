"""The debugging helpers against PyTorch's own tools: gradcheck, detect_anomaly, the profilers."""

import numpy as np
import pytest
import torch

from masterclass.autograd import functional as F
from masterclass.autograd.debugging import (
    NonFiniteHunter,
    anomaly_report,
    cprofile_top,
    first_nonfinite_node,
    gradient_check,
    numerical_gradient,
    torch_profile_top,
)
from masterclass.autograd.tensor import Tensor


def test_numerical_gradient_matches_analytic():
    x = np.random.default_rng(0).standard_normal((3, 2))
    g = numerical_gradient(lambda a: float(np.sin(a).sum()), x)
    # Truncation O(eps^2) + rounding O(1e-16/1e-6): 1e-8 is comfortably above both.
    np.testing.assert_allclose(g, np.cos(x), atol=1e-8)


class _WrongSquare(torch.autograd.Function):
    """x**2 with a deliberately wrong backward (3x instead of 2x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3.0 * x * g


def test_gradient_check_agrees_with_torch_gradcheck():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    good = gradient_check(lambda a, b: torch.tanh(a @ b), [x, w])
    assert good.passed and torch.autograd.gradcheck(lambda a, b: torch.tanh(a @ b), (x, w))
    assert max(good.max_abs_error) < 1e-8  # float64 central differences at eps=1e-6
    bad = gradient_check(_WrongSquare.apply, [x])
    assert not bad.passed
    assert not torch.autograd.gradcheck(_WrongSquare.apply, (x,), raise_exception=False)


def test_gradient_check_refuses_float32():
    with pytest.raises(TypeError, match=r"float64, got torch.float32 torch.Size\(\[2\]\)"):
        gradient_check(torch.sin, [torch.ones(2, requires_grad=True)])


class _Log(torch.nn.Module):
    def forward(self, x):
        return torch.log(x)


def test_hunter_reports_first_nonfinite_forward_module():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), _Log(), torch.nn.Linear(4, 1))
    x = torch.randn(8, 3)
    with NonFiniteHunter(net) as hunter:
        net(x)
    # Reference: recompute each stage by hand and find the first with a non-finite value.
    # tanh output has negative entries (random weights, 8 samples), so log gives NaN first at "2".
    h = net[1](net[0](x))
    assert not torch.isfinite(torch.log(h)).all() and torch.isfinite(h).all()
    assert hunter.first.module == "2" and hunter.first.phase == "forward"
    assert hunter.first.n_nan == int(torch.isnan(torch.log(h)).sum())
    assert not net[0]._forward_hooks  # hooks removed on exit


def test_hunter_reports_first_nonfinite_gradient_in_backward_order():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    x = torch.randn(4, 2)
    with NonFiniteHunter(net) as hunter:
        out = net(x)
        # d/d out of sqrt(out - out) at 0 is inf: the first bad gradient is the root output's,
        # then it flows back through "2" (its output *is* the root output) and "0".
        torch.sqrt(out - out.detach()).sum().backward()
    backward = [e for e in hunter.events if e.phase == "backward"]
    assert backward[0].module in {"", "2"} and backward[0].n_inf == 4
    with (
        pytest.raises(FloatingPointError, match=r"module '0' \(shape \(1, 2\)\)"),
        NonFiniteHunter(net, raise_on_first=True),
    ):
        net(torch.tensor([[float("inf"), 0.0]]))


def test_anomaly_report_names_the_backward_function():
    x = torch.zeros(1, requires_grad=True)
    report = anomaly_report(lambda: (torch.sqrt(x) * 0.0).sum())
    assert report is not None and "SqrtBackward" in report
    assert anomaly_report(lambda: (x * 2.0).sum()) is None


def test_profilers_see_the_training_step():
    torch.manual_seed(0)
    net = torch.nn.Linear(8, 4)
    x = torch.randn(16, 8)

    def step():
        for _ in range(3):
            net(x).square().mean().backward()

    names = [row[0] for row in cprofile_top(step, top=30)]
    assert any(name.startswith("step ") for name in names)
    ops = {name: calls for name, calls, _ in torch_profile_top(step, top=100)}
    # nn.Linear on a 2-D input is one aten::linear (-> addmm) per call: 3 forward calls.
    assert ops.get("aten::linear") == 3


def test_first_nonfinite_node_on_the_engine_matches_torch_forward_scan():
    x0 = np.array([1.0, 3.0])
    x = Tensor(x0, requires_grad=True)
    # log(x - 2) is NaN at x = 1; everything downstream (mul, tanh, sum) inherits the NaN.
    with np.errstate(invalid="ignore"):
        out = F.tanh((x - 2.0).log() * 2.0).sum()
    ours = first_nonfinite_node(out)
    assert first_nonfinite_node((x * 2.0).sum()) is None
    # Reference: the same computation in torch, intermediates scanned in forward order.
    xt = torch.tensor(x0, requires_grad=True)
    steps = [xt - 2.0]
    for fn in (torch.log, lambda t: t * 2.0, torch.tanh, torch.sum):
        steps.append(fn(steps[-1]))
    first = next(t for t in steps if not torch.isfinite(t).all())
    assert ours == (type(first.grad_fn).__name__, tuple(first.shape)) == ("LogBackward0", (2,))
    # Anomaly mode checks *backward* outputs, so it blames the last op the NaN passed through.
    report = anomaly_report(lambda: torch.tanh(torch.log(xt - 2.0) * 2.0).sum())
    assert report is not None and "TanhBackward0" in report
