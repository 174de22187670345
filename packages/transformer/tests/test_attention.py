"""Scaled dot-product attention against `torch.nn.functional.scaled_dot_product_attention`."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.transformer.attention import (
    causal_mask,
    padding_mask,
    safe_softmax,
    scaled_dot_product_attention,
)

# Everything runs in float64, where our reference (torch's math backend on the CPU) and ours perform
# the same operations in a possibly different order: agreement to 1e-10 leaves room only for
# rounding, not for a wrong formula.
TOL = dict(atol=1e-10, rtol=1e-10)


def _qkv(B=2, H=4, H_kv=4, T=5, S=7, D=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, T, D, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(B, H_kv, S, D, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(B, H_kv, S, D, generator=g, dtype=torch.float64, requires_grad=True)
    return q, k, v


def _value_and_grads(fn, q, k, v, **kw):
    out = fn(q, k, v, **kw)
    g = torch.Generator().manual_seed(1)
    w = torch.randn(out.shape, generator=g, dtype=out.dtype)
    grads = torch.autograd.grad((out * w).sum(), (q, k, v))
    return out, grads


def _check(q, k, v, **kw):
    ours, ours_g = _value_and_grads(scaled_dot_product_attention, q, k, v, **kw)
    ref, ref_g = _value_and_grads(F.scaled_dot_product_attention, q, k, v, **kw)
    torch.testing.assert_close(ours, ref, **TOL)
    for a, b in zip(ours_g, ref_g):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("T,S", [(5, 5), (5, 7), (7, 3)])
def test_matches_torch_plain_and_causal(T, S):
    q, k, v = _qkv(T=T, S=S)
    _check(q, k, v)
    # Causal with T != S checks the top-left alignment torch uses.
    _check(q, k, v, is_causal=True)
    _check(q, k, v, scale=0.3)


def test_matches_torch_with_bool_and_float_masks():
    q, k, v = _qkv()
    g = torch.Generator().manual_seed(2)
    # A random boolean mask with the diagonal-ish first key always visible (no empty rows, where
    # torch and we differ on purpose), in the full (B, H, T, S) shape and broadcast (T, S) shape.
    bool_mask = torch.rand(2, 4, 5, 7, generator=g) > 0.4
    bool_mask[..., 0] = True
    _check(q, k, v, attn_mask=bool_mask)
    _check(q, k, v, attn_mask=bool_mask[0, 0])
    float_mask = torch.randn(2, 1, 5, 7, generator=g, dtype=torch.float64)
    _check(q, k, v, attn_mask=float_mask)
    # A padding mask: second sequence has only 4 real keys.
    keep = torch.ones(2, 7, dtype=torch.bool)
    keep[1, 4:] = False
    _check(q, k, v, attn_mask=padding_mask(keep))


def test_matches_torch_with_gqa():
    q, k, v = _qkv(H=6, H_kv=2)
    _check(q, k, v, enable_gqa=True, is_causal=True)


def test_fully_masked_rows_are_zero():
    q, k, v = _qkv(T=4, S=4)
    mask = causal_mask(4, 4).expand(2, 4, 4, 4).clone()
    mask[:, :, 2, :] = False  # query 2 may see nothing
    out, (gq, gk, gv) = _value_and_grads(scaled_dot_product_attention, q, k, v, attn_mask=mask)
    assert torch.isfinite(out).all() and torch.isfinite(gq).all()
    assert torch.isfinite(gk).all() and torch.isfinite(gv).all()
    assert (out[:, :, 2] == 0).all() and (gq[:, :, 2] == 0).all()
    # Every other row is torch's value, exactly as when the empty row is dropped.
    rows = [0, 1, 3]
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out[:, :, rows], ref[:, :, rows], **TOL)


def test_safe_softmax_matches_torch_on_finite_rows():
    x = torch.randn(3, 6, dtype=torch.float64)
    x[1, 2] = float("-inf")
    torch.testing.assert_close(safe_softmax(x), torch.softmax(x, -1), **TOL)
    x[2] = float("-inf")
    assert (safe_softmax(x)[2] == 0).all()


def test_dropout_keeps_expectation():
    # With dropout the weights are rescaled by 1/(1-p): averaged over many draws the output equals
    # the dropout-free output. 4000 draws of a (1, 1, 4, 4) problem give a mean within 0.05.
    torch.manual_seed(0)
    q, k, v = (t.detach() for t in _qkv(B=1, H=1, H_kv=1, T=4, S=4, D=4))
    ref = scaled_dot_product_attention(q, k, v)
    mean = sum(scaled_dot_product_attention(q, k, v, dropout_p=0.3) for _ in range(4000)) / 4000
    torch.testing.assert_close(mean, ref, atol=0.05, rtol=0)


def test_bad_shapes_are_clear():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(3, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="head dim"):
        scaled_dot_product_attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match="multiple"):
        q5, k2, v2 = _qkv(H=5, H_kv=2)
        scaled_dot_product_attention(q5, k2, v2, enable_gqa=True)
    with pytest.raises(ValueError, match="not both"):
        scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(5, 7), is_causal=True)
    with pytest.raises(ValueError, match="enable_gqa"):
        scaled_dot_product_attention(*_qkv(H=4, H_kv=2)[:3])
