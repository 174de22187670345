"""Multi-head attention against `torch.nn.MultiheadAttention` with copied weights."""

import pytest
import torch
from torch import nn

from masterclass.transformer.attention import causal_mask
from masterclass.transformer.multi_head_attention import MultiHeadAttention, combine_masks

# float64: both sides do the same projections and softmax; 1e-10 leaves room for rounding only.
TOL = dict(atol=1e-10, rtol=1e-10)


def _grads(out, params):
    g = torch.Generator().manual_seed(3)
    w = torch.randn(out.shape, generator=g, dtype=out.dtype)
    return torch.autograd.grad((out * w).sum(), params)


def test_self_attention_matches_torch_with_masks():
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(16, 4, batch_first=True, dtype=torch.float64)
    ours = MultiHeadAttention.from_torch(ref)
    x = torch.randn(2, 6, 16, dtype=torch.float64, requires_grad=True)
    keep = torch.ones(2, 6, dtype=torch.long)
    keep[1, 4:] = 0
    y = ours(x, attention_mask=keep, is_causal=True)
    # torch's masks are True where attention is *forbidden*: the complements of ours.
    y_ref, _ = ref(
        x,
        x,
        x,
        attn_mask=~causal_mask(6, 6),
        key_padding_mask=keep == 0,
        need_weights=False,
    )
    torch.testing.assert_close(y, y_ref, **TOL)
    g = _grads(y, (x, ours.q_proj.weight, ours.out_proj.bias))
    g_ref = _grads(y_ref, (x, ref.in_proj_weight, ref.out_proj.bias))
    torch.testing.assert_close(g[0], g_ref[0], **TOL)
    torch.testing.assert_close(g[1], g_ref[1][:16], **TOL)
    torch.testing.assert_close(g[2], g_ref[2], **TOL)


def test_cross_attention_matches_torch():
    torch.manual_seed(1)
    ref = nn.MultiheadAttention(16, 2, kdim=10, vdim=12, batch_first=True, dtype=torch.float64)
    ours = MultiHeadAttention.from_torch(ref)
    q = torch.randn(3, 4, 16, dtype=torch.float64)
    k = torch.randn(3, 7, 10, dtype=torch.float64)
    v = torch.randn(3, 7, 12, dtype=torch.float64)
    y_ref, _ = ref(q, k, v, need_weights=False)
    torch.testing.assert_close(ours(q, k, v), y_ref, **TOL)


def test_gqa_equals_mha_with_repeated_heads():
    # A GQA layer with 2 key/value heads is an MHA layer whose 4 key/value heads are the 2 repeated.
    torch.manual_seed(2)
    gqa = MultiHeadAttention(16, 4, n_kv_heads=2).double()
    mha = MultiHeadAttention(16, 4).double()
    with torch.no_grad():
        for name in ("q_proj", "out_proj"):
            getattr(mha, name).load_state_dict(getattr(gqa, name).state_dict())
        for name in ("k_proj", "v_proj"):
            w = getattr(gqa, name).weight.view(2, 4, 16).repeat_interleave(2, 0).reshape(16, 16)
            b = getattr(gqa, name).bias.view(2, 4).repeat_interleave(2, 0).reshape(16)
            getattr(mha, name).weight.copy_(w)
            getattr(mha, name).bias.copy_(b)
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    torch.testing.assert_close(gqa(x, is_causal=True), mha(x, is_causal=True), **TOL)


def test_combine_masks():
    a = torch.tensor([[True, False], [True, True]])
    b = torch.tensor([[True, True], [False, True]])
    assert torch.equal(combine_masks(a, None, b), a & b)
    bias = torch.tensor([[0.5, 1.0], [2.0, 3.0]])
    out = combine_masks(a, bias)
    assert out[0, 1] == float("-inf") and out[1, 1] == 3.0
    assert combine_masks(None) is None


def test_bad_config_and_shapes_are_clear():
    with pytest.raises(ValueError, match="does not divide"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="must divide n_heads"):
        MultiHeadAttention(12, 4, n_kv_heads=3)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="query must be"):
        mha(torch.zeros(2, 3, 6))
    with pytest.raises(ValueError, match="attention_mask must be"):
        mha(torch.zeros(2, 3, 8), attention_mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="does not broadcast"):
        mha(torch.zeros(2, 3, 8), attn_mask=torch.ones(4, 4, dtype=torch.bool))
