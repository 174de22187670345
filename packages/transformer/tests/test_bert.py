"""BERT against Hugging Face's `BertForMaskedLM` and `BertModel` with copied weights."""

import pytest
import torch
from transformers import BertConfig as HFBertConfig
from transformers import BertForMaskedLM as HFBertForMaskedLM
from transformers import BertModel as HFBertModel
from transformers import DataCollatorForLanguageModeling

from masterclass.transformer.bert import (
    BertConfig,
    BertForMaskedLM,
    BertModel,
    load_hf_bert_model,
    mask_tokens,
)

HF = dict(
    vocab_size=97,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=24,
    attn_implementation="eager",
)
OURS = BertConfig(
    vocab_size=97,
    d_model=32,
    n_layers=2,
    n_heads=4,
    d_ff=64,
    max_positions=24,
    dropout=0.0,
    attn_dropout=0.0,
)


def _batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 97, (3, 20), generator=g)
    types = (torch.arange(20) >= 9).long().expand(3, 20)
    keep = torch.ones(3, 20, dtype=torch.long)
    keep[1, 15:] = 0
    keep[2, 6:] = 0
    return ids, keep, types


def test_mlm_logits_match_hf_float32():
    torch.manual_seed(0)
    ref = HFBertForMaskedLM(HFBertConfig(**HF)).eval()
    ours = BertForMaskedLM(OURS).eval()
    ours.load_hf_state_dict(ref.state_dict())
    ids, keep, types = _batch()
    logits, _ = ours(ids, keep, types)
    ref_logits = ref(input_ids=ids, attention_mask=keep, token_type_ids=types).logits
    # float32, the product of a handful of 32-wide matmuls and LayerNorms: 1e-5 absolute is a few
    # hundred float32 ulps at logits of size ~1, orders of magnitude below any real discrepancy.
    real = keep.bool()
    torch.testing.assert_close(logits[real], ref_logits[real], atol=1e-5, rtol=1e-5)


def test_mlm_loss_and_gradients_match_hf_float64():
    torch.manual_seed(1)
    ref = HFBertForMaskedLM(HFBertConfig(**HF)).double().eval()
    ours = BertForMaskedLM(OURS).double().eval()
    ours.load_hf_state_dict(ref.state_dict())
    ids, keep, types = _batch()
    labels, _ = ids.clone(), None
    labels[:, ::2] = -100
    loss = ours(ids, keep, types, labels=labels)[1]
    ref_loss = ref(input_ids=ids, attention_mask=keep, token_type_ids=types, labels=labels).loss
    torch.testing.assert_close(loss, ref_loss, atol=1e-10, rtol=1e-10)
    loss.backward()
    ref_loss.backward()
    # The tied embedding gets gradient from both the input and the output: a tying bug shows here.
    torch.testing.assert_close(
        ours.bert.embeddings.tokens.weight.grad,
        ref.bert.embeddings.word_embeddings.weight.grad,
        atol=1e-10,
        rtol=1e-8,
    )


def test_pooler_matches_hf_bert_model():
    torch.manual_seed(2)
    ref = HFBertModel(HFBertConfig(**HF)).double().eval()
    ours = BertModel(OURS).double().eval()
    load_hf_bert_model(ours, ref.state_dict())
    ids, keep, types = _batch()
    out = ref(input_ids=ids, attention_mask=keep, token_type_ids=types)
    _, pooled = ours(ids, keep, types)
    torch.testing.assert_close(pooled, out.pooler_output, atol=1e-10, rtol=1e-10)


def test_masking_80_10_10_matches_hf_collator_statistics():
    # The reference is Hugging Face's DataCollatorForLanguageModeling: the RNG streams differ, so
    # the test compares the rates on 200k tokens (binomial standard error < 0.002 on each rate).
    vocab, mask_id, n = 1000, 3, 200_000
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, vocab, (100, n // 100), generator=g)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = True
    inputs, labels = mask_tokens(ids, mask_id, vocab, special_tokens_mask=special, generator=g)

    class _Tok:
        mask_token, mask_token_id, pad_token = "[MASK]", mask_id, "[PAD]"

        def __len__(self):
            return vocab

        def convert_tokens_to_ids(self, token):
            return mask_id

    torch.manual_seed(0)
    collator = DataCollatorForLanguageModeling(_Tok(), mlm_probability=0.15)
    ref_inputs, ref_labels = collator.torch_mask_tokens(ids.clone(), special_tokens_mask=special)

    def rates(inp, lab):
        t = lab != -100
        return torch.tensor(
            [
                t.float().mean(),
                (inp[t] == mask_id).float().mean(),
                ((inp[t] != mask_id) & (inp[t] != ids[t])).float().mean(),
                (inp[t] == ids[t]).float().mean(),
            ]
        )

    torch.testing.assert_close(
        rates(inputs, labels), rates(ref_inputs, ref_labels), atol=0.01, rtol=0
    )
    assert (labels[:, 0] == -100).all() and (inputs[:, 0] == ids[:, 0]).all()
    assert torch.equal(labels[labels != -100], ids[labels != -100])
    assert ((inputs != ids) <= (labels != -100)).all()  # only targets are ever changed


def test_bad_inputs_are_clear():
    ours = BertForMaskedLM(OURS)
    with pytest.raises(ValueError, match="longer than the position table"):
        ours(torch.zeros(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match="mlm_probability"):
        mask_tokens(torch.zeros(2, 3, dtype=torch.long), 1, 10, mlm_probability=1.5)
    with pytest.raises(ValueError, match="shape mismatch"):
        BertForMaskedLM(BertConfig(**{**OURS.__dict__, "d_ff": 48})).load_hf_state_dict(
            HFBertForMaskedLM(HFBertConfig(**HF)).state_dict()
        )
