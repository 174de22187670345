"""PyTorch's int8 paths against deploy's from-scratch int8 on llm's model: size, error, agreement."""

import copy

import pytest
import torch

from masterclass.deploy.quantization import Int8Linear, quantize_int8, quantize_weight
from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.perf.quantization import (
    Int8PackLinear,
    dynamic_int8,
    relative_error,
    serialized_bytes,
    swap_linears,
)


def _model() -> tuple[LanguageModel, torch.Tensor]:
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=128, d_model=64, n_layers=2, n_heads=4, max_seq_len=32)
    idx = torch.randint(0, 128, (2, 16), generator=torch.Generator().manual_seed(1))
    return LanguageModel(cfg).eval(), idx


def _pack(linear: torch.nn.Linear) -> Int8PackLinear:
    q, scale = quantize_weight(linear.weight, bits=8)  # deploy's from-scratch quantizer
    return Int8PackLinear(q, scale, linear.bias)


def test_int8pack_kernel_equals_deploys_int8_linear():
    torch.manual_seed(0)
    linear = torch.nn.Linear(48, 24)
    x = torch.randn(3, 5, 48)
    ours, deploy = _pack(linear), Int8Linear.from_linear(linear)
    # The same Q and s; the fused kernel rescales inside its loop, deploy after the product:
    # the two differ by fp32 rounding of O(1) outputs.
    torch.testing.assert_close(ours(x), deploy(x), rtol=1e-5, atol=1e-5)


def test_torch_dynamic_weights_are_symmetric_per_channel():
    torch.manual_seed(0)
    linear = torch.nn.Linear(32, 16)
    qlinear = dynamic_int8(torch.nn.Sequential(linear))[0]
    w_q = qlinear.weight()
    # Reference: PyTorch's symmetric observer, scale = max|w| / 127.5 per row, zero point 0.
    want = linear.weight.detach().abs().amax(1) / 127.5
    torch.testing.assert_close(w_q.q_per_channel_scales().float(), want, rtol=1e-6, atol=0)
    # Round-to-nearest: every weight within half a step of its float value.
    err = (w_q.dequantize() - linear.weight.detach()).abs()
    assert (err <= want[:, None] / 2 + 1e-7).all()


def test_sizes_and_errors_on_llm():
    model, idx = _model()
    with torch.no_grad():
        ref = model(idx)
        variants = {
            "deploy": quantize_int8(copy.deepcopy(model), embeddings=False),
            "torch dynamic": dynamic_int8(model),
            "int8pack": swap_linears(copy.deepcopy(model), _pack),
        }
        errors = {k: relative_error(m(idx), ref) for k, m in variants.items()}
    # Weight-only int8 at 8 bits: relative error ~ 1e-2 or less on logits of a random-init
    # model; dynamic quantization adds the activations' rounding: allow 5e-2.
    assert errors["deploy"] < 1e-2 and errors["int8pack"] < 1e-2
    assert errors["torch dynamic"] < 5e-2
    # deploy and int8pack quantize the same way: nearly identical outputs.
    with torch.no_grad():
        assert relative_error(variants["int8pack"](idx), variants["deploy"](idx)) < 1e-5
    # Linear weights are most of the model; int8 makes them 4x smaller (embedding left fp32).
    n_float = serialized_bytes(model)
    for name, m in variants.items():
        assert serialized_bytes(m) < 0.6 * n_float, name


def test_bad_input():
    with pytest.raises(ValueError, match="q must be a 2-D int8 tensor"):
        Int8PackLinear(torch.zeros(2, 2), torch.ones(2))
    with pytest.raises(ValueError, match="one value per output row"):
        Int8PackLinear(torch.zeros(2, 4, dtype=torch.int8), torch.ones(2, 2))
    with pytest.raises(TypeError, match=r"model must be an nn\.Module"):
        dynamic_int8("model")
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(torch.ones(2), torch.ones(3))
