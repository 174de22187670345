"""Tests for positional encodings: against Hugging Face's DistilBERT table, brute-force loops, and
the properties that make each scheme useful."""

import math

import pytest
import torch
from transformers.models.distilbert.modeling_distilbert import _create_sinusoidal_embeddings

from masterclass.nlp.positional import (
    LearnedPositionalEmbedding,
    ShawRelativePositions,
    relative_position_index,
    shaw_attention,
    sinusoidal_positions,
)


@pytest.mark.parametrize(("t", "c"), [(1, 2), (50, 16), (512, 64), (7, 33)])
def test_sinusoidal_matches_huggingface(t, c):
    # HF builds the same table in float64 numpy then casts to float32; ours is float64 then cast,
    # so the two agree to a couple of float32 ulps (1e-6 absolute on values in [-1, 1]).
    ref = torch.empty(t, c)
    _create_sinusoidal_embeddings(t, c, ref)
    ours = sinusoidal_positions(t, c)
    assert ours.shape == (t, c) and ours.dtype == torch.float32
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)


def test_sinusoidal_shift_is_a_fixed_rotation():
    # PE[t + k] = R_k PE[t] with R_k block-diagonal rotations that do not depend on t: fit R_k by
    # least squares on some positions, then check it predicts all others (float64 math; the table
    # itself is float32, hence 1e-5).
    c, k, base = 16, 5, 10000.0
    pe = sinusoidal_positions(200, c, base).double()
    omega = torch.exp(-torch.arange(0, c, 2, dtype=torch.float64) / c * math.log(base))
    rot = torch.zeros(c, c, dtype=torch.float64)
    for i, w in enumerate(omega):
        a = w * k
        # (sin(x+a), cos(x+a)) = [[cos a, sin a], [-sin a, cos a]] (sin x, cos x)
        rot[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor(
            [[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]], dtype=torch.float64
        )
    torch.testing.assert_close(pe[:-k] @ rot.T, pe[k:], atol=1e-5, rtol=0)


def test_sinusoidal_rejects_bad_sizes():
    with pytest.raises(ValueError, match="d_model"):
        sinusoidal_positions(4, 0)
    with pytest.raises(ValueError, match="n_positions"):
        sinusoidal_positions(-1, 8)


def test_learned_embedding_rows_and_bounds():
    emb = LearnedPositionalEmbedding(10, 4)
    torch.testing.assert_close(emb(3, offset=2), emb.weight[2:5], atol=0, rtol=0)
    with pytest.raises(ValueError, match="outside the learned table"):
        emb(5, offset=6)


def _shaw_brute_force(q, k, v, a_k, a_v, causal):
    # The paper's equations (2)-(4), one (i, j) pair at a time.
    b, h, tq, d = q.shape
    tk = k.shape[2]
    out = torch.zeros_like(q)
    for bb in range(b):
        for hh in range(h):
            for i in range(tq):
                e = torch.tensor(
                    [
                        float(q[bb, hh, i] @ (k[bb, hh, j] + a_k[i, j])) / math.sqrt(d)
                        if not (causal and j > i)
                        else -math.inf
                        for j in range(tk)
                    ],
                    dtype=torch.float64,
                )
                p = torch.softmax(e, 0)
                out[bb, hh, i] = sum(p[j] * (v[bb, hh, j] + a_v[i, j]) for j in range(tk))
    return out


@pytest.mark.parametrize("causal", [False, True])
def test_shaw_attention_matches_brute_force(causal):
    torch.manual_seed(0)
    b, h, t, d, kmax = 2, 2, 6, 4, 2
    rel = ShawRelativePositions(kmax, d).double()
    with torch.no_grad():
        rel.keys.normal_()
        rel.values.normal_()
    q, k, v = (torch.randn(b, h, t, d, dtype=torch.float64) for _ in range(3))
    a_k, a_v = rel(t, t)
    ours = shaw_attention(q, k, v, a_k, a_v, causal=causal)
    ref = _shaw_brute_force(q, k, v, a_k.detach(), a_v.detach(), causal)
    # float64 on both sides, different summation order: 1e-10.
    torch.testing.assert_close(ours.detach(), ref, atol=1e-10, rtol=1e-10)


def test_shaw_zero_tables_reduce_to_sdpa():
    # With a^K = a^V = 0 the layer is plain attention: compare with PyTorch's SDPA (float64).
    torch.manual_seed(1)
    q, k, v = (torch.randn(1, 3, 5, 8, dtype=torch.float64) for _ in range(3))
    zeros = torch.zeros(5, 5, 8, dtype=torch.float64)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(shaw_attention(q, k, v, zeros, zeros, causal=True), ref)


def test_relative_index_is_translation_invariant_and_clipped():
    idx = relative_position_index(8, 8, 3)
    # Depends on j - i only: constant along diagonals.
    for off in range(-7, 8):
        assert torch.diagonal(idx, off).unique().numel() == 1
    assert idx.min() == 0 and idx.max() == 6
