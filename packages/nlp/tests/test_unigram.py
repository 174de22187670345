"""Tests for the Unigram tokenizer: lattice algorithms against brute-force enumeration of all
segmentations, Viterbi against sentencepiece on sentencepiece's own vocabulary, and training
compared with sentencepiece's unigram trainer on the same corpus."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import regex
import sentencepiece as spm

from masterclass.nlp.unigram import UnigramTokenizer, _words

TOY = {
    "▁": -2.0,
    "a": -2.5,
    "b": -2.2,
    "c": -3.0,
    "ab": -2.8,
    "bc": -2.9,
    "▁a": -2.1,
    "abc": -4.0,
    "▁ab": -3.5,
}


def _segmentations(word, vocab):
    if not word:
        yield []
        return
    for e in range(1, len(word) + 1):
        if word[:e] in vocab:
            for rest in _segmentations(word[e:], vocab):
                yield [word[:e], *rest]


@pytest.mark.parametrize("word", ["▁abc", "▁abcab", "▁cba", "▁bcabc"])
def test_lattice_matches_enumeration(word):
    tok = UnigramTokenizer(TOY)
    segs = list(_segmentations(word, TOY))
    scores = [sum(TOY[p] for p in s) for s in segs]
    ref_ll = math.log(sum(math.exp(x) for x in scores))
    assert tok.word_log_likelihood(word) == pytest.approx(ref_ll, rel=1e-12)
    assert tok.segment(word) == segs[max(range(len(segs)), key=scores.__getitem__)]
    # Expected piece counts (E-step) = posterior-weighted counts over all segmentations.
    counts, total = tok._expected_counts({word: 3})
    ref = Counter()
    for s, x in zip(segs, scores, strict=True):
        for p in s:
            ref[p] += 3 * math.exp(x - ref_ll)
    assert total == pytest.approx(3 * ref_ll, rel=1e-12)
    for p in set(ref) | set(counts):
        assert counts[p] == pytest.approx(ref[p], rel=1e-9, abs=1e-12)


def test_sampling_follows_scaled_distribution():
    # Empirical frequencies of 4000 samples vs P(x)^alpha normalised; 4000 draws give a standard
    # error below 0.008 per segmentation, so 0.03 is a > 3.5-sigma bound.
    tok, word, alpha = UnigramTokenizer(TOY), "▁abc", 0.5
    segs = list(_segmentations(word, TOY))
    w = [math.exp(alpha * sum(TOY[p] for p in s)) for s in segs]
    expected = {tuple(s): x / sum(w) for s, x in zip(segs, w, strict=True)}
    draws = Counter(tuple(tok.sample("abc", alpha=alpha, seed=i)) for i in range(4000))
    for s, p in expected.items():
        assert draws[s] / 4000 == pytest.approx(p, abs=0.03)
    assert tok.sample("abc abc", seed=3) == tok.sample("abc abc", seed=3)


@pytest.fixture(scope="module")
def corpus(train_texts):
    text = " ".join(regex.findall(r"[A-Za-z]+", " ".join(train_texts)))[:80_000]
    lines = [text[i : i + 1000] for i in range(0, len(text), 1000)]
    return lines[:-10], lines[-10:]


@pytest.fixture(scope="module")
def sp_model(corpus, tmp_path_factory):
    train, _ = corpus
    prefix = str(tmp_path_factory.mktemp("spm") / "m")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(train), model_prefix=prefix, model_type="unigram", vocab_size=303,
        normalization_rule_name="identity", character_coverage=1.0, minloglevel=2,
        split_by_number=False, split_by_unicode_script=False, max_sentencepiece_length=12,
    )  # fmt: skip
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def _scores(sp):
    return {
        sp.id_to_piece(i): sp.get_score(i)
        for i in range(sp.get_piece_size())
        if not (sp.is_control(i) or sp.is_unknown(i))
    }


def test_viterbi_matches_sentencepiece_on_its_vocabulary(corpus, sp_model):
    # Same pieces, same scores: both compute the exact argmax, so segmentations must be identical.
    ours = UnigramTokenizer(_scores(sp_model))
    for line in corpus[1]:
        for w in _words(line):
            assert ours.segment(w) == sp_model.encode(w[1:], out_type=str)


def test_training_compared_with_sentencepiece(corpus, sp_model):
    train, test = corpus
    ours = UnigramTokenizer.train(train, 300)
    assert len(ours.log_probs) == 300
    theirs = UnigramTokenizer(_scores(sp_model))
    words = [w for line in test for w in _words(line)]
    agreement = sum(ours.segment(w) == theirs.segment(w) for w in words) / len(words)
    ll_ours = sum(ours._viterbi(w)[1] for w in words) / len(words)
    ll_theirs = sum(theirs._viterbi(w)[1] for w in words) / len(words)
    print(
        f"\nunigram vs sentencepiece: agreement {agreement:.3f}, held-out log-lik/word ours {ll_ours:.3f}, spm {ll_theirs:.3f}"
    )
    # Different M-steps (ML vs SentencePiece's Bayesian digamma update) and seeds: segmentations
    # agree on a majority of words, and our likelihood is within 15% of sentencepiece's.
    assert agreement > 0.4
    assert ll_ours > 1.15 * ll_theirs
    assert ours.decode(ours.encode(test[0])) == " ".join(test[0].split())


def test_em_step_does_not_lower_likelihood(corpus):
    train, _ = corpus
    words = Counter(w for t in train[:10] for w in _words(t))
    model = UnigramTokenizer.train(train[:10], 150)
    counts, before = model._expected_counts(words)
    z = sum(counts.values())
    updated = UnigramTokenizer({p: math.log(max(c, 1e-12) / z) for p, c in counts.items()})
    _, after = updated._expected_counts(words)
    assert after >= before - 1e-6


def test_errors():
    with pytest.raises(ValueError, match="empty corpus"):
        UnigramTokenizer.train(["  "], 10)
    with pytest.raises(ValueError, match="distinct characters"):
        UnigramTokenizer.train(["abcdef"], 3)
    with pytest.raises(ValueError, match="at least one piece"):
        UnigramTokenizer({})
    assert UnigramTokenizer(TOY).segment("▁az") == ["▁a", "z"]  # unknown character survives
