"""Transformer blocks against `torch.nn.TransformerEncoderLayer`/`DecoderLayer`, and norm placement."""

import pytest
import torch
from torch import nn

from masterclass.transformer.attention import causal_mask
from masterclass.transformer.transformer_block import (
    BlockConfig,
    TransformerBlock,
    layer_gradient_norms,
    make_norm,
)

# float64: the same operations in possibly another order; 1e-10 is rounding only.
TOL = dict(atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_block_matches_torch(norm_first):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(
        16,
        4,
        32,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=norm_first,
        dtype=torch.float64,
    ).eval()
    ours = TransformerBlock.from_torch(ref, activation="gelu").eval()
    x = torch.randn(2, 6, 16, dtype=torch.float64, requires_grad=True)
    keep = torch.ones(2, 6, dtype=torch.bool)
    keep[0, 5:] = False
    y = ours(x, attention_mask=keep, is_causal=True)
    y_ref = ref(x, src_mask=~causal_mask(6), src_key_padding_mask=~keep)
    torch.testing.assert_close(y, y_ref, **TOL)
    gx = torch.autograd.grad(y.square().sum(), x)[0]
    gx_ref = torch.autograd.grad(y_ref.square().sum(), x)[0]
    torch.testing.assert_close(gx, gx_ref, **TOL)


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_block_with_cross_attention_matches_torch(norm_first):
    torch.manual_seed(1)
    ref = nn.TransformerDecoderLayer(
        16,
        2,
        24,
        dropout=0.0,
        activation="relu",
        batch_first=True,
        norm_first=norm_first,
        dtype=torch.float64,
    ).eval()
    ours = TransformerBlock.from_torch(ref, activation="relu").eval()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    memory = torch.randn(2, 7, 16, dtype=torch.float64)
    y = ours(x, is_causal=True, memory=memory)
    y_ref = ref(x, memory, tgt_mask=~causal_mask(5), tgt_is_causal=True)
    torch.testing.assert_close(y, y_ref, **TOL)


def test_post_norm_top_gradient_does_not_shrink_with_depth():
    # Xiong et al. (2020): at init the last block's gradient is depth-independent in post-norm and
    # shrinks with depth in pre-norm. Fixed seeds make the numbers deterministic; the thresholds
    # are far from the measured values (pre: 0.29 -> 0.20, post: 0.32 -> 0.33 from L=2 to L=16).
    pre_2, pre_16 = layer_gradient_norms(True, 2)[-1], layer_gradient_norms(True, 16)[-1]
    post_2, post_16 = layer_gradient_norms(False, 2)[-1], layer_gradient_norms(False, 16)[-1]
    assert pre_16 < 0.85 * pre_2
    assert 0.8 < post_16 / post_2 < 1.25
    assert post_16 / pre_16 > 1.3 * (post_2 / pre_2)


def test_bad_config_is_clear():
    with pytest.raises(ValueError, match="unknown norm"):
        make_norm("batchnorm", 8, 1e-5)
    block = TransformerBlock(BlockConfig(d_model=8, n_heads=2, d_ff=16, cross_attention=True))
    with pytest.raises(ValueError, match="memory"):
        block(torch.zeros(1, 3, 8))
    with pytest.raises(ValueError, match="does not divide"):
        TransformerBlock(BlockConfig(d_model=10, n_heads=4))
