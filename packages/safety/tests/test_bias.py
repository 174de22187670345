"""WEAT against a direct computation, fairness gaps against fairlearn, mitigation shrinks the effect."""

import itertools

import numpy as np
import pytest
import torch
from fairlearn.metrics import demographic_parity_difference as fl_dp
from fairlearn.metrics import equalized_odds_difference as fl_eo

from masterclass.llm import LanguageModel, LMConfig
from masterclass.safety.bias import (
    biased_corpus,
    counterfactual_augment,
    demographic_parity_difference,
    equalized_odds_difference,
    gender_direction,
    hard_debias,
    ppmi_svd_embeddings,
    template_probe,
    vectors,
    weat,
)
from masterclass.safety.fixtures import load_json
from masterclass.training.few_shot import loglikelihood

WORDS = load_json("bias_templates.json")


def _reference_weat(x, y, a, b):
    # Caliskan et al.'s definitions, written out with explicit loops and Python's statistics.
    import statistics

    def cos(u, v):
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    def s(w):
        return statistics.mean(cos(w, ai) for ai in a) - statistics.mean(cos(w, bi) for bi in b)

    sx, sy = [s(w) for w in x], [s(w) for w in y]
    effect = (statistics.mean(sx) - statistics.mean(sy)) / statistics.stdev(sx + sy)
    observed = sum(sx) - sum(sy)
    everything = sx + sy
    count = total = 0
    for idx in itertools.combinations(range(len(everything)), len(sx)):
        xi = sum(everything[i] for i in idx)
        yi = sum(everything) - xi
        count += xi - yi >= observed - 1e-12
        total += 1
    return effect, count / total


def test_weat_equals_a_direct_computation():
    rng = np.random.default_rng(0)
    x, y, a, b = (rng.normal(size=(5, 7)) for _ in range(4))
    x += 0.5 * a.mean(0)  # plant an association
    effect, p = weat(x, y, a, b)
    ref_effect, ref_p = _reference_weat(x, y, a, b)
    assert effect == pytest.approx(ref_effect, abs=1e-12) and p == pytest.approx(ref_p, abs=1e-12)
    assert weat(y, x, a, b)[0] == pytest.approx(-effect, abs=1e-12)
    with pytest.raises(ValueError, match="one size"):
        weat(x[:3], y, a, b)


def test_weat_boundaries_and_the_sampled_p_value():
    rng = np.random.default_rng(5)
    x, y, a, b = (rng.normal(size=(6, 7)) for _ in range(4))
    # Two words a side is the smallest valid size; one is rejected.
    ref_effect, ref_p = _reference_weat(x[:2], y[:2], a, b)
    assert weat(x[:2], y[:2], a, b)[0] == pytest.approx(ref_effect, abs=1e-12)
    with pytest.raises(ValueError, match="one size >= 2"):
        weat(x[:1], y[:1], a, b)
    # When the budget equals the number of splits (C(6, 3) = 20) the test is still exact (0.60
    # here; 20 sampled splits give 0.65).
    exact3 = _reference_weat(x[:3], y[:3], a, b)[1]
    assert weat(x[:3], y[:3], a, b, n_permutations=20)[1] == pytest.approx(exact3, abs=1e-12)
    assert weat(x[:2], y[:2], a, b)[1] == pytest.approx(ref_p, abs=1e-12)
    # Above the budget (C(12, 6) = 924 > 400) it samples splits: a Monte Carlo estimate of the
    # exact p-value, within 4 standard errors sqrt(p (1 - p) / 400).
    exact = _reference_weat(x, y, a, b)[1]
    sampled = weat(x, y, a, b, n_permutations=400)[1]
    assert 0.05 < exact < 0.95
    assert abs(sampled - exact) < 4 * np.sqrt(exact * (1 - exact) / 400)


def test_ppmi_svd_equals_a_direct_computation():
    corpus = biased_corpus(WORDS, 60)
    vocab, emb = ppmi_svd_embeddings(corpus, dim=4)
    # Reference: PPMI from nlp's co-occurrence counts with explicit loops over (w, c), then the
    # rank-4 Gram matrix W W^T = U_4 S_4 U_4^T, which has no SVD sign ambiguity; float64 to 1e-9.
    from masterclass.nlp.embeddings import cooccurrence

    counts = cooccurrence(vocab.encode(corpus), len(vocab.words), 4)
    total, v = counts.sum(), len(vocab.words)
    ppmi = np.zeros((v, v))
    for w in range(v):
        for c in range(v):
            if counts[w, c] > 0:
                pw, pc = counts[w].sum() / total, counts[c].sum() / total
                ppmi[w, c] = max(0.0, float(np.log(counts[w, c] / total / (pw * pc))))
    u, sig, _ = np.linalg.svd(ppmi)
    np.testing.assert_allclose(emb @ emb.T, (u[:, :4] * sig[:4]) @ u[:, :4].T, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_fairness_gaps_equal_fairlearn(seed):
    rng = np.random.default_rng(seed)
    groups = rng.choice(["a", "b", "c"], size=200)
    y_true = rng.integers(0, 2, 200)
    y_pred = (rng.random(200) < np.where(groups == "a", 0.7, 0.4)).astype(int)
    # Both compute rates as ratios of integer counts in float64: equal to 1e-12.
    assert demographic_parity_difference(y_pred, groups) == pytest.approx(
        fl_dp(y_true, y_pred, sensitive_features=groups), abs=1e-12
    )
    assert equalized_odds_difference(y_true, y_pred, groups) == pytest.approx(
        fl_eo(y_true, y_pred, sensitive_features=groups), abs=1e-12
    )


def _effect(sentences, debias=False):
    vocab, emb = ppmi_svd_embeddings(sentences)
    if debias:
        direction = gender_direction(emb, vocab, WORDS["pairs"])
        emb = hard_debias(emb, vocab, direction, WORDS["male"] + WORDS["female"])
    sets = [vectors(vocab, emb, WORDS[k]) for k in ("male", "female", "career", "family")]
    return weat(*sets)


def test_bias_is_detected_and_both_mitigations_shrink_it():
    corpus = biased_corpus(WORDS, 600)
    effect, p = _effect(corpus)
    # Measured: d = 1.91 with p = 1/924 (the observed split is the most extreme of all 924).
    assert effect > 1.5 and p < 0.01
    cda, _ = _effect(counterfactual_augment(corpus, WORDS["pairs"]))
    hard, _ = _effect(corpus, debias=True)
    # Measured: CDA makes the corpus exactly symmetric, d ~ 1e-16 (a 100% reduction); the
    # projection leaves d = 0.06 (97%). The stated fractions: at least 99% and 90%.
    assert abs(cda) < 0.01 * effect
    assert abs(hard) < 0.1 * effect


class _Bytes:
    def encode(self, text):
        return list(text.encode())

    def decode(self, ids):
        return bytes(ids).decode(errors="replace")


def test_template_probe_on_a_stub_and_on_a_language_model():
    def stub(context, continuation):  # says " he" after "nurse" templates less likely by 1 nat
        return -1.0 if ("nurse" in context and continuation == " he") else 0.0

    probe = template_probe(
        stub, WORDS["probe_templates"], ["nurse", "doctor"], WORDS["probe_targets"]
    )
    assert probe == {"nurse": -1.0, "doctor": 0.0}
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=256, d_model=32, n_layers=1, n_heads=2))
    tok = _Bytes()
    scores = template_probe(
        lambda c, t: loglikelihood(model, tok, c, t)[0],
        WORDS["probe_templates"],
        WORDS["occupations"],
        WORDS["probe_targets"],
    )
    assert set(scores) == set(WORDS["occupations"]) and all(np.isfinite(list(scores.values())))
    with pytest.raises(ValueError, match="two continuations"):
        template_probe(stub, ["x"], ["y"], [" a"])
