"""Tests for n-gram models: vectorised interpolated Kneser–Ney and add-k against a dictionary-based
implementation written straight from the formulas, normalisation, and bad input."""

from __future__ import annotations

import math
import random
from collections import defaultdict

import numpy as np
import pytest

from masterclass.nlp.ngram import AddKLM, KneserNeyLM


class _ReferenceKN:
    # Chen & Goodman's interpolated Kneser–Ney with one discount per order, on tuples and dicts.
    def __init__(self, order, vocab_size, sequences):
        self.n, self.v = order, vocab_size
        bos = vocab_size
        counts = [defaultdict(int) for _ in range(order + 1)]
        for seq in sequences:
            padded = [bos] * (order - 1) + list(seq)
            for i in range(order - 1, len(padded)):
                counts[order][tuple(padded[i - order + 1 : i + 1])] += 1
        self.c = {order: dict(counts[order])}
        for m in range(order - 1, 0, -1):
            cont = defaultdict(int)
            for gram in self.c[m + 1]:
                cont[gram[1:]] += 1  # one more distinct left extension
            self.c[m] = dict(cont)
        self.d, self.ctx_total, self.ctx_types = {}, {}, {}
        for m in range(1, order + 1):
            vals = list(self.c[m].values())
            n1, n2 = vals.count(1), vals.count(2)
            self.d[m] = n1 / (n1 + 2 * n2) if n1 and n2 else 0.5
            tot, typ = defaultdict(int), defaultdict(int)
            for gram, c in self.c[m].items():
                tot[gram[:-1]] += c
                typ[gram[:-1]] += 1
            self.ctx_total[m], self.ctx_types[m] = tot, typ

    def prob(self, history, w):
        p = 1.0 / self.v
        for m in range(1, self.n + 1):
            h = tuple(history[len(history) - (m - 1) :]) if m > 1 else ()
            total = self.ctx_total[m].get(h, 0)
            if total == 0:
                continue
            c = self.c[m].get((*h, w), 0)
            p = (max(c - self.d[m], 0) + self.d[m] * self.ctx_types[m][h] * p) / total
        return p

    def log_prob(self, seq):
        padded = [self.v] * (self.n - 1) + list(seq)
        return sum(
            math.log(self.prob(padded[i - self.n + 1 : i], padded[i]))
            for i in range(self.n - 1, len(padded))
        )


def _corpus(seed, n_seqs=30, vocab=6):
    rng = random.Random(seed)
    # A skewed Markov source, so that counts of 1 and 2 (the discount estimate) both occur.
    return [
        [min(int(rng.expovariate(0.8)), vocab - 1) for _ in range(rng.randint(5, 60))]
        for _ in range(n_seqs)
    ]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_matches_reference(order):
    train, test = _corpus(0), _corpus(1, n_seqs=10, vocab=7)
    test = [[min(x, 5) for x in s] for s in test] + [[5, 5, 5, 0, 5]]  # includes unseen n-grams
    ours = KneserNeyLM(order, vocab_size=7).fit(train)
    ref = _ReferenceKN(order, 7, train)
    # Same float64 arithmetic in a different order: agreement to 1e-12 relative.
    for seq in test:
        assert ours.log_prob(seq) == pytest.approx(ref.log_prob(seq), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("order", [1, 3, 5])
def test_distributions_sum_to_one(order):
    lm = KneserNeyLM(order, vocab_size=7).fit(_corpus(2))
    rng = random.Random(3)
    for _ in range(20):
        history = [rng.randrange(7) for _ in range(rng.randint(0, 6))]
        p = lm.next_distribution(history)
        assert p.shape == (7,) and (p > 0).all()
        assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_add_k_matches_formula():
    train = _corpus(4)
    lm = AddKLM(3, k=0.5, vocab_size=7).fit(train)
    counts, ctx = defaultdict(int), defaultdict(int)
    for seq in train:
        padded = [7, 7, *seq]
        for i in range(2, len(padded)):
            counts[tuple(padded[i - 2 : i + 1])] += 1
            ctx[tuple(padded[i - 2 : i])] += 1
    seq = [0, 1, 2, 6, 0]
    padded = [7, 7, *seq]
    ref = sum(
        math.log(
            (counts[tuple(padded[i - 2 : i + 1])] + 0.5) / (ctx[tuple(padded[i - 2 : i])] + 0.5 * 7)
        )
        for i in range(2, len(padded))
    )
    assert lm.log_prob(seq) == pytest.approx(ref, rel=1e-12)
    assert lm.next_distribution([1, 2]).sum() == pytest.approx(1.0, abs=1e-12)


def test_bytes_model_beats_add_k_and_uniform():
    # On held-out Python source, KN at order 4 must beat add-one at order 4, and both beat 8 bits.
    import inspect

    text = (
        inspect.getsource(math.__loader__.__class__).encode() + inspect.getsource(random).encode()
    )
    train, test = text[: len(text) * 4 // 5], text[len(text) * 4 // 5 :]
    kn = KneserNeyLM(4).fit([train]).bits_per_symbol(test)
    addk = AddKLM(4, k=1.0).fit([train]).bits_per_symbol(test)
    assert kn < addk < 8.0
    assert KneserNeyLM(4).fit([train]).perplexity(test) == pytest.approx(2**kn, rel=1e-9)


def test_sampling_is_seeded_and_in_vocabulary():
    lm = KneserNeyLM(3).fit([b"the cat sat on the mat. " * 30])
    a = lm.sample(50, seed=7, history=list(b"the "))
    assert a == lm.sample(50, seed=7, history=list(b"the "))
    assert all(0 <= x < 256 for x in a)
    # Order-3 greedy-ish continuation of a memorised text stays on it.
    assert bytes(lm.sample(3, seed=0, history=list(b"the c"), temperature=0.01)) == b"at "


def test_bad_input():
    with pytest.raises(ValueError, match="order"):
        KneserNeyLM(0)
    with pytest.raises(ValueError, match="does not fit"):
        KneserNeyLM(5, vocab_size=50_000)
    with pytest.raises(ValueError, match="empty corpus"):
        KneserNeyLM(3).fit([b"", []])
    with pytest.raises(ValueError, match="symbols must be in"):
        KneserNeyLM(2, vocab_size=4).fit([[0, 1, 4]])
    with pytest.raises(TypeError, match="iterable of sequences"):
        KneserNeyLM(2).fit(b"abc")
    with pytest.raises(ValueError, match="fit"):
        KneserNeyLM(2).log_prob(b"abc")
    assert np.isfinite(KneserNeyLM(2).fit([b"ab"]).log_prob(b"\x00\xff"))
