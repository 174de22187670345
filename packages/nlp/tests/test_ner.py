"""Tests for NER: the CRF's partition function, sequence score and Viterbi against brute-force
enumeration of all tag sequences, its gradient against finite differences (gradcheck, float64),
span F1 on hand-checked cases, and a trained tagger on the generated corpus."""

from __future__ import annotations

import itertools

import pytest
import torch

from masterclass.nlp.corpus import generate_treebank
from masterclass.nlp.ner import (
    CRFTagger,
    LinearChainCRF,
    bilou_to_bio,
    bio_to_bilou,
    span_f1,
    spans,
)


def _crf(k, seed=0):
    torch.manual_seed(seed)
    crf = LinearChainCRF(k).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


@torch.no_grad()
def _brute(crf, emissions, length):
    # Score every tag sequence of the true length; return (log Z, best sequence, best score).
    k = emissions.shape[-1]
    scores = {}
    for y in itertools.product(range(k), repeat=length):
        s = crf.start[y[0]] + crf.end[y[-1]] + sum(emissions[t, y[t]] for t in range(length))
        s = s + sum(crf.transitions[y[t - 1], y[t]] for t in range(1, length))
        scores[y] = s
    stacked = torch.stack(list(scores.values()))
    best = max(scores, key=lambda y: scores[y].item())
    return torch.logsumexp(stacked, 0), best, scores


def test_partition_score_and_viterbi_match_enumeration():
    k, lengths = 3, [4, 2, 5]
    crf = _crf(k)
    e = torch.randn(len(lengths), max(lengths), k, dtype=torch.float64)
    mask = torch.tensor([[t < n for t in range(max(lengths))] for n in lengths])
    log_z = crf.log_partition(e, mask)
    paths = crf.viterbi(e, mask)
    for b, n in enumerate(lengths):
        ref_z, best, scores = _brute(crf, e[b], n)
        # float64, at most 3^5 terms: 1e-10.
        torch.testing.assert_close(log_z[b], ref_z, rtol=1e-10, atol=1e-10)
        assert tuple(paths[b]) == best
        y = torch.tensor([[*best, *([0] * (max(lengths) - n))]])
        torch.testing.assert_close(
            crf.score(e[b : b + 1], y, mask[b : b + 1])[0], scores[best], rtol=1e-10, atol=1e-10
        )


class _NLL(LinearChainCRF):
    # The NLL as `forward`, so that `functional_call` can substitute the parameters.
    def forward(self, emissions, tags, mask):
        return self.nll(emissions, tags, mask)


def test_nll_gradient_passes_gradcheck():
    # Autograd through the forward algorithm vs central finite differences, in float64.
    crf = _NLL(3).double()
    e = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    tags = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 0]])
    params = [
        torch.randn(3, 3, dtype=torch.float64),
        torch.randn(3, dtype=torch.float64),
        torch.randn(3, dtype=torch.float64),
    ]
    params = [p.requires_grad_(True) for p in params]

    def f(emissions, transitions, start, end):
        state = {"transitions": transitions, "start": start, "end": end}
        return torch.func.functional_call(crf, state, (emissions, tags, mask))

    assert torch.autograd.gradcheck(f, (e, *params), eps=1e-6, atol=1e-6)


def test_spans_and_f1_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]
    # gold spans: PER(0,2), LOC(3,4), ORG(0,1); predicted: PER(0,2), ORG(3,4), ORG(0,1): 2 correct of 3.
    assert span_f1(gold, pred) == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    assert spans(["I-PER", "I-PER", "B-PER"]) == {("PER", 0, 2), ("PER", 2, 3)}


def test_bio_bilou_round_trip():
    for s in generate_treebank(100, seed=4):
        bilou = bio_to_bilou(s.ner)
        assert bilou_to_bio(bilou) == s.ner
        assert spans(bilou) == spans(s.ner)


def test_crf_tagger_learns_entities():
    train, test = generate_treebank(300, seed=0), generate_treebank(100, seed=1)
    tags = sorted({t for s in train for t in s.ner})
    model = CRFTagger(tags)
    history = model.fit(train, epochs=3)
    assert history[-1] < history[0]
    pred = model.tag([s.tokens for s in test])
    assert span_f1([s.ner for s in test], pred)["f1"] > 0.9
