"""The evaluation chapter's pieces on small inputs (fast: no run folder): the compressors' rates,
documents cut out of a held-out stream against a plain loop, seeded samples against `llm`'s
`generate`, and the Kneser–Ney baseline against `nlp`'s model fitted on the documented slice."""

from __future__ import annotations

import bz2
import gzip
import lzma
import random

import numpy as np
import pytest
import torch

from masterclass.capstone import evaluate
from masterclass.capstone.config import END_OF_TEXT
from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.generate import generate
from masterclass.nlp.bpe import BPETokenizer
from masterclass.nlp.ngram import KneserNeyLM

WORDS = ["def", "class", "return", "self", "import", "for", "in", "if", "x", "(", ")", ":"]


def _text(seed: int, n_words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def test_compressor_rates_are_eight_times_the_compressed_fraction():
    # bits per byte = 8 x compressed size / original size, for each compressor at level 9.
    data = _text(0, 2000).encode()
    n = len(data)
    rates = evaluate.compressor_bits_per_byte(data)
    assert rates == {
        "gzip-9": 8 * len(gzip.compress(data, 9)) / n,
        "bz2-9": 8 * len(bz2.compress(data, 9)) / n,
        "xz-9": 8 * len(lzma.compress(data, preset=9)) / n,
    }
    assert all(0 < r < 8 for r in rates.values())  # repetitive text compresses
    with pytest.raises(ValueError, match="empty"):
        evaluate.compressor_bits_per_byte(b"")


def _split_by_loop(stream: list[int], eot: int) -> list[list[int]]:
    # Each EOT opens a document; tokens before the first EOT and empty documents are dropped.
    docs: list[list[int]] = []
    current: list[int] | None = None
    for t in stream:
        if t == eot:
            if current:
                docs.append(current)
            current = []
        elif current is not None:
            current.append(t)
    if current:
        docs.append(current)
    return docs


def test_split_documents_equals_a_loop():
    rng = np.random.default_rng(0)
    cases = [[9, 1, 2, 9, 3], [9, 9, 1, 9], [9, 4, 9, 9], [9], [9, 1]]
    cases += [[9, *rng.integers(0, 10, int(rng.integers(0, 30))).tolist()] for _ in range(200)]
    for stream in cases:
        got = [d.tolist() for d in evaluate.split_documents(np.array(stream), eot=9)]
        assert got == _split_by_loop(stream, 9), stream


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return BPETokenizer.train(
        [_text(s, 300) for s in range(4)], 300, special_tokens=[END_OF_TEXT], num_workers=1
    )


@pytest.fixture(scope="module")
def model(tok) -> LanguageModel:
    torch.manual_seed(0)
    cfg = LMConfig(
        vocab_size=tok.vocab_size, d_model=32, n_layers=1, n_heads=2, max_seq_len=16, pos="learned"
    )
    lm = LanguageModel(cfg).eval()
    with torch.no_grad():  # larger weights than the init, so that samples depend on the context
        for p in lm.parameters():
            p.add_(torch.randn(p.shape) * 0.3)
    return lm


def _generated(model, tok, prompt_ids, n, **kwargs) -> str:
    eot = tok.special_tokens[END_OF_TEXT]
    out = generate(model, torch.tensor([prompt_ids]), n, stop_tokens=[eot], **kwargs)
    return tok.decode([t for t in out[0, len(prompt_ids) :].tolist() if t != eot])


def test_sample_continues_a_new_document_like_generate(model, tok):
    # A prompt starts a document: the model sees [EOT, prompt ids]. Greedy, and top-k = 0 (all
    # tokens) sampled with the seed, against llm's generate given those ids.
    eot = tok.special_tokens[END_OF_TEXT]
    prompt = "def "
    ids = [eot, *tok.encode_ordinary(prompt)]
    kw = dict(max_new_tokens=6, seed=3)
    greedy = evaluate.sample(model, tok, prompt, temperature=0, top_k=5, **kw)
    assert greedy == prompt + _generated(model, tok, ids, 6, temperature=0)
    full = evaluate.sample(model, tok, prompt, temperature=1.0, top_k=0, **kw)
    g = torch.Generator().manual_seed(3)
    assert full == prompt + _generated(model, tok, ids, 6, temperature=1.0, generator=g)
    # Top-1 sampling is greedy decoding, whatever the temperature and seed.
    assert evaluate.sample(model, tok, prompt, temperature=1.0, top_k=1, **kw) == greedy


def test_a_long_prompt_keeps_its_last_tokens_within_the_context(model, tok, monkeypatch):
    # Context 16, 6 new tokens: the model is given the last 10 ids of [EOT, prompt...].
    eot = tok.special_tokens[END_OF_TEXT]
    prompt = _text(7, 40)
    ids = [eot, *tok.encode_ordinary(prompt)]
    assert len(ids) > 16
    seen = []

    def spy(m, idx, n, **kwargs):
        seen.append(idx[0].tolist())
        return generate(m, idx, n, **kwargs)

    monkeypatch.setattr(evaluate, "generate", spy)
    text = evaluate.sample(model, tok, prompt, max_new_tokens=6, temperature=0, top_k=0, seed=0)
    assert seen == [ids[-10:]]
    assert text == prompt + _generated(model, tok, ids[-10:], 6, temperature=0)


def test_a_model_that_ends_the_document_adds_no_text(tok):
    # Final norm outputs e_0 whatever the input; the head maps e_0 to the EOT logit alone: the
    # first new token is EOT, which ends the sample with nothing added (EOT is not text).
    eot = tok.special_tokens[END_OF_TEXT]
    cfg = LMConfig(
        vocab_size=tok.vocab_size,
        d_model=16,
        n_layers=1,
        n_heads=2,
        max_seq_len=16,
        norm="layernorm",
        bias=True,
    )
    lm = LanguageModel(cfg).eval()
    with torch.no_grad():
        lm.norm.weight.zero_()
        lm.norm.bias.zero_()
        lm.norm.bias[0] = 1.0
        lm.lm_head.weight.zero_()
        lm.lm_head.weight[eot, 0] = 30.0  # exp(30) dwarfs the 299 other tokens
    for temperature, top_k in [(0, 0), (1.0, 3)]:
        text = evaluate.sample(
            lm, tok, "x = ", max_new_tokens=5, temperature=temperature, top_k=top_k, seed=1
        )
        assert text == "x = "


def test_sample_refuses_negative_options(model, tok):
    with pytest.raises(ValueError, match="top_k"):
        evaluate.sample(model, tok, "x", max_new_tokens=2, temperature=1.0, top_k=-1, seed=0)
    with pytest.raises(ValueError, match="temperature"):
        evaluate.sample(model, tok, "x", max_new_tokens=2, temperature=-0.5, top_k=0, seed=0)


def test_kneser_ney_baseline_fits_the_documented_slice_of_train():
    # Documents are taken while fewer than `max_train_bytes` bytes are taken (the one that
    # crosses the limit is kept). Reference: nlp's model fitted on that slice, its bits per
    # symbol averaged over the held-out documents weighted by their lengths.
    train = [_text(s, 3).encode()[:10].ljust(10, b".") for s in range(6)]  # six 10-byte documents
    heldout = [_text(10, 30).encode(), b"", _text(11, 12).encode()]

    def reference(docs):
        lm = KneserNeyLM(3).fit(docs)
        texts = [d for d in heldout if d]
        return sum(lm.bits_per_symbol(d) * len(d) for d in texts) / sum(map(len, texts))

    for limit, taken in [(None, 6), (60, 6), (20, 2), (11, 2), (10, 1), (1, 1)]:
        got = evaluate.kneser_ney_bits_per_byte(train, heldout, order=3, max_train_bytes=limit)
        assert got == pytest.approx(reference(train[:taken]), rel=1e-9), limit


def test_run_evaluate_puts_the_model_and_the_baselines_on_the_same_bytes(model, tok):
    # A run folder reduced to what the stage reads. The held-out stream is built here from the
    # documents, so its bytes are known without the stage: every baseline must see exactly them.
    from types import SimpleNamespace

    from masterclass.capstone.measure import heldout_nll, token_bytes_table

    eot = tok.special_tokens[END_OF_TEXT]
    docs = [_text(20 + i, 25).encode() for i in range(3)]
    stream = np.array([t for d in docs for t in [eot, *tok.encode_bytes(d)]])
    train = [_text(30 + i, 40).encode() for i in range(4)]
    run = SimpleNamespace(
        load_tokenizer=lambda: tok,
        load_model=lambda device: model,
        heldout_stream=lambda n: stream if n is None else stream[:n],
        corpus_split=lambda name: {"train": train}[name],
    )
    cfg = SimpleNamespace(
        seed=5,
        model=SimpleNamespace(max_seq_len=16),
        train=SimpleNamespace(batch_size=4),
        evaluate=SimpleNamespace(
            max_tokens=None, kn_order=3, kn_max_train_bytes=None, prompts=["def ", "def "],
            sample_tokens=4, temperature=1.0, top_k=0,
        ),
    )  # fmt: skip
    result = evaluate.run_evaluate(cfg, run, device="cpu")
    heldout = b"".join(docs)
    assert result["heldout_bytes"] == len(heldout) and result["heldout_documents"] == 3
    ours = heldout_nll(model, stream, 16, token_bytes=token_bytes_table(tok), batch_size=4)
    assert result["model"] == ours and ours["bytes"] == len(heldout)
    baselines = result["baselines_bits_per_byte"]
    assert {k: baselines[k] for k in ("gzip-9", "bz2-9", "xz-9")} == (
        evaluate.compressor_bits_per_byte(heldout)
    )
    assert baselines["kneser-ney-3"] == pytest.approx(
        evaluate.kneser_ney_bits_per_byte(train, docs, order=3, max_train_bytes=None), rel=1e-12
    )
    assert result["beats"] == {k: ours["bits_per_byte"] < v for k, v in baselines.items()}
    # Prompt i is sampled with seed `seed + i`: the same prompt twice gives two seeded samples.
    expected = [
        evaluate.sample(model, tok, "def ", max_new_tokens=4, temperature=1.0, top_k=0, seed=5 + i)
        for i in range(2)
    ]
    assert [s["text"] for s in result["samples"]] == expected
