"""Tests for WordPiece: encoding against Hugging Face `tokenizers`' WordPiece with the same
vocabulary, training against a naive recount, and the likelihood-gain criterion."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest
import tokenizers

from masterclass.nlp.wordpiece import WordPieceTokenizer, bert_pretokenize

UNICODE = (
    "héllo wörld 日本語 テスト 🎉👨‍👩‍👧 ok \u00a0\u2028 x\r\n  \t\n “quoted” — dash… ¿qué? ½ "
    "\x1c\x1f\x85 a\u200bb e\u0301 don't stop-words (x)[y]{z} $5 @me #tag ~home `code`"
)


@pytest.fixture(scope="module")
def wp(train_texts) -> WordPieceTokenizer:
    return WordPieceTokenizer.train([t[:5000] for t in train_texts[:12]], 700)


def test_matches_huggingface_wordpiece(wp, heldout_texts):
    hf = tokenizers.Tokenizer.from_str(wp.to_hf_json())
    for text in [*heldout_texts[:15], UNICODE]:
        assert wp.encode(text) == hf.encode(text).ids


def test_lowercase_matches_huggingface(train_texts):
    wp = WordPieceTokenizer.train([t[:3000] for t in train_texts[:5]], 400, lowercase=True)
    hf = tokenizers.Tokenizer.from_str(wp.to_hf_json())
    text = "The Quick BROWN Fox; Jumps OVER the lazy DOG's back."
    assert wp.encode(text) == hf.encode(text).ids


def _naive_train(texts, vocab_size, specials=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")):
    # Recount units and pairs from scratch at every merge.
    wc = Counter(w for t in texts for w in bert_pretokenize(t))
    words = {w: [w[0]] + ["##" + ch for ch in w[1:]] for w in wc}
    alphabet = sorted({u for s in words.values() for u in s}, key=lambda u: (u.startswith("##"), u))
    vocab = [*specials, *alphabet]
    while len(vocab) < vocab_size:
        units, pairs = Counter(), Counter()
        for w, seq in words.items():
            for u in seq:
                units[u] += wc[w]
            for p in pairwise(seq):
                pairs[p] += wc[w]
        if not pairs:
            break
        a, b = min(pairs, key=lambda p: (-pairs[p] / (units[p[0]] * units[p[1]]), -pairs[p], p))
        merged = a + b[2:]
        for w, seq in words.items():
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and (seq[i], seq[i + 1]) == (a, b):
                    out.append(merged)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            words[w] = out
        if merged not in vocab:
            vocab.append(merged)
    return vocab


def test_training_matches_naive_recount(train_texts):
    texts = [t[:1500] for t in train_texts[:4]]
    assert WordPieceTokenizer.train(texts, 300).vocab == _naive_train(texts, 300)


def test_score_prefers_pairs_that_stick_together():
    # "e s" is the most frequent pair, but "q ##u" always co-occur: c(qu) / (c(q) c(u)) is larger.
    texts = ["es es es es es es es ees see qu qu"]
    wp = WordPieceTokenizer.train(texts, 5 + 6 + 1)  # specials + alphabet {e, q, s, ##e, ##s, ##u}
    assert wp.vocab[-1] == "qu"


def test_greedy_longest_match_and_unk():
    wp = WordPieceTokenizer(["[UNK]", "a", "ab", "abc", "##c", "##d", "##cd", "b"])
    assert wp.tokenize("abcd abd bx") == ["abc", "##d", "ab", "##d", "[UNK]"]
    assert wp.decode(wp.encode("abcd abd")) == "abcd abd"


def test_errors():
    with pytest.raises(ValueError, match="empty corpus"):
        WordPieceTokenizer.train(["   "], 100)
    with pytest.raises(ValueError, match="vocab_size must be at least"):
        WordPieceTokenizer.train(["abc"], 6)
    with pytest.raises(ValueError, match="unk_token"):
        WordPieceTokenizer(["a"])
    with pytest.raises(ValueError, match="cannot decode"):
        WordPieceTokenizer(["[UNK]"]).decode([3])
