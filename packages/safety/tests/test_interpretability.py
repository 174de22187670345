"""Attributions against captum; the residual-stream tools against the model's own forward pass."""

import pytest
import torch
from captum.attr import IntegratedGradients, Saliency
from sklearn.linear_model import LogisticRegression
from torch import nn

from masterclass.llm import LanguageModel, LMConfig
from masterclass.safety.interpretability import (
    completeness_error,
    direct_logit_attribution,
    fit_linear_probe,
    integrated_gradients,
    logit_difference,
    logit_lens,
    patch_residual,
    probe_accuracy,
    residual_stream,
    saliency,
)


def _net(dtype=torch.float64):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 16), nn.GELU(), nn.Linear(16, 3)
    )


def _perturbed_lm(**overrides):
    # Random norms and larger weights than the init, so that a wrong formula is visible.
    torch.manual_seed(0)
    cfg = dict(vocab_size=37, d_model=32, n_layers=3, n_heads=4, max_seq_len=16)
    model = LanguageModel(LMConfig(**{**cfg, **overrides})).double().eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.2
            p.copy_(1.0 + noise if "norm" in name else noise)
    return model


def test_saliency_equals_captum():
    net = _net().double()
    x = torch.randn(5, 8, dtype=torch.float64)
    expected = Saliency(net).attribute(x, target=2, abs=False)
    torch.testing.assert_close(saliency(net, x, 2), expected, atol=1e-12, rtol=0)


# captum's "riemann_trapezoid" uses steps of 1/n (halved at both ends) on n nodes spaced 1/(n-1),
# weights that sum to (n-1)/n; ours sum to 1. So only Gauss-Legendre is compared with captum.
@pytest.mark.parametrize("method", ["gausslegendre"])
def test_integrated_gradients_equal_captum(method):
    net = _net().double()
    x, base = torch.randn(4, 8, dtype=torch.float64), torch.randn(1, 8, dtype=torch.float64) * 0.1
    ours = integrated_gradients(net, x, base, target=1, n_steps=32, method=method)
    ref = IntegratedGradients(net).attribute(
        x, baselines=base.expand_as(x), target=1, n_steps=32, method=method
    )
    # Same nodes and weights in fp64; the spec's 1e-5 holds with room (seen ~1e-16).
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)


def test_integrated_gradients_are_complete_in_float32():
    net = _net().float()
    x = torch.randn(6, 8)
    attr = integrated_gradients(net, x, target=0, n_steps=50)
    # 50-point Gauss-Legendre on a smooth net: the quadrature error is far below float32 noise.
    assert completeness_error(net, x, attr, target=0).max() < 1e-3
    # The trapezoid rule's error falls as 1/n^2: 200 nodes suffice here.
    trap = integrated_gradients(net, x, target=0, n_steps=200, method="riemann_trapezoid")
    assert completeness_error(net, x, trap, target=0).max() < 1e-3


def test_integrated_gradients_bad_input():
    with pytest.raises(ValueError, match="method must be"):
        integrated_gradients(_net(), torch.zeros(1, 8), target=0, method="simpson")
    with pytest.raises(ValueError, match="n_steps"):
        integrated_gradients(_net(), torch.zeros(1, 8), target=0, n_steps=1)


@pytest.mark.parametrize(
    "overrides", [dict(), dict(norm="layernorm", bias=True, pos="learned", ffn="gelu")]
)
def test_direct_logit_attribution_sums_to_the_logits(overrides):
    model = _perturbed_lm(**overrides)
    idx = torch.randint(0, 37, (2, 9))
    names, contributions, logits = direct_logit_attribution(model, idx)
    assert len(names) == contributions.shape[0]
    # fp64 sums of ~8 parts through one linear map: exact up to rounding; the spec asks 1e-5.
    torch.testing.assert_close(contributions.sum(0), logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(logits, model(idx))


def test_logit_lens_ends_at_the_models_logits():
    model = _perturbed_lm()
    idx = torch.randint(0, 37, (2, 9))
    lens = logit_lens(model, idx)
    assert lens.shape == (4, 2, 9, 37)
    torch.testing.assert_close(lens[-1], model(idx), atol=1e-10, rtol=0)
    # The stream after block l equals the true block output: patch-free sanity.
    assert len(residual_stream(model, idx)) == 4


@pytest.mark.parametrize("layer", [0, 2])
def test_patching_the_whole_clean_stream_restores_clean_logits_exactly(layer):
    model = _perturbed_lm()
    clean, corrupt = torch.randint(0, 37, (2, 9)), torch.randint(0, 37, (2, 9))
    with torch.no_grad():
        expected_clean, expected_corrupt = model(clean), model(corrupt)
    assert torch.equal(patch_residual(model, clean, corrupt, layer), expected_clean)
    assert torch.equal(patch_residual(model, clean, corrupt, layer, positions=[]), expected_corrupt)
    # Patching only the last position of the last layer moves only the last position.
    last = patch_residual(model, clean, corrupt, 2, positions=[8])
    torch.testing.assert_close(last[:, 8], expected_clean[:, 8])
    torch.testing.assert_close(last[:, :8], expected_corrupt[:, :8])
    assert logit_difference(last, 1, 2).shape == (2,)


def test_patching_bad_input():
    model = _perturbed_lm()
    with pytest.raises(ValueError, match="one shape"):
        patch_residual(
            model, torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long), 0
        )
    with pytest.raises(ValueError, match="layer must be"):
        patch_residual(
            model, torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long), 5
        )
    post = LanguageModel(
        LMConfig(vocab_size=10, d_model=16, n_layers=1, n_heads=2, norm_position="post")
    )
    with pytest.raises(ValueError, match="norm_position"):
        logit_lens(post, torch.zeros(1, 3, dtype=torch.long))


def test_linear_probe_equals_sklearn_logistic_regression():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(120, 6, generator=g, dtype=torch.float64)
    y = (
        (h[:, 0] - 0.5 * h[:, 3] + 0.3 * torch.randn(120, generator=g, dtype=torch.float64)) > 0
    ).long()
    l2 = 0.05
    w, b = fit_linear_probe(h, y, l2=l2)
    # sklearn minimises C * sum(log-loss) + ||w||^2 / 2: the same problem with C = 1 / (l2 n).
    ref = LogisticRegression(C=1 / (l2 * 120), tol=1e-12, max_iter=10_000).fit(h.numpy(), y.numpy())
    torch.testing.assert_close(w, torch.from_numpy(ref.coef_[0]), atol=1e-5, rtol=0)
    assert float(b) == pytest.approx(float(ref.intercept_[0]), abs=1e-5)
    assert probe_accuracy(h, y, w, b) > 0.85
