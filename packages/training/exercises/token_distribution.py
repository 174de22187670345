r"""# Exercises: Token distribution: Zipf's law, entropy, coverage, and temperature mixing

Unigram entropy and temperature-scaled mixing weights."""

import numpy as np
from scipy import stats

from masterclass.training.token_distribution import mixture_weights


def solution_1_entropy_bits(counts) -> float:
    p = np.asarray(counts, dtype=float)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum())


def check_1_entropy_bits(fn) -> None:
    for counts in ([1, 1], [10, 0, 5, 1], [3] * 8, [100, 1]):
        want = stats.entropy(counts, base=2)
        got = fn(counts)
        assert abs(got - want) < 1e-9, f"entropy_bits({counts}) = {got}, scipy gives {want}"


def solution_2_temperature_weights(sizes, T):
    w = np.asarray(sizes, dtype=float) ** (1 / T)
    return w / w.sum()


def check_2_temperature_weights(fn) -> None:
    for sizes, T in [([900, 100], 1.0), ([900, 100], 2.0), ([50, 30, 20], 3.0)]:
        got, want = np.asarray(fn(sizes, T)), mixture_weights(sizes, T)
        assert np.allclose(got, want, atol=1e-12), (
            f"temperature_weights({sizes}, {T}) = {got}, want {want}"
        )
