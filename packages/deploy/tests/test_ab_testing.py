"""A/B statistics against statsmodels and scipy; mSPRT against numerical integration; the split."""

import math

import httpx
import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

from masterclass.deploy.ab_testing import (
    TrafficSplitter,
    msprt_statistic,
    peeking_simulation,
    power_two_proportions,
    sample_size_two_proportions,
    two_proportion_ztest,
    welch_ttest,
)

# The same formulas in float64 on both sides: only rounding differs (~1e-15 relative), so 1e-10.
TOL = 1e-10


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"), [(60, 500, 40, 500), (13, 90, 31, 120), (1, 7, 5, 9)]
)
def test_two_proportion_z_matches_statsmodels(x1, n1, x2, n2):
    z, p = two_proportion_ztest(x1, n1, x2, n2)
    z_ref, p_ref = proportions_ztest([x1, x2], [n1, n2])
    assert abs(z - z_ref) < TOL and abs(p - p_ref) < TOL


def test_welch_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 40), rng.normal(0.3, 3, 25)
    t, df, p = welch_ttest(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert abs(t - ref.statistic) < TOL and abs(p - ref.pvalue) < TOL and abs(df - ref.df) < TOL


def test_power_and_sample_size_match_statsmodels():
    h = proportion_effectsize(0.10, 0.12)
    for n in (500, 3000, 10000):
        assert abs(power_two_proportions(0.10, 0.12, n) - NormalIndPower().power(h, n, 0.05)) < TOL
    n = sample_size_two_proportions(0.10, 0.12, alpha=0.05, power=0.8)
    ref = NormalIndPower().solve_power(h, None, 0.05, 0.8)
    # statsmodels' own root finder stops at ~1e-12 relative; ours at 1e-15.
    assert abs(n - ref) / ref < TOL


def test_msprt_closed_form_equals_the_integral_of_its_definition():
    # Reference: numerically integrate prod N(d_i; theta, s2) / N(d_i; 0, s2) * N(theta; 0, t2).
    rng = np.random.default_rng(1)
    d = rng.normal(0.2, 1.5, 30)
    s2, t2 = 1.5**2, 0.5
    lam = msprt_statistic(d, s2, t2)
    for n in (1, 10, 30):
        x = d[:n]

        def integrand(theta, x=x):
            log_lr = (
                stats.norm.logpdf(x, theta, math.sqrt(s2)) - stats.norm.logpdf(x, 0, math.sqrt(s2))
            ).sum()
            return math.exp(log_lr) * stats.norm.pdf(theta, 0, math.sqrt(t2))

        ref, _ = integrate.quad(integrand, -10, 10, epsabs=1e-13, epsrel=1e-12)
        assert abs(lam[n - 1] - ref) / ref < 1e-8  # quad's accuracy, not ours, sets this


def test_peeking_inflates_false_positives_and_msprt_does_not():
    r = peeking_simulation(n_sims=1000, n_max=500, every=10, seed=0)
    se = math.sqrt(0.05 * 0.95 / 1000)
    assert abs(r["fixed"] - 0.05) < 4 * se  # one test at the end is a level-0.05 test
    assert r["peeking"] > 0.15  # peeking 50 times: several times the nominal rate
    assert r["msprt"] <= 0.05  # Ville's inequality


def test_splitter_is_sticky_and_uniform():
    s = TrafficSplitter({"a": 0.7, "b": 0.3}, salt="exp")
    keys = [f"user-{i}" for i in range(5000)]
    got = [s.assign(k) for k in keys]
    assert got == [s.assign(k) for k in keys]
    counts = [got.count("a"), got.count("b")]
    assert stats.chisquare(counts, [3500, 1500]).pvalue > 1e-3
    other = TrafficSplitter({"a": 0.7, "b": 0.3}, salt="exp2")
    assert sum(other.assign(k) != g for k, g in zip(keys, got)) > 1000  # new salt reshuffles
    with pytest.raises(ValueError, match="non-negative with a positive sum"):
        TrafficSplitter({"a": -1})


def test_server_splits_traffic_by_user(server):
    url, _ = server
    seen = {}
    for i in range(40):
        body = {"model": "ab", "prompt": "x", "max_tokens": 1, "user": f"u{i}"}
        r = httpx.post(url + "/v1/completions", json=body)
        assert r.status_code == 200 and r.headers["x-variant"] == r.json()["model"]
        seen[f"u{i}"] = r.json()["model"]
    split = TrafficSplitter({"a": 0.5, "b": 0.5}, salt="ab")
    assert all(split.assign(u) == m for u, m in seen.items())
    assert set(seen.values()) == {"a", "b"}


def test_bad_arguments():
    with pytest.raises(ValueError, match="need 0 <= x <= n"):
        two_proportion_ztest(5, 3, 1, 4)
    with pytest.raises(ValueError, match=">= 2 values"):
        welch_ttest([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="two different proportions"):
        sample_size_two_proportions(0.1, 0.1)
