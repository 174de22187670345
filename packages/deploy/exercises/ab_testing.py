r"""# Exercises: A/B testing two model versions

The z statistic, the textbook sample size and the mSPRT stopping time, against statsmodels and the chapter."""

import math

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

from masterclass.deploy.ab_testing import msprt_statistic


def solution_1_pooled_z(x1: int, n1: int, x2: int, n2: int) -> float:
    p = (x1 + x2) / (n1 + n2)
    return (x1 / n1 - x2 / n2) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def check_1_pooled_z(fn) -> None:
    for case in [(60, 500, 40, 500), (3, 40, 9, 41), (100, 1000, 130, 1100)]:
        x1, n1, x2, n2 = case
        want = float(proportions_ztest([x1, x2], [n1, n2])[0])
        got = fn(*case)
        assert abs(got - want) < 1e-10, f"pooled_z{case} = {got}, statsmodels says {want}"


def solution_2_textbook_n(p1: float, p2: float, alpha: float, power: float) -> int:
    h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return math.ceil(2 * z**2 / h**2)


def check_2_textbook_n(fn) -> None:
    for p1, p2, a, pw in [(0.1, 0.12, 0.05, 0.8), (0.3, 0.4, 0.01, 0.9), (0.5, 0.45, 0.05, 0.5)]:
        h = proportion_effectsize(p1, p2)
        want = math.ceil(2 * (stats.norm.isf(a / 2) + stats.norm.isf(1 - pw)) ** 2 / h**2)
        got = fn(p1, p2, a, pw)
        assert got == want, f"textbook_n({p1}, {p2}, {a}, {pw}) = {got}, want {want}"


def solution_3_msprt_reject(d, sigma2: float, tau2: float, alpha: float) -> int:
    lam = msprt_statistic(d, sigma2, tau2)
    hits = np.nonzero(lam >= 1 / alpha)[0]
    return int(hits[0]) if hits.size else -1


def check_3_msprt_reject(fn) -> None:
    rng = np.random.default_rng(0)
    for theta in (0.0, 0.5, 1.0):
        d = rng.normal(theta, 1.0, 200)
        lam = msprt_statistic(d, 1.0, 1.0)
        hits = np.nonzero(lam >= 20)[0]
        want = int(hits[0]) if hits.size else -1
        got = fn(d, 1.0, 1.0, 0.05)
        assert got == want, f"msprt_reject with theta={theta}: {got}, want {want}"
