"""Initializers against torch.nn.init with the same generator; statistics through depth."""

import math

import pytest
import torch

from masterclass.nn import init as I


def _same(ours_fn, ref_fn, shape, dtype=torch.float32, **kw):
    a = ours_fn(torch.empty(shape, dtype=dtype), generator=torch.Generator().manual_seed(3), **kw)
    b = ref_fn(torch.empty(shape, dtype=dtype), generator=torch.Generator().manual_seed(3), **kw)
    return a, b


SHAPES = [(30, 20), (8, 4, 3, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_xavier_matches_torch(shape):
    # Same generator and draw order: the tensors agree up to the last-bit rounding of the bound
    # computed in a different order (float32, rtol 1e-6).
    for ours, ref in (
        (I.xavier_uniform_, torch.nn.init.xavier_uniform_),
        (I.xavier_normal_, torch.nn.init.xavier_normal_),
    ):
        a, b = _same(ours, ref, shape, gain=1.3)
        torch.testing.assert_close(a, b, rtol=1e-6, atol=0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity", ["relu", "leaky_relu", "tanh", "linear"])
def test_kaiming_matches_torch(shape, mode, nonlinearity):
    for ours, ref in (
        (I.kaiming_uniform_, torch.nn.init.kaiming_uniform_),
        (I.kaiming_normal_, torch.nn.init.kaiming_normal_),
    ):
        a, b = _same(ours, ref, shape, a=0.2, mode=mode, nonlinearity=nonlinearity)
        torch.testing.assert_close(a, b, rtol=1e-6, atol=0)


@pytest.mark.parametrize("shape", [(20, 12), (12, 20), (6, 2, 3, 3)])
def test_orthogonal_matches_torch_and_is_orthogonal(shape):
    # float64: our Gram-Schmidt Q and torch's Householder Q (sign-fixed) are the same matrix up
    # to rounding, ~1e-14 for these sizes; 1e-10.
    a, b = _same(I.orthogonal_, torch.nn.init.orthogonal_, shape, dtype=torch.float64, gain=2.0)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    w = a.reshape(shape[0], -1) / 2.0
    small = min(w.shape)
    gram = w @ w.T if w.shape[0] == small else w.T @ w
    torch.testing.assert_close(gram, torch.eye(small, dtype=torch.float64), rtol=0, atol=1e-12)


def test_gains_match_torch():
    for nl, p in [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ]:
        assert I.calculate_gain(nl, p) == pytest.approx(
            torch.nn.init.calculate_gain(nl, p), rel=1e-15
        )


def test_kaiming_variance_statistically():
    # 512 x 1024 draws: the sample variance is within ~3% (5 sigma of sqrt(2/n) relative error)
    # of the target g^2 / fan_in = 2 / 1024.
    w = I.kaiming_normal_(
        torch.empty(512, 1024, dtype=torch.float64),
        nonlinearity="relu",
        generator=torch.Generator().manual_seed(0),
    )
    n = w.numel()
    assert abs(w.var().item() / (2 / 1024) - 1) < 5 * math.sqrt(2 / n)


def test_activation_statistics_through_depth():
    # The point of the chapter: through 30 ReLU layers, He init keeps the activation scale within
    # a factor ~2 of the first layer, while Xavier (gain 1) halves the second moment per layer and
    # a naive N(0, 0.01) init collapses immediately.
    kaiming = I.activation_stds("kaiming_normal", "relu", depth=30, width=128, batch=128)
    xavier = I.activation_stds("xavier_uniform", "relu", depth=30, width=128, batch=128)
    naive = I.activation_stds("normal(0, 0.01)", "relu", depth=30, width=128, batch=128)
    assert 0.4 < kaiming[-1] / kaiming[0] < 2.5
    assert xavier[-1] / xavier[0] < 1e-3
    assert naive[-1] < 1e-20


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="at least 2 dims"):
        I.xavier_uniform_(torch.empty(5))
    with pytest.raises(ValueError, match="mode"):
        I.kaiming_normal_(torch.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported"):
        I.calculate_gain("swish")
