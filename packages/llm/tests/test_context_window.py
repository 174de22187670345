"""RoPE context-extension frequencies against Hugging Face's `ROPE_INIT_FUNCTIONS`."""

import pytest
import torch
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from masterclass.llm.context_window import scaled_rope_inv_freq

D, BASE, L = 32, 10000.0, 256


def _hf(rope_parameters, max_pos=L):
    return LlamaConfig(
        hidden_size=4 * D,
        num_attention_heads=4,
        max_position_embeddings=max_pos,
        rope_parameters=rope_parameters,
    )


# Both compute in float32 from the same formulas: 1e-6 relative.
@pytest.mark.parametrize("factor", [2.0, 4.0, 8.0])
def test_linear_matches_hf(factor):
    cfg = _hf({"rope_type": "linear", "rope_theta": BASE, "factor": factor})
    expected, att = ROPE_INIT_FUNCTIONS["linear"](cfg, "cpu")
    got, got_att = scaled_rope_inv_freq(D, BASE, "linear", factor, L)
    torch.testing.assert_close(got, expected, atol=0, rtol=1e-6)
    assert got_att == att == 1.0


@pytest.mark.parametrize("factor", [2.0, 4.0, 16.0])
def test_yarn_matches_hf(factor):
    cfg = _hf(
        {
            "rope_type": "yarn",
            "rope_theta": BASE,
            "factor": factor,
            "original_max_position_embeddings": L,
        },
        max_pos=int(L * factor),
    )
    expected, att = ROPE_INIT_FUNCTIONS["yarn"](cfg, "cpu")
    got, got_att = scaled_rope_inv_freq(D, BASE, "yarn", factor, L)
    torch.testing.assert_close(got, expected, atol=0, rtol=1e-6)
    assert got_att == pytest.approx(att, rel=1e-12)


@pytest.mark.parametrize("factor", [2.0, 4.0])
def test_ntk_matches_hf_dynamic_at_the_extended_length(factor):
    # HF's dynamic NTK with factor 1 at length s L stretches the base by exactly s^(D/(D-2)),
    # which is the static NTK-aware rule.
    cfg = _hf({"rope_type": "dynamic", "rope_theta": BASE, "factor": 1.0})
    expected, _ = ROPE_INIT_FUNCTIONS["dynamic"](cfg, "cpu", seq_len=int(factor * L))
    got, _ = scaled_rope_inv_freq(D, BASE, "ntk", factor, L)
    torch.testing.assert_close(got, expected, atol=0, rtol=1e-5)
    # The defining property: the fastest pair keeps its frequency, the slowest is divided by s.
    plain, _ = scaled_rope_inv_freq(D, BASE)
    assert got[0] == plain[0]
    torch.testing.assert_close(got[-1], plain[-1] / factor, atol=0, rtol=1e-5)


def test_bad_scaling_is_rejected():
    with pytest.raises(ValueError, match="unknown rope scaling"):
        scaled_rope_inv_freq(D, BASE, "xpos", 2.0)
    with pytest.raises(ValueError, match=">= 1"):
        scaled_rope_inv_freq(D, BASE, "linear", 0.5)
