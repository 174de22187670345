"""nn.Module patterns: registration, buffers, train/eval, state_dict round trips, and moving
weights between our engine and torch.nn."""

import numpy as np
import pytest
import torch
from torch import nn

from masterclass.autograd.module import mlp
from masterclass.autograd.nn_patterns import (
    TorchMLP,
    count_parameters,
    engine_to_torch,
    load_state_dict,
    save_state_dict,
    torch_to_engine,
)
from masterclass.autograd.tensor import Tensor


def test_registration_parameters_and_buffers():
    model = TorchMLP([3, 5, 2])
    names = [n for n, _ in model.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert count_parameters(model) == (3 * 5 + 5 + 5 * 2 + 2,) * 2
    assert set(model.state_dict()) == set(names) | {"input_mean", "input_std"}  # buffers saved

    class Unregistered(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2)]  # plain list: invisible
            self.scale = torch.ones(2)  # plain tensor: invisible

    assert list(Unregistered().parameters()) == [] and Unregistered().state_dict() == {}
    model.layers[0].weight.requires_grad_(False)
    assert count_parameters(model) == (5 + 10 + 2, 3 * 5 + 5 + 10 + 2)


def test_train_eval_switches_dropout():
    torch.manual_seed(0)
    model = TorchMLP([4, 16, 2], dropout=0.5)
    x = torch.randn(8, 4)
    assert model.training and model.dropout.training
    assert not torch.equal(model(x), model(x))  # dropout masks differ between calls
    model.eval()
    assert not model.dropout.training
    assert torch.equal(model(x), model(x))


def test_state_dict_round_trip_through_a_file(tmp_path):
    torch.manual_seed(0)
    model = TorchMLP([3, 4, 2])
    model.input_mean.fill_(0.5)  # buffers must survive the round trip too
    path = tmp_path / "mlp.pt"
    save_state_dict(model, path)
    fresh = load_state_dict(TorchMLP([3, 4, 2]), path)
    x = torch.randn(5, 3)
    assert torch.equal(fresh(x), model(x))  # identical weights: bitwise identical outputs
    assert [p.name for p in tmp_path.iterdir()] == ["mlp.pt"]  # no temporary file left behind
    with pytest.raises(RuntimeError, match=r"size mismatch for layers\.0\.weight"):
        load_state_dict(TorchMLP([3, 7, 2]), path)


def test_engine_and_torch_share_state_dicts():
    rng = np.random.default_rng(0)
    ours = mlp([3, 6, 2], rng, activation="tanh")
    twin = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    twin.load_state_dict(engine_to_torch(ours))
    x = rng.standard_normal((4, 3))
    # float64 on both sides; same ops, so agreement to a few ulps.
    np.testing.assert_allclose(
        ours(Tensor(x)).data, twin(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12
    )
    torch.nn.init.zeros_(twin[0].bias)
    ours.load_state_dict(torch_to_engine(twin.state_dict()))
    np.testing.assert_array_equal(ours[0].bias.data, np.zeros(6))
