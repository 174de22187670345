"""RoPE against Hugging Face Llama's rotary code, the complex-number form of the paper, and the
relative-position property."""

import pytest
import torch
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

from masterclass.llm.rope import (
    apply_rope,
    half_split_to_interleaved,
    interleaved_to_half_split,
    rope_cos_sin,
    rope_inv_freq,
)


def test_half_split_matches_hf_llama():
    # HF builds the tables in float32 and rotates in the input dtype; we rotate in float32. Inputs
    # are float32, so both paths do the same float32 arithmetic: 1e-6 allows for op-order rounding.
    torch.manual_seed(0)
    B, H, T, D = 2, 3, 11, 16
    hf_cfg = LlamaConfig(
        hidden_size=H * D,
        num_attention_heads=H,
        rope_parameters={"rope_type": "default", "rope_theta": 500.0},
    )
    q, k = torch.randn(B, H, T, D), torch.randn(B, H, T, D)
    positions = torch.arange(T)
    cos_hf, sin_hf = LlamaRotaryEmbedding(hf_cfg)(q, positions[None].expand(B, T))
    q_hf, k_hf = apply_rotary_pos_emb(q, k, cos_hf, sin_hf)
    cos, sin = rope_cos_sin(positions, rope_inv_freq(D, 500.0))
    torch.testing.assert_close(apply_rope(q, cos, sin), q_hf, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(apply_rope(k, cos, sin), k_hf, atol=1e-6, rtol=1e-6)


def test_interleaved_matches_complex_rotation():
    # The paper's form: pair (x_2i, x_2i+1) is the complex number x_2i + i x_2i+1 multiplied by
    # e^{i m θ_i}. float64 throughout except the float32 tables: tolerance 1e-6.
    torch.manual_seed(1)
    T, D = 9, 8
    x = torch.randn(1, 2, T, D, dtype=torch.float64)
    inv = rope_inv_freq(D)
    angles = torch.arange(T, dtype=torch.float64)[:, None] * inv.double()[None]
    z = torch.view_as_complex(x.reshape(1, 2, T, D // 2, 2).contiguous())
    expected = torch.view_as_real(z * torch.polar(torch.ones_like(angles), angles)).reshape(
        1, 2, T, D
    )
    cos, sin = rope_cos_sin(torch.arange(T), inv, interleaved=True)
    got = apply_rope(x, cos.double(), sin.double(), interleaved=True)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("interleaved", [False, True])
def test_scores_depend_only_on_relative_position(interleaved):
    # <R_m q, R_n k> is the same for (m, n) and (m + s, n + s). The tables are computed in float32
    # (as HF does), so angles carry ~1e-7 relative rounding: tolerance 1e-6.
    torch.manual_seed(2)
    D = 16
    q, k = torch.randn(D, dtype=torch.float64), torch.randn(D, dtype=torch.float64)
    inv = rope_inv_freq(D).double()

    def rotated(x, pos):
        cos, sin = rope_cos_sin(torch.tensor([pos]), inv, interleaved=interleaved)
        return apply_rope(
            x.view(1, 1, 1, D), cos.double(), sin.double(), interleaved=interleaved
        ).flatten()

    base = rotated(q, 3) @ rotated(k, 10)
    for shift in (1, 7, 50):
        torch.testing.assert_close(
            rotated(q, 3 + shift) @ rotated(k, 10 + shift), base, atol=1e-6, rtol=1e-6
        )


def test_weight_permutation_turns_interleaved_into_half_split():
    # Rotating the interleaved projection equals rotating the permuted projection with the
    # half-split layout, up to the same permutation of the output coordinates; inner products of
    # queries and keys are therefore identical. float64: tolerance 1e-10.
    torch.manual_seed(3)
    H, D, d_in, T = 2, 8, 12, 6
    wq, wk = (
        torch.randn(H * D, d_in, dtype=torch.float64),
        torch.randn(H * D, d_in, dtype=torch.float64),
    )
    x = torch.randn(T, d_in, dtype=torch.float64)
    inv = rope_inv_freq(D).double()

    def scores(wq, wk, interleaved):
        cos, sin = rope_cos_sin(torch.arange(T), inv, interleaved=interleaved)
        q = (x @ wq.T).view(T, H, D).transpose(0, 1)[None]
        k = (x @ wk.T).view(T, H, D).transpose(0, 1)[None]
        q, k = (apply_rope(t, cos.double(), sin.double(), interleaved=interleaved) for t in (q, k))
        return q @ k.transpose(-1, -2)

    ref = scores(wq, wk, interleaved=True)
    permuted = scores(
        interleaved_to_half_split(wq, H), interleaved_to_half_split(wk, H), interleaved=False
    )
    torch.testing.assert_close(permuted, ref, atol=1e-10, rtol=1e-10)
    assert torch.equal(half_split_to_interleaved(interleaved_to_half_split(wq, H), H), wq)


def test_odd_head_dim_is_rejected():
    with pytest.raises(ValueError, match="even head dim"):
        rope_inv_freq(7)
