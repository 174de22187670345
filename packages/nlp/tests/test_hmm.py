"""Tests for HMMs: forward, backward, posteriors, Viterbi and a Baum–Welch step against brute-force
enumeration of every state path on small models (float64 throughout)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp

from masterclass.nlp.hmm import HMM


def _paths(model: HMM, obs):
    # Every state path with its joint log-probability log P(o, s).
    k = model.n_states
    for s in itertools.product(range(k), repeat=len(obs)):
        lp = model.log_pi[s[0]] + model.log_B[s[0], obs[0]]
        for t in range(1, len(obs)):
            lp += model.log_A[s[t - 1], s[t]] + model.log_B[s[t], obs[t]]
        yield s, lp


CASES = [(2, 3, [0, 2, 1, 1]), (3, 4, [3, 0, 0, 2, 1, 3]), (4, 2, [1, 0, 1])]


@pytest.mark.parametrize(("k", "v", "obs"), CASES)
def test_forward_backward_and_posteriors_match_enumeration(k, v, obs):
    model = HMM.random(k, v, seed=k)
    paths = list(_paths(model, obs))
    ref_ll = float(logsumexp(np.array([lp for _, lp in paths])))
    la, ll = model.forward(obs)
    # Sums of at most 4^6 terms in float64: 1e-12 relative.
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    lb = model.backward(obs)
    for t in range(len(obs)):
        assert float(logsumexp(la[t] + lb[t])) == pytest.approx(ref_ll, rel=1e-12)
    ref_gamma = np.zeros((len(obs), k))
    for s, lp in paths:
        for t, st in enumerate(s):
            ref_gamma[t, st] += np.exp(lp - ref_ll)
    np.testing.assert_allclose(model.posteriors(obs), ref_gamma, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("k", "v", "obs"), CASES)
def test_viterbi_matches_enumeration(k, v, obs):
    model = HMM.random(k, v, seed=10 + k)
    best_path, best_lp = max(_paths(model, obs), key=lambda x: x[1])
    path, lp = model.viterbi(obs)
    assert tuple(path) == best_path
    assert lp == pytest.approx(best_lp, rel=1e-12)


def test_baum_welch_step_matches_enumerated_expected_counts():
    model = HMM.random(2, 3, seed=5)
    seqs = [[0, 1, 2, 2], [2, 0, 1]]
    pi, a, b = np.zeros(2), np.zeros((2, 2)), np.zeros((2, 3))
    for obs in seqs:
        paths = list(_paths(model, obs))
        ll = float(logsumexp(np.array([lp for _, lp in paths])))
        for s, lp in paths:
            w = np.exp(lp - ll)  # posterior of this path
            pi[s[0]] += w
            for t in range(1, len(s)):
                a[s[t - 1], s[t]] += w
            for t, st in enumerate(s):
                b[st, obs[t]] += w
    new, _ = model.baum_welch_step(seqs)
    np.testing.assert_allclose(np.exp(new.log_pi), pi / pi.sum(), rtol=1e-10)
    np.testing.assert_allclose(np.exp(new.log_A), a / a.sum(1, keepdims=True), rtol=1e-10)
    np.testing.assert_allclose(np.exp(new.log_B), b / b.sum(1, keepdims=True), rtol=1e-10)


def test_baum_welch_never_decreases_likelihood_and_recovers_structure():
    # Sample from a sticky two-state model with distinct emissions; EM from a random start must
    # climb monotonically (EM's guarantee; 1e-9 slack for rounding).
    true = HMM(
        np.log([0.5, 0.5]),
        np.log([[0.9, 0.1], [0.1, 0.9]]),
        np.log([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]),
    )
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(30):
        s, obs = rng.integers(2), []
        for _ in range(40):
            obs.append(int(rng.choice(3, p=np.exp(true.log_B[s]))))
            s = int(rng.choice(2, p=np.exp(true.log_A[s])))
        seqs.append(obs)
    fitted, history = HMM.random(2, 3, seed=1).fit(seqs, n_iter=60)
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(history))
    assert sum(fitted.log_likelihood(o) for o in seqs) > sum(
        HMM.random(2, 3, seed=1).log_likelihood(o) for o in seqs
    )
    # Up to relabelling of states, the learnt transitions are sticky.
    assert np.exp(np.diag(fitted.log_A)).min() > 0.75


def test_long_sequence_does_not_underflow():
    model = HMM.random(3, 5, seed=2)
    obs = list(np.random.default_rng(0).integers(0, 5, size=5000))
    ll = model.log_likelihood(obs)
    assert np.isfinite(ll) and ll < -1000


def test_from_labelled_counts():
    m = HMM.from_labelled([[0, 1, 1]], [[1, 0, 0]], n_states=2, n_symbols=2, alpha=0.0)
    np.testing.assert_allclose(np.exp(m.log_pi), [0, 1])
    np.testing.assert_allclose(np.exp(m.log_A), [[1, 0], [1, 0]])
    np.testing.assert_allclose(np.exp(m.log_B), [[0, 1], [1, 0]])


def test_bad_input():
    with pytest.raises(ValueError, match="shapes"):
        HMM(np.zeros(2), np.zeros((3, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="symbol ids"):
        HMM.random(2, 3).forward([0, 3])
    with pytest.raises(ValueError, match="non-empty"):
        HMM.random(2, 3).viterbi([])
