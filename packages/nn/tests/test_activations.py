"""Activations against `torch.nn.functional`, derivatives against autograd, in float64."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.nn import activations as A

# float64 on a grid that covers the kinks, the saturated tails and values near zero.
X = torch.cat(
    [
        torch.linspace(-12, 12, 401, dtype=torch.float64),
        torch.tensor([0.0, 1e-8, -1e-8], dtype=torch.float64),
    ]
)

REFERENCES = {
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
    "elu": F.elu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "softplus": F.softplus,
    "mish": F.mish,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_matches_torch(name):
    # Same formulas in float64: agreement to a few ulps (1e-12 relative).
    torch.testing.assert_close(A.ACTIVATIONS[name](X), REFERENCES[name](X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_derivative_matches_autograd_of_torch(name):
    # Our closed-form derivative vs autograd through torch's own kernel; float64, 1e-10.
    x = X.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(REFERENCES[name](x).sum(), x)
    torch.testing.assert_close(A.DERIVATIVES[name](X), g, rtol=1e-10, atol=1e-10)


def test_autograd_through_our_forward_matches_torch():
    # The forward functions are plain tensor ops, so autograd must differentiate them too.
    for name in REFERENCES:
        x = X.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(A.ACTIVATIONS[name](x).sum(), x)
        torch.testing.assert_close(g, A.DERIVATIVES[name](X), rtol=1e-10, atol=1e-10)


def test_softplus_is_stable_for_large_inputs():
    # Naive log(1 + exp(x)) is inf at x = 1000 in float32; the stable form returns x.
    x = torch.tensor([1000.0, -1000.0])
    torch.testing.assert_close(A.softplus(x), torch.tensor([1000.0, 0.0]))


def test_bad_names_raise():
    with pytest.raises(ValueError, match="approximate"):
        A.gelu(X, approximate="fast")
    with pytest.raises(ValueError, match="unknown activation"):
        A.get_activation("swishy")


def test_sigmoid_and_tanh_are_stable_in_float32_tails():
    # Written from their formulas, they must not overflow where e^{-x} does (float32 inf at
    # x < -89): exact 0/1/+-1 in the tails, torch's kernel within float32 ulps (1e-6) elsewhere.
    x = torch.tensor([-1000.0, -100.0, -1e-7, 0.0, 1e-7, 3.0, 100.0, 1000.0])
    for ours, ref in [(A.sigmoid, torch.sigmoid), (A.tanh, torch.tanh)]:
        y = ours(x)
        assert torch.isfinite(y).all()
        torch.testing.assert_close(y, ref(x), rtol=1e-6, atol=1e-7)
    assert A.sigmoid(x)[0] == 0.0 and A.sigmoid(x)[-1] == 1.0 and A.tanh(x)[0] == -1.0
