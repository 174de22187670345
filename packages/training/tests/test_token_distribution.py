"""Token statistics against scipy (entropy, regression), a Zipf exponent recovered from a
known Zipfian sample, coverage by brute force, and temperature mixing over 10^6 draws."""

import numpy as np
import pytest
from scipy import stats

from masterclass.training.token_distribution import (
    coverage_curve,
    entropy_bits,
    mixture_weights,
    sample_domains,
    token_counts,
    types_for_coverage,
    zipf_fit,
)


def _zipf_sample(s, V, n, seed):
    rng = np.random.default_rng(seed)
    p = np.arange(1, V + 1, dtype=float) ** -s
    return rng.choice(V, size=n, p=p / p.sum())


def test_zipf_exponent_is_recovered_and_matches_scipy_regression():
    ids = _zipf_sample(1.2, 2000, 200_000, seed=0)
    counts = token_counts(ids, 2000)
    fit = zipf_fit(counts, min_count=20)
    # The sample was drawn with s = 1.2; with counts >= 20 the fit recovers it within 0.05.
    assert fit.exponent == pytest.approx(1.2, abs=0.05)
    c = np.sort(counts)[::-1]
    c = c[c >= 20]
    ref = stats.linregress(np.log(np.arange(1, c.size + 1)), np.log(c))
    assert fit.exponent == pytest.approx(-ref.slope, abs=1e-10) and fit.n_ranks == c.size
    assert fit.intercept == pytest.approx(ref.intercept, abs=1e-10)


def test_entropy_and_coverage_match_references():
    counts = token_counts(_zipf_sample(1.0, 500, 50_000, seed=1), 500)
    # scipy's entropy in base 2 (float64; 1e-12).
    assert entropy_bits(counts) == pytest.approx(stats.entropy(counts, base=2), abs=1e-12)
    assert entropy_bits([5, 5, 5, 5]) == pytest.approx(2.0)
    curve = coverage_curve(counts)
    srt = sorted(counts.tolist(), reverse=True)
    for k in (1, 10, 100, 500):
        assert curve[k - 1] == pytest.approx(sum(srt[:k]) / sum(srt), abs=1e-12)
    k90 = types_for_coverage(counts, 0.9)
    assert curve[k90 - 1] >= 0.9 > (curve[k90 - 2] if k90 > 1 else 0)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
def test_temperature_mixing_reproduces_target_proportions(temperature):
    sizes = [5e8, 2e8, 1e8, 5e7]  # every share >= 5%, where 1% relative is >= 2.5 standard errors
    w = mixture_weights(sizes, temperature)
    n = np.array(sizes)
    want = n ** (1 / temperature) / (n ** (1 / temperature)).sum()
    np.testing.assert_allclose(w, want, rtol=1e-12)
    draws = sample_domains(w, 1_000_000, np.random.default_rng(0))
    share = np.bincount(draws, minlength=4) / 1e6
    # Within 1% (relative) of each target over 10^6 draws.
    np.testing.assert_allclose(share, w, rtol=0.01)


def test_high_temperature_tends_to_uniform():
    w = mixture_weights([1e9, 1e3], temperature=1e6)
    np.testing.assert_allclose(w, [0.5, 0.5], atol=1e-5)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="ids must lie in"):
        token_counts([0, 5], 5)
    with pytest.raises(ValueError, match="at least 3 types"):
        zipf_fit([100, 1, 1])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        mixture_weights([1, 2], 0)
    with pytest.raises(ValueError, match="sizes must be positive"):
        mixture_weights([1, 0])
    with pytest.raises(ValueError, match="summing to 1"):
        sample_domains([0.5, 0.2], 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="fraction"):
        types_for_coverage([1, 2], 0)
