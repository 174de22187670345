"""Module/Parameter/optimizer layer against torch.nn and torch.optim, and the MLP it trains."""

import numpy as np
import pytest
import torch

from masterclass.autograd import functional as F
from masterclass.autograd.mlp_classifier import ClassifierConfig, make_spirals, train_classifier
from masterclass.autograd.module import Linear, Parameter, mlp
from masterclass.autograd.optim import SGD, Adam
from masterclass.autograd.tensor import Tensor

# float64 on both sides; a handful of ops per step, so agreement is at the 1e-15 level per step
# and stays below 1e-10 after 20 optimizer steps (no chaotic amplification at these sizes).
TOL = 1e-10


def _torch_twin(net):
    """The same MLP in torch.nn, weights copied through the state dict (same names, same layout)."""
    layers = []
    for m in net._modules.values():
        if isinstance(m, Linear):
            layers.append(torch.nn.Linear(m.in_features, m.out_features, dtype=torch.float64))
        else:
            layers.append(torch.nn.Tanh())
    twin = torch.nn.Sequential(*layers)
    twin.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    return twin


def test_mlp_forward_backward_match_torch():
    rng = np.random.default_rng(0)
    net = mlp([3, 5, 4, 2], rng, activation="tanh")
    twin = _torch_twin(net)
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in twin.named_parameters()]
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 2, 6)
    loss = F.cross_entropy(net(Tensor(x)), y)
    ref = torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(y))
    loss.backward()
    ref.backward()
    assert abs(loss.item() - ref.item()) < TOL
    for (name, p), (_, q) in zip(net.named_parameters(), twin.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), atol=TOL, err_msg=name)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
            lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
        ),
        (
            lambda ps: Adam(ps, lr=0.01, weight_decay=0.01),
            lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.01),
        ),
    ],
)
def test_optimizers_match_torch_optim_over_20_steps(ours, theirs):
    rng = np.random.default_rng(1)
    net = mlp([2, 8, 3], rng, activation="tanh")
    twin = _torch_twin(net)
    opt, opt_t = ours(net.parameters()), theirs(twin.parameters())
    x, y = make_spirals(16, 3, seed=2)
    for _ in range(20):
        opt.zero_grad()
        F.cross_entropy(net(Tensor(x)), y).backward()
        opt.step()
        opt_t.zero_grad()
        torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(y)).backward()
        opt_t.step()
    for (name, p), (_, q) in zip(net.named_parameters(), twin.named_parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), atol=TOL, err_msg=name)


def test_state_dict_round_trip_and_errors():
    net, other = mlp([2, 4, 3], np.random.default_rng(0)), mlp([2, 4, 3], np.random.default_rng(1))
    other.load_state_dict(net.state_dict())
    x = Tensor(np.random.default_rng(2).standard_normal((5, 2)))
    np.testing.assert_array_equal(other(x).data, net(x).data)  # same weights: bitwise equal
    state = net.state_dict()
    state["0.weight"] += 1.0  # a copy: the module is untouched
    assert not np.array_equal(state["0.weight"], net.state_dict()["0.weight"])
    with pytest.raises(KeyError, match=r"missing keys \['2.bias'\]"):
        other.load_state_dict({k: v for k, v in state.items() if k != "2.bias"})
    state["0.bias"] = np.zeros(7)
    with pytest.raises(ValueError, match=r"'0.bias' has shape \(7,\) .* \(4,\)"):
        other.load_state_dict(state)


def test_registration_follows_assignment():
    lin = Linear(2, 3, np.random.default_rng(0))
    assert isinstance(lin.weight, Parameter) and lin.weight.requires_grad
    lin.weight = Parameter(np.zeros((3, 2)))  # re-assignment replaces, does not duplicate
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    with pytest.raises(ValueError, match=r"Linear: input shape \(4, 5\) .*in_features=2"):
        lin(Tensor(np.ones((4, 5))))


def test_mlp_learns_spirals_to_95_percent():
    result = train_classifier(ClassifierConfig())
    # Stated target: >= 95% held-out accuracy with the default config (it reaches ~99-100%).
    assert result.test_accuracy >= 0.95
    assert result.losses[-1] < 0.2 * result.losses[0]
    # Reference point: the same training without hidden layers is a linear model, which the
    # spiral defeats; this shows the accuracy comes from the nonlinearity, not the data.
    linear = train_classifier(ClassifierConfig(hidden=(), epochs=10))
    assert linear.test_accuracy < 0.7
