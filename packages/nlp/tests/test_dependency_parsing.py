"""Tests for dependency parsing: Eisner against brute-force search over all projective trees, the
arc-standard oracle reproducing every gold tree, and both parsers' UAS/LAS on held-out generated
sentences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from masterclass.nlp.corpus import generate_treebank
from masterclass.nlp.dependency_parsing import (
    ArcStandardParser,
    GraphParser,
    attachment_scores,
    eisner,
    oracle_transitions,
)


def _projective_trees(n):
    # Every head vector over words 1..n (0 = ROOT) that is a tree and projective.
    for heads in itertools.product(range(n + 1), repeat=n):
        if any(h == d for d, h in enumerate(heads, 1)):
            continue
        ok = True
        for d in range(1, n + 1):  # reaches ROOT without a cycle
            seen, j = set(), d
            while j and ok:
                if j in seen:
                    ok = False
                seen.add(j)
                j = heads[j - 1]
        if not ok:
            continue
        arcs = [(min(d, h), max(d, h)) for d, h in enumerate(heads, 1)]
        if any(a < c < b < e for a, b in arcs for c, e in arcs):
            continue
        yield list(heads)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_eisner_matches_brute_force(n):
    rng = np.random.default_rng(n)
    for _ in range(5):
        scores = rng.normal(size=(n + 1, n + 1))

        def total(heads, scores=scores):
            return sum(scores[h, d] for d, h in enumerate(heads, 1))

        best = max(_projective_trees(n), key=total)
        got = eisner(scores)
        # Continuous random scores: the optimum is unique, so the trees must be identical.
        assert got == best
        assert total(got) == pytest.approx(total(best), abs=1e-12)


def test_oracle_rebuilds_every_gold_tree():
    from masterclass.nlp.dependency_parsing import _apply

    for s in generate_treebank(200, seed=5):
        n = len(s.tokens)
        stack, buffer, heads, labels = [0], list(range(1, n + 1)), [0] * (n + 1), [""] * (n + 1)
        moves = oracle_transitions(s)
        assert len(moves) == 2 * n
        for m in moves:
            _apply(m, stack, buffer, heads, labels)
        assert heads[1:] == s.heads and labels[1:] == s.deprels


@pytest.fixture(scope="module")
def data():
    return generate_treebank(300, seed=0), generate_treebank(100, seed=1)


def test_transition_parser_accuracy(data):
    train, test = data
    parser = ArcStandardParser(n_iter=4).fit(train)
    heads, labels = zip(*(parser.parse(s) for s in test), strict=True)
    scores = attachment_scores(test, heads, labels)
    # The generated grammar is easy; a working parser gets well above 90%.
    assert scores["uas"] > 0.95 and scores["las"] > 0.93


def test_graph_parser_accuracy(data):
    train, test = data
    parser = GraphParser(n_iter=3).fit(train[:200])
    heads, labels = zip(*(parser.parse(s) for s in test[:60]), strict=True)
    scores = attachment_scores(test[:60], heads, labels)
    assert scores["uas"] > 0.9 and scores["las"] > 0.88


def test_bad_input():
    with pytest.raises(ValueError, match="square"):
        eisner(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no tokens"):
        attachment_scores([], [], [])
