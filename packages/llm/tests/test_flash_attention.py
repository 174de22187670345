"""The tiled flash attention against `F.scaled_dot_product_attention`, in value and gradient."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.llm.flash_attention import flash_attention, naive_attention

# (B, H, T_q, T_k, D, block_q, block_k): block sizes that divide T and that do not, T_q != T_k.
SHAPES = [
    (1, 1, 8, 8, 4, 4, 4),
    (2, 3, 37, 37, 16, 8, 16),
    (1, 2, 64, 64, 32, 32, 16),
    (2, 2, 5, 29, 8, 4, 8),
    (1, 4, 1, 17, 8, 16, 4),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_matches_sdpa_value_and_gradient(shape, causal):
    # float64 on both sides: the only difference is summation order, so 1e-10 is ample.
    B, H, T_q, T_k, D, bq, bk = shape
    g = torch.Generator().manual_seed(0)
    q, k, v = (
        torch.randn(B, H, t, D, generator=g, dtype=torch.float64, requires_grad=True)
        for t in (T_q, T_k, T_k)
    )
    grad = torch.randn(B, H, T_q, D, generator=g, dtype=torch.float64)
    out = flash_attention(q, k, v, causal=causal, block_q=bq, block_k=bk)
    ours = torch.autograd.grad(out, (q, k, v), grad)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    theirs = torch.autograd.grad(ref, (q, k, v), grad)
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=1e-10)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_float32_and_custom_scale_match_sdpa():
    # float32 tiles accumulate in a different order than SDPA's kernel: 1e-5.
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 2, 50, 16) for _ in range(3))
    torch.testing.assert_close(
        flash_attention(q, k, v, causal=True, scale=0.3, block_q=16, block_k=8),
        F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3),
        atol=1e-5,
        rtol=1e-5,
    )


def test_naive_attention_matches_sdpa():
    # The baseline of the memory benchmark must be right too (float64: 1e-12).
    torch.manual_seed(2)
    q, k, v = (torch.randn(1, 2, 9, 8, dtype=torch.float64) for _ in range(3))
    for causal in (False, True):
        torch.testing.assert_close(
            naive_attention(q, k, v, causal),
            F.scaled_dot_product_attention(q, k, v, is_causal=causal),
            atol=1e-12,
            rtol=1e-12,
        )


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="flash_attention expects"):
        flash_attention(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 5), torch.zeros(1, 2, 3, 5))
