"""Sparse attention patterns against their definitions, and block-sparse computation against SDPA."""

import math

import pytest
import torch
import torch.nn.functional as F

from masterclass.transformer.sparse_attention import (
    block_layout,
    block_sparse_attention,
    fixed_pattern,
    score_entries,
    strided_pattern,
)

# float64; the same scores and softmax over the same keys: 1e-10 is rounding only.
TOL = dict(atol=1e-10, rtol=1e-10)


def test_patterns_match_the_paper_definitions():
    # Reference: Child et al.'s set definitions, written as Python loops over (i, j).
    T, l, c = 24, 4, 2
    local, strided = strided_pattern(T, l)
    block, summary = fixed_pattern(T, l, c)
    for i in range(T):
        for j in range(T):
            assert local[i, j] == (j <= i and i - j < l)
            assert strided[i, j] == (j <= i and (i - j) % l == 0)
            assert block[i, j] == (j <= i and i // l == j // l)
            assert summary[i, j] == (j <= i and j % l >= l - c)


def test_two_steps_reach_every_earlier_position():
    # The factorisation's promise: composing the two heads' patterns gives full causal attention.
    T = 36
    causal = torch.ones(T, T).tril().bool()
    for a, b in (strided_pattern(T, 6), fixed_pattern(T, 6, 1)):
        one_step = a | b
        two_steps = one_step | (a.double() @ b.double() > 0) | (b.double() @ a.double() > 0)
        assert torch.equal(two_steps & causal, causal)


@pytest.mark.parametrize("pattern", ["strided", "fixed"])
def test_block_sparse_equals_dense_masked_sdpa(pattern):
    T, l = 32, 8
    a, b = strided_pattern(T, l) if pattern == "strided" else fixed_pattern(T, l, 2)
    mask = a | b
    g = torch.Generator().manual_seed(0)
    q, k, v = (
        torch.randn(2, 3, T, 8, generator=g, dtype=torch.float64, requires_grad=True)
        for _ in range(3)
    )
    out = block_sparse_attention(q, k, v, mask, block=4)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref, **TOL)
    w = torch.randn(out.shape, generator=g, dtype=torch.float64)
    for ga, gb in zip(
        torch.autograd.grad((out * w).sum(), (q, k, v)),
        torch.autograd.grad((ref * w).sum(), (q, k, v)),
    ):
        torch.testing.assert_close(ga, gb, **TOL)


def test_measured_saving_grows_like_sqrt_t():
    # Dense causal attention computes T(T+1)/2 scores. Block-sparse computation of the strided and
    # fixed patterns, with stride l = sqrt(T) and hardware-sized tiles b = 8, computes about
    # T^2 b / l = b T^1.5 scores: the fraction of the dense count halves each time T quadruples.
    # Measured: 0.59 -> 0.30 (strided) and 0.56 -> 0.28 (fixed) from T = 256 to 1024.
    for pattern in (strided_pattern, lambda T, l: fixed_pattern(T, l, 1)):
        fractions = []
        for T in (256, 1024):
            mask = torch.logical_or(*pattern(T, math.isqrt(T)))
            fractions.append(score_entries(mask, block=8) / (T * (T + 1) / 2))
        assert fractions[1] < 0.6 * fractions[0] and fractions[1] < 0.35


def test_layout_and_bad_inputs():
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[5, 1] = True
    layout = block_layout(mask, 4)
    assert layout.tolist() == [[False, False], [True, False]]
    assert score_entries(mask) == 1 and score_entries(mask, 4) == 16
    with pytest.raises(ValueError, match="must divide"):
        block_layout(mask, 3)
    with pytest.raises(ValueError, match="stride"):
        strided_pattern(8, 0)
    with pytest.raises(ValueError, match=r"mask must be \(T, S\)"):
        block_sparse_attention(
            *(torch.zeros(1, 1, 8, 4) for _ in range(3)), torch.ones(4, 4).bool(), 4
        )
