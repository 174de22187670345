"""A short MLM pretraining run on the standard library's source lowers the held-out loss."""

import math

import pytest

from masterclass.transformer.bert import BertConfig
from masterclass.transformer.mlm_pretraining import (
    BYTE_SPECIALS,
    VOCAB_SIZE,
    MLMRunConfig,
    pretrain_mlm,
    stdlib_corpus,
)


def test_corpus_is_deterministic_and_disjoint():
    a, b = stdlib_corpus(5000), stdlib_corpus(5000)
    assert a == b and len(a) == 5000
    assert stdlib_corpus(5000, skip_bytes=5000) == stdlib_corpus(10000)[5000:]


def test_mlm_pretraining_lowers_heldout_loss():
    result = pretrain_mlm(MLMRunConfig(steps=40))
    # At initialization the predictions are nearly uniform over 260 ids: ln(260) = 5.56 nats.
    assert abs(result["heldout_before"] - math.log(VOCAB_SIZE)) < 0.3
    # 40 steps learn at least the byte frequencies (unigram entropy of Python source is about
    # 3.1 nats); we measured 3.3 nats. A model that learned nothing stays near 5.56.
    assert result["heldout_after"] < result["heldout_before"] - 1.5
    losses = result["train_loss"]
    assert sum(losses[-10:]) / 10 < sum(losses[:5]) / 5 - 1.0


def test_bad_run_config_is_clear():
    with pytest.raises(ValueError, match="vocab_size"):
        pretrain_mlm(MLMRunConfig(model=BertConfig(vocab_size=100)))
    small = BertConfig(vocab_size=VOCAB_SIZE, max_positions=16, pad_token_id=BYTE_SPECIALS["[PAD]"])
    with pytest.raises(ValueError, match="max_positions"):
        pretrain_mlm(MLMRunConfig(model=small, seq_len=32))
