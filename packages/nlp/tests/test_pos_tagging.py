"""Tests for POS taggers: the averaged perceptron against an explicit average of weight snapshots,
and both taggers' accuracy on held-out sentences of the generated treebank (gold tags)."""

from __future__ import annotations

import random

import pytest

from masterclass.nlp.corpus import generate_treebank
from masterclass.nlp.pos_tagging import (
    AveragedPerceptron,
    HMMTagger,
    PerceptronTagger,
    tagging_accuracy,
)


@pytest.fixture(scope="module")
def data():
    return generate_treebank(600, seed=0), generate_treebank(200, seed=1)


def test_lazy_average_equals_explicit_average():
    # Reference: snapshot all weights after every update call and average the snapshots.
    rng = random.Random(0)
    p = AveragedPerceptron(["a", "b", "c"])
    snapshots = []
    feats_pool = [f"f{i}" for i in range(6)]
    for _ in range(200):
        feats = rng.sample(feats_pool, 3)
        truth, guess = rng.choice("abc"), p.predict(feats)
        p.update(truth, guess, feats)
        snapshots.append({(f, c): w for f, ws in p.weights.items() for c, w in ws.items()})
    keys = set().union(*snapshots)
    ref = {k: sum(s.get(k, 0.0) for s in snapshots) / len(snapshots) for k in keys}
    p.average()
    for (f, c), w in ref.items():
        assert p.weights[f].get(c, 0.0) == pytest.approx(w, abs=1e-12)


def test_hmm_tagger_accuracy(data):
    train, test = data
    tagger = HMMTagger().fit(train)
    acc = tagging_accuracy([s.upos for s in test], [tagger.tag(s.tokens) for s in test])
    # The generated grammar is nearly unambiguous given context; a working tagger gets > 97%.
    assert acc > 0.97


def test_perceptron_tagger_accuracy_and_context(data):
    train, test = data
    tagger = PerceptronTagger(n_iter=4).fit(train)
    acc = tagging_accuracy([s.upos for s in test], [tagger.tag(s.tokens) for s in test])
    assert acc > 0.97
    # "saw" is a noun after a determiner and a verb after a subject.
    assert tagger.tag(["The", "dog", "saw", "a", "saw", "."]) == [
        "DET",
        "NOUN",
        "VERB",
        "DET",
        "NOUN",
        "PUNCT",
    ]


def test_hmm_tagger_handles_unknown_words(data):
    train, _ = data
    tagger = HMMTagger().fit(train)
    assert tagger.tag(["Zorblax", "sees", "a", "glorp", "."]) == [
        "PROPN",
        "VERB",
        "DET",
        "NOUN",
        "PUNCT",
    ]


def test_accuracy_rejects_empty():
    with pytest.raises(ValueError, match="no tokens"):
        tagging_accuracy([], [])
