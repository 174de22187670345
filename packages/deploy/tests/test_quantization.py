"""Weight-only quantization against torch's quantizer, a float reference and torch.ao dynamic."""

import copy
import warnings

import pytest
import torch
from torch import nn

from masterclass.deploy.quantization import (
    Int8Embedding,
    Int8Linear,
    dequantize_weight,
    model_bytes,
    quantize,
    quantize_int8,
    quantize_weight,
)
from masterclass.llm import LanguageModel, LMConfig


def _tiny_lm(tie: bool) -> LanguageModel:
    torch.manual_seed(0)
    cfg = LMConfig.llama(
        vocab_size=128, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=64
    )
    cfg.tie_embeddings = tie
    return LanguageModel(cfg).eval()


def test_integers_match_torch_quantize_per_channel():
    # Reference: torch's own per-channel affine quantizer with zero point 0 and our scales. Both
    # round half to even, so the integers must be identical.
    torch.manual_seed(0)
    w = torch.randn(40, 24) * torch.logspace(-2, 1, 40)[:, None]  # rows of very different scale
    q, scale = quantize_weight(w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = torch.quantize_per_channel(
            w, scale[:, 0].double(), torch.zeros(40, dtype=torch.long), axis=0, dtype=torch.qint8
        ).int_repr()
    assert torch.equal(q, ref)
    assert q.abs().max() == 127 and scale.shape == (40, 1)


@pytest.mark.parametrize("bits, group_size", [(8, None), (8, 8), (4, 8), (4, None)])
def test_linear_error_is_within_the_rounding_bound(bits, group_size):
    # Bound: |y_j - ŷ_j| <= sum_g (s_jg / 2) ||x_g||_1 (each weight moves at most half a step).
    # Computed in float64; 1e-9 slack covers the float32 storage of the scales.
    torch.manual_seed(1)
    lin = nn.Linear(32, 16).double()
    qlin = Int8Linear.from_linear(lin, bits=bits, group_size=group_size)
    x = torch.randn(5, 32, dtype=torch.float64)
    err = (lin(x) - qlin(x)).abs()  # (5, 16)
    g = 32 // qlin.scale.shape[1]
    x_l1 = x.abs().reshape(5, -1, g).sum(-1)  # (5, G)
    bound = 0.5 * x_l1 @ qlin.scale.double().T  # (5, 16)
    assert (err <= bound + 1e-9).all()
    assert err.max() > 0  # the quantized layer really is different
    # Dequantization reproduces the integers times the scales exactly.
    w_hat = dequantize_weight(qlin.weight_int8, qlin.scale)
    assert (w_hat - lin.weight.float()).abs().max() <= qlin.scale.max() / 2 + 1e-7


def test_smaller_error_than_torch_ao_dynamic_quantization():
    # Second reference: torch.ao's dynamic int8 quantization also quantizes activations (8 bits,
    # per tensor), so weight-only int8 per channel must be at least as accurate.
    ao = pytest.importorskip("torch.ao.quantization")
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 32)).eval()
    x = torch.randn(8, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ao_model = ao.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        with torch.no_grad():
            ref, ao_out = model(x), ao_model(x)
    ours = quantize_int8(copy.deepcopy(model))
    assert isinstance(ours[0], Int8Linear) and isinstance(model[0], nn.Linear)
    with torch.no_grad():
        err_ours = (ours(x) - ref).abs().max()
    assert err_ours <= (ao_out - ref).abs().max()


@pytest.mark.parametrize("tie", [False, True])
def test_language_model_quantizes_and_stays_close(tie):
    model = _tiny_lm(tie)
    idx = torch.randint(0, 128, (2, 12))
    with torch.no_grad():
        ref = model(idx)
    before = model_bytes(model)
    quantize_int8(model)
    assert not any(isinstance(m, (nn.Linear, nn.Embedding)) for m in model.modules())
    assert isinstance(model.lm_head, Int8Linear) and isinstance(model.tok_emb, Int8Embedding)
    with torch.no_grad():
        got = model(idx)
    # int8 per-channel rounding adds ~0.3% relative noise per layer; 3% on the logits of a
    # two-layer model is a loose, meaningful bound (a broken scale gives errors of order 100%).
    assert (got - ref).norm() / ref.norm() < 0.03
    # Weights shrink about 4x (norm gains and scales stay float); a tied matrix is stored twice
    # after quantization (once per role), so the tied model shrinks less.
    ratio = model_bytes(model) / before
    assert ratio < (0.55 if tie else 0.3)


def test_four_bit_groups_are_coarser_but_bounded_and_bad_args_fail():
    torch.manual_seed(3)
    w = torch.randn(8, 64)
    err8 = (dequantize_weight(*quantize_weight(w)) - w).abs().max()
    err4 = (dequantize_weight(*quantize_weight(w, bits=4, group_size=16)) - w).abs().max()
    assert err8 < err4 < 0.5 * w.abs().max() / 7 + 1e-6
    with pytest.raises(ValueError, match="group_size"):
        quantize_weight(w, group_size=10)
    with pytest.raises(ValueError, match="bits"):
        quantize(nn.Sequential(nn.Linear(4, 4)), bits=9)
