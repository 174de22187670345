"""The hand-written MLP backward against torch autograd on nn.Sequential with copied weights."""

import pytest
import torch
from torch import nn

from masterclass.nn.mlp import MLP, mse_loss_and_grad, train_xor

TORCH_ACT = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
}


def _torch_copy(net: MLP) -> nn.Sequential:
    layers = []
    for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        lin = nn.Linear(w.shape[1], w.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        layers.append(lin)
        if i < len(net.weights) - 1:
            layers.append(TORCH_ACT[net.activation]())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("activation", sorted(TORCH_ACT))
def test_backward_matches_autograd(activation):
    # float64 and the same operations: gradients agree to ~1e-15; 1e-10 is a safe bound that a
    # missing phi' or transposed weight would violate by orders of magnitude.
    net = MLP((5, 7, 6, 3), activation=activation, seed=1)
    ref = _torch_copy(net)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 5, generator=g, dtype=torch.float64)
    y = torch.randn(4, 3, generator=g, dtype=torch.float64)
    out, cache = net.forward(x)
    loss, grad = mse_loss_and_grad(out, y)
    gw, gb, gx = net.backward(grad, cache)

    xr = x.clone().requires_grad_(True)
    out_ref = ref(xr)
    loss_ref = nn.functional.mse_loss(out_ref, y)
    loss_ref.backward()
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-12, atol=1e-12)
    lins = [m for m in ref if isinstance(m, nn.Linear)]
    for i, lin in enumerate(lins):
        torch.testing.assert_close(gw[i], lin.weight.grad, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(gb[i], lin.bias.grad, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gx, xr.grad, rtol=1e-10, atol=1e-10)


def test_learns_xor():
    # The problem the perceptron cannot solve: a hidden layer reaches near-zero loss.
    net, losses = train_xor()
    assert losses[-1] < 1e-2 < losses[0]
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    out, _ = net.forward(x)
    assert torch.equal((out.squeeze(1) > 0.5).long(), torch.tensor([0, 1, 1, 0]))


def test_bad_configurations_raise():
    with pytest.raises(ValueError, match="sizes"):
        MLP((3,))
    with pytest.raises(ValueError, match="unknown activation"):
        MLP((3, 2), activation="nope")
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        MLP((3, 2)).forward(torch.zeros(4, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="shape mismatch"):
        mse_loss_and_grad(torch.zeros(2, 1), torch.zeros(2))
