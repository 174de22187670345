"""T5 against Hugging Face's `T5ForConditionalGeneration` with copied weights; span corruption."""

import pytest
import torch
from transformers import T5Config as HFT5Config
from transformers import T5ForConditionalGeneration as HFT5
from transformers.models.t5.modeling_t5 import T5Attention

from masterclass.transformer.t5 import (
    T5Config,
    T5ForConditionalGeneration,
    relative_position_bucket,
    shift_right,
    span_corruption,
)


def _hf_cfg(ff):
    return HFT5Config(
        vocab_size=103,
        d_model=32,
        d_kv=8,
        d_ff=48,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=16,
        relative_attention_max_distance=20,
        feed_forward_proj=ff,
        dropout_rate=0.0,
        attn_implementation="eager",
        decoder_start_token_id=0,
        pad_token_id=0,
    )


def _ours_cfg(ff):
    return T5Config(
        vocab_size=103,
        d_model=32,
        d_kv=8,
        d_ff=48,
        n_layers=2,
        n_decoder_layers=2,
        n_heads=4,
        n_buckets=16,
        max_distance=20,
        feed_forward=ff,
    )


@pytest.mark.parametrize("bidirectional", [True, False])
def test_buckets_match_hf(bidirectional):
    offsets = torch.arange(-300, 300)[None]
    for n, d in ((32, 128), (16, 20), (8, 10)):
        ours = relative_position_bucket(offsets, bidirectional, n, d)
        ref = T5Attention._relative_position_bucket(offsets, bidirectional, n, d)
        assert torch.equal(ours, ref)


@pytest.mark.parametrize("ff", ["relu", "gated-gelu"])
def test_logits_match_hf_t5_float32(ff):
    torch.manual_seed(0)
    ref = HFT5(_hf_cfg(ff)).eval()
    ours = T5ForConditionalGeneration(_ours_cfg(ff)).eval()
    ours.load_hf_state_dict(ref.state_dict())
    g = torch.Generator().manual_seed(0)
    src = torch.randint(1, 103, (2, 30), generator=g)  # 30 > max_distance: far buckets are used
    keep = torch.ones(2, 30, dtype=torch.long)
    keep[1, 22:] = 0
    labels = torch.randint(1, 103, (2, 9), generator=g)
    logits, loss = ours(src, keep, labels=labels)
    out = ref(input_ids=src, attention_mask=keep, labels=labels)
    # float32 through 2 + 2 blocks, RMSNorm and unscaled scores; 2e-5 is ~100 ulps at logits ~1
    # (T5's weights are initialised larger than BERT's, so logits are larger too).
    torch.testing.assert_close(logits, out.logits, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(loss, out.loss, atol=1e-5, rtol=1e-5)


def test_gradients_match_hf_float64():
    torch.manual_seed(1)
    ref = HFT5(_hf_cfg("relu")).double().eval()
    ours = T5ForConditionalGeneration(_ours_cfg("relu")).double().eval()
    ours.load_hf_state_dict(ref.state_dict())
    src = torch.randint(1, 103, (2, 12), generator=torch.Generator().manual_seed(1))
    labels = src[:, :7].clone()
    ours(src, labels=labels)[1].backward()
    ref(input_ids=src, labels=labels).loss.backward()
    # HF's T5LayerNorm computes the variance in float32 even for float64 inputs, so agreement is
    # bounded by float32 rounding of that one factor (~1e-7 relative), not by float64's.
    tol = dict(atol=1e-7, rtol=1e-5)
    torch.testing.assert_close(ours.shared.weight.grad, ref.shared.weight.grad, **tol)
    torch.testing.assert_close(
        ours.encoder.position_bias.bias.weight.grad,
        ref.encoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight.grad,
        **tol,
    )


def test_span_corruption_roundtrip_and_counts():
    g = torch.Generator().manual_seed(0)
    tokens = torch.arange(100, 200)  # (100,), ids below the sentinels
    inputs, targets = span_corruption(tokens, sentinel_start_id=999, generator=g)
    # 15 noise tokens in round(15 / 3) = 5 spans: 5 sentinels in the input, 6 in the target.
    assert ((inputs > 900).sum(), (targets > 900).sum()) == (5, 6)
    assert len(targets) - 6 == 15 and len(inputs) - 5 == 85
    # Replacing each sentinel of the input by the span that follows it in the target rebuilds
    # the original sequence exactly.
    spans, current = {}, None
    for t in targets.tolist():
        if t > 900:
            current = t
            spans[current] = []
        else:
            spans[current].append(t)
    rebuilt = []
    for t in inputs.tolist():
        rebuilt += spans[t] if t > 900 else [t]
    assert rebuilt == tokens.tolist()
    assert inputs.tolist().count(999) == 1 and targets[-1] == 999 - 5


def test_shift_right_and_bad_inputs():
    labels = torch.tensor([[5, 6, -100]])
    assert shift_right(labels, 0, 0).tolist() == [[0, 5, 6]]
    with pytest.raises(ValueError, match="too short"):
        span_corruption(torch.arange(1), 99)
    with pytest.raises(ValueError, match="feed_forward"):
        T5ForConditionalGeneration(_ours_cfg("swish"))
    wrong = _ours_cfg("relu")
    wrong.d_ff = 40
    with pytest.raises(ValueError, match="shape mismatch"):
        T5ForConditionalGeneration(wrong).load_hf_state_dict(HFT5(_hf_cfg("relu")).state_dict())
    with pytest.raises(ValueError, match="incomplete"):
        T5ForConditionalGeneration(_ours_cfg("gated-gelu")).load_hf_state_dict(
            HFT5(_hf_cfg("relu")).state_dict()
        )
