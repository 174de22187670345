"""Embeddings against Hugging Face's `BertEmbeddings`, and what positions are for."""

import math

import pytest
import torch
from transformers import BertConfig as HFBertConfig
from transformers.models.bert.modeling_bert import BertEmbeddings

from masterclass.transformer.embeddings import Embeddings
from masterclass.transformer.transformer_block import BlockConfig, TransformerBlock

# float64: the same sums in another order, then the same LayerNorm; 1e-10 is rounding only.
TOL = dict(atol=1e-10, rtol=1e-10)


def test_matches_hf_bert_embeddings():
    cfg = HFBertConfig(vocab_size=50, hidden_size=16, max_position_embeddings=12, type_vocab_size=2)
    torch.manual_seed(0)
    ref = BertEmbeddings(cfg).double().eval()
    ours = Embeddings(50, 16, 12, n_segments=2, norm_eps=cfg.layer_norm_eps).double().eval()
    with torch.no_grad():
        ours.tokens.weight.copy_(ref.word_embeddings.weight)
        ours.positions.weight.copy_(ref.position_embeddings.weight)
        ours.segments.weight.copy_(ref.token_type_embeddings.weight)
        ours.norm.weight.copy_(ref.LayerNorm.weight)
        ours.norm.bias.copy_(ref.LayerNorm.bias)
    ids = torch.randint(0, 50, (3, 10))
    types = torch.randint(0, 2, (3, 10))
    torch.testing.assert_close(ours(ids, types), ref(ids, types), **TOL)


def test_sinusoidal_table_is_added():
    # The reference is the formula itself, written out in float64.
    emb = Embeddings(20, 8, 16, positions="sinusoidal", scale_tokens=True).double()
    ids = torch.arange(6)[None]
    t = torch.arange(6, dtype=torch.float64)[:, None]
    omega = 10000.0 ** (-torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    pe = torch.stack([torch.sin(t * omega), torch.cos(t * omega)], dim=-1).reshape(6, 8)
    expected = emb.tokens.weight[:6] * math.sqrt(8) + pe
    # The table is stored in float32 by nlp's function: 1e-7 is float32 rounding of sin/cos.
    torch.testing.assert_close(emb(ids)[0], expected, atol=1e-7, rtol=0)


def test_positions_break_permutation_equivariance():
    torch.manual_seed(0)
    block = TransformerBlock(BlockConfig(d_model=16, n_heads=2, d_ff=32)).double().eval()
    ids = torch.tensor([[3, 7, 1, 9, 4]])
    perm = torch.tensor([4, 2, 0, 1, 3])
    for kind, equivariant in (("none", True), ("learned", False), ("sinusoidal", False)):
        emb = Embeddings(10, 16, 8, positions=kind).double()
        y = block(emb(ids))
        y_perm = block(emb(ids[:, perm]))
        assert torch.allclose(y[:, perm], y_perm, atol=1e-10) == equivariant, kind


def test_sequence_longer_than_table_is_clear():
    emb = Embeddings(10, 8, 4)
    with pytest.raises(ValueError, match="longer than the position table of 4"):
        emb(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="positions must be"):
        Embeddings(10, 8, 4, positions="rope")
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        emb(torch.zeros(5, dtype=torch.long))
