"""Efficient attention: each fast computation against its quadratic definition or exact SDPA."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.transformer.attention import scaled_dot_product_attention
from masterclass.transformer.linear_attention import elu_feature_map, linear_attention
from masterclass.transformer.linformer import (
    LinformerSelfAttention,
    linformer_attention,
    segment_mean_projection,
)
from masterclass.transformer.longformer import sliding_window_attention, sliding_window_mask
from masterclass.transformer.multi_head_attention import MultiHeadAttention
from masterclass.transformer.performer import (
    favor_features,
    orthogonal_gaussian,
    performer_attention,
)

# float64: the fast and the quadratic forms do the same sums in another order; 1e-10 is rounding.
TOL = dict(atol=1e-10, rtol=1e-10)


def _qkv(T=24, D=8, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(2, 3, T, D, generator=g, dtype=torch.float64, requires_grad=True) * s
        for s in (scale, scale, 1.0)
    )


def _quadratic_kernel_attention(q, k, v, causal):
    # The definition: weights phi(q_i).phi(k_j), masked, normalised by their row sums.
    a = elu_feature_map(q) @ elu_feature_map(k).transpose(-2, -1)  # (B, H, T, S)
    if causal:
        a = a * torch.ones(a.shape[-2:], dtype=a.dtype).tril()
    return (a / a.sum(-1, keepdim=True)) @ v


@pytest.mark.parametrize("causal", [False, True])
def test_linear_attention_equals_quadratic_form(causal):
    q, k, v = _qkv()
    out = linear_attention(q, k, v, causal=causal, eps=0.0)
    ref = _quadratic_kernel_attention(q, k, v, causal)
    torch.testing.assert_close(out, ref, **TOL)
    ga = torch.autograd.grad(out.square().sum(), (q, k, v))
    gb = torch.autograd.grad(ref.square().sum(), (q, k, v))
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b, **TOL)


def test_favor_features_are_unbiased():
    # E[phi(x).phi(y)] = exp(x.y): 200k i.i.d. features give each ratio within 3% (the estimator's
    # relative standard deviation here is below 0.5%).
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 4, generator=g, dtype=torch.float64) * 0.5
    y = torch.randn(4, 4, generator=g, dtype=torch.float64) * 0.5
    w = orthogonal_gaussian(200_000, 4, g, orthogonal=False)
    est = favor_features(x, w, True) @ favor_features(y, w, False).T
    ref = torch.exp(x @ y.T)
    # The stabilisers scale each query's row by a constant (which attention's normalisation
    # cancels): the ratio to the exact kernel must be constant along each row.
    ratio = est / ref
    torch.testing.assert_close(
        ratio / ratio.mean(-1, keepdim=True), torch.ones_like(ratio), atol=0.03, rtol=0
    )
    # And the orthogonal features estimate the same kernel.
    w_orth = orthogonal_gaussian(200_000, 4, g)
    ratio_orth = (favor_features(x, w_orth, True) @ favor_features(y, w_orth, False).T) / ref
    torch.testing.assert_close(
        ratio_orth / ratio_orth.mean(-1, keepdim=True), torch.ones_like(ratio), atol=0.03, rtol=0
    )


def test_orthogonal_features_are_orthogonal_in_blocks():
    w = orthogonal_gaussian(16, 8, torch.Generator().manual_seed(0))
    u = w[:8] / w[:8].norm(dim=-1, keepdim=True)
    torch.testing.assert_close(u @ u.T, torch.eye(8, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_performer_error_shrinks_with_features(causal):
    q, k, v = (t.detach() for t in _qkv(T=64, D=8, scale=0.5))
    exact = scaled_dot_product_attention(q, k, v, is_causal=causal)

    def err(m):
        errs = [
            (
                (
                    performer_attention(q, k, v, m, causal, torch.Generator().manual_seed(s))
                    - exact
                ).norm()
                / exact.norm()
            ).item()
            for s in range(3)
        ]
        return sum(errs) / 3

    # The error falls like 1/sqrt(m): 64x the features, about 8x less in the limit (measured: ~0.3 at
    # m = 16 and ~0.07 at m = 1024 for these inputs, about 4.5x); 3x leaves room for seed noise.
    e_small, e_large = err(16), err(1024)
    assert e_large < e_small / 3 and e_large < 0.1


def test_sliding_window_equals_masked_sdpa():
    q, k, v = _qkv(T=20)
    for window, glob in ((3, None), (2, [0, 7]), (0, [19]), (25, None)):
        out = sliding_window_attention(q, k, v, window, glob)
        ref = F.scaled_dot_product_attention(
            q, k, v, attn_mask=sliding_window_mask(20, window, glob)
        )
        torch.testing.assert_close(out, ref, **TOL)
        ga = torch.autograd.grad(out.square().sum(), (q, k, v))
        gb = torch.autograd.grad(ref.square().sum(), (q, k, v))
        for a, b in zip(ga, gb):
            torch.testing.assert_close(a, b, **TOL)


def test_linformer_identity_is_exact_and_pooling_error_shrinks():
    q, k, v = (t.detach() for t in _qkv(T=32))
    exact = F.scaled_dot_product_attention(q, k, v)
    eye = torch.eye(32, dtype=torch.float64)
    torch.testing.assert_close(linformer_attention(q, k, v, eye, eye), exact, **TOL)
    errs = []
    for r in (2, 8, 32):
        P = segment_mean_projection(r, 32)
        errs.append(((linformer_attention(q, k, v, P, P) - exact).norm() / exact.norm()).item())
    assert errs[0] > errs[1] > 1e-3 > 1e-12 > errs[2]


def test_linformer_module_with_identity_projections_is_mha():
    torch.manual_seed(0)
    lin = LinformerSelfAttention(16, 4, max_len=6, r=6).double()
    mha = MultiHeadAttention(16, 4).double()
    with torch.no_grad():
        lin.E.copy_(torch.eye(6))
        lin.F.copy_(torch.eye(6))
        for proj, w, b in zip(
            (mha.q_proj, mha.k_proj, mha.v_proj), lin.qkv.weight.split(16), lin.qkv.bias.split(16)
        ):
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        mha.out_proj.load_state_dict(lin.out.state_dict())
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    torch.testing.assert_close(lin(x), mha(x), **TOL)


def test_bad_inputs_are_clear():
    q, k, v = _qkv(T=8)
    with pytest.raises(ValueError, match="projections must be"):
        linformer_attention(q, k, v, torch.eye(4), torch.eye(4))
    with pytest.raises(ValueError, match="r must divide"):
        segment_mean_projection(3, 8)
    with pytest.raises(ValueError, match="global token"):
        sliding_window_mask(8, 2, [9])
    with pytest.raises(ValueError, match="n_features"):
        performer_attention(q, k, v, 0)
    with pytest.raises(ValueError, match="T == S"):
        linear_attention(q, k[:, :, :4], v[:, :, :4], causal=True)
    with pytest.raises(ValueError, match="exceeds"):
        LinformerSelfAttention(8, 2, max_len=4, r=2)(torch.zeros(1, 5, 8))
