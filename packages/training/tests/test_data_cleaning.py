"""The cleaning pipeline on the generated corpus: each kind of junk removed by the stage meant
for it, every good document kept, shards that decode back to the kept text."""

import unicodedata

import pytest

from masterclass.infra.shards import TokenShards
from masterclass.nlp import BPETokenizer
from masterclass.training.data_cleaning import (
    clean_corpus,
    make_demo_corpus,
    normalize_unicode,
    run_pipeline,
)


@pytest.mark.slow  # the language identifier and MinHash take a few seconds
def test_pipeline_removes_each_kind_of_junk_and_keeps_the_rest(tmp_path):
    docs, kinds = make_demo_corpus(n_good=30, seed=0)
    tok = BPETokenizer.train(docs, 300, special_tokens=["<|endoftext|>"])
    paths, report = run_pipeline(docs, tok, tmp_path, shard_tokens=4096)
    assert report.raw == sum(kinds.values())
    assert report.after_boilerplate == report.raw - kinds["boilerplate_only"]
    assert report.after_filter == report.after_boilerplate - kinds["other_language"] - kinds["spam"]
    assert report.filter_reasons["language"] == kinds["other_language"]
    assert report.after_exact_dedup == report.after_filter - kinds["exact_duplicate"]
    assert report.after_near_dedup == kinds["good"] + kinds["pii"]
    assert report.pii_masked == kinds["pii"]
    # The shards hold exactly the kept documents, each followed by the end-of-text id.
    texts, _ = clean_corpus(docs)
    stream = TokenShards(paths).to_numpy().tolist()
    assert len(paths) > 1
    assert tok.decode(stream) == "".join(t + "<|endoftext|>" for t in texts)
    assert not any("@example.com" in t or "555-123" in t for t in texts)


def test_unicode_normalisation_against_unicodedata():
    s = "Cafe\u0301 \u212b\x07\tok\n"
    out = normalize_unicode(s)
    assert out == unicodedata.normalize("NFC", "Cafe\u0301 \u212b\tok\n")
    assert "\x07" not in out and unicodedata.is_normalized("NFC", out)


def test_a_tokenizer_without_end_of_text_is_refused(tmp_path):
    tok = BPETokenizer.train(["abc def"] * 3, 260)
    with pytest.raises(ValueError, match="special token"):
        run_pipeline(["x"], tok, tmp_path)
