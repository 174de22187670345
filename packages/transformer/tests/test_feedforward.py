"""Feed-forward networks against torch compositions and Hugging Face's LLaMA and T5 MLPs."""

import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaConfig, T5Config
from transformers.models.llama.modeling_llama import LlamaMLP
from transformers.models.t5.modeling_t5 import T5DenseGatedActDense

from masterclass.transformer.feedforward import ACTIVATIONS, FeedForward, relu2

# float64 throughout: the same products in possibly different order, so 1e-10 is rounding only.
TOL = dict(atol=1e-10, rtol=1e-10)


def _x(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 5, 8, generator=g, dtype=torch.float64, requires_grad=True)


def _value_and_grad(module, x):
    y = module(x)
    (gx,) = torch.autograd.grad((y * torch.cos(y)).sum(), x)
    return y, gx


@pytest.mark.parametrize(
    "activation,torch_act",
    [
        ("relu", F.relu),
        ("gelu", F.gelu),
        ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
        ("relu2", lambda x: F.relu(x) ** 2),
    ],
)
def test_plain_mlp_matches_torch(activation, torch_act):
    torch.manual_seed(0)
    ffn = FeedForward(8, 32, activation=activation).double()

    def ref(x):
        return F.linear(
            torch_act(F.linear(x, ffn.up.weight, ffn.up.bias)), ffn.down.weight, ffn.down.bias
        )

    x = _x()
    y, gx = _value_and_grad(ffn, x)
    y_ref, gx_ref = _value_and_grad(ref, x)
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(gx, gx_ref, **TOL)


def test_swiglu_matches_hf_llama_mlp():
    cfg = LlamaConfig(
        hidden_size=8,
        intermediate_size=24,
        hidden_act="silu",
        mlp_bias=False,
        num_attention_heads=2,
    )
    torch.manual_seed(0)
    ref = LlamaMLP(cfg).double()
    ffn = FeedForward(8, 24, activation="silu", gated=True, bias=False).double()
    with torch.no_grad():
        ffn.gate.weight.copy_(ref.gate_proj.weight)
        ffn.up.weight.copy_(ref.up_proj.weight)
        ffn.down.weight.copy_(ref.down_proj.weight)
    x = _x()
    for a, b in zip(_value_and_grad(ffn, x), _value_and_grad(ref, x)):
        torch.testing.assert_close(a, b, **TOL)


def test_geglu_matches_hf_t5_gated_ffn():
    cfg = T5Config(d_model=8, d_ff=24, feed_forward_proj="gated-gelu", dropout_rate=0.0)
    torch.manual_seed(0)
    ref = T5DenseGatedActDense(cfg).double().eval()
    # T5's "gated-gelu" is the tanh approximation (HF's gelu_new).
    ffn = FeedForward(8, 24, activation="gelu_tanh", gated=True, bias=False).double()
    with torch.no_grad():
        ffn.gate.weight.copy_(ref.wi_0.weight)
        ffn.up.weight.copy_(ref.wi_1.weight)
        ffn.down.weight.copy_(ref.wo.weight)
    x = _x()
    for a, b in zip(_value_and_grad(ffn, x), _value_and_grad(ref, x)):
        torch.testing.assert_close(a, b, **TOL)


def test_relu2_and_lookup():
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    torch.testing.assert_close(relu2(x), torch.clamp(x, min=0) ** 2, **TOL)
    assert {"relu", "gelu", "silu", "relu2", "gelu_tanh"} <= set(ACTIVATIONS)


def test_bad_config_is_clear():
    with pytest.raises(ValueError, match="unknown activation"):
        FeedForward(8, 32, activation="swish2")
    with pytest.raises(ValueError, match="positive"):
        FeedForward(0, 32)


@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_tanh", "silu"])
@pytest.mark.parametrize("gated", [False, True])
def test_fused_kernels_equal_module_3s_formulas(activation, gated):
    # The default FFN runs torch's fused kernel; `fused=False` runs Module 3's formula. Same
    # weights, float64: the two must agree to rounding, in value and in gradient.
    torch.manual_seed(0)
    fused = FeedForward(8, 32, activation=activation, gated=gated).double()
    torch.manual_seed(0)
    formula = FeedForward(8, 32, activation=activation, gated=gated, fused=False).double()
    assert fused.act is not formula.act
    x = _x(1)
    y, gx = _value_and_grad(fused, x)
    y_ref, gx_ref = _value_and_grad(formula, x)
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(gx, gx_ref, **TOL)
