r"""# Token distribution: Zipf's law, entropy, coverage, and temperature mixing

Before training on a corpus it pays to look at its tokens. Three statistics describe the
distribution, and one rule decides how several corpora are mixed.

**Zipf's law.** Sort the token types by count; the $k$-th most frequent has frequency roughly
$f(k) \propto k^{-s}$ with $s \approx 1$ for natural text (Zipf, 1949). On log–log axes that is a
line, $\log f = c - s \log k$, so the exponent is minus the slope of a least-squares fit of
$\log f$ on $\log k$ (fitted over the ranks with enough counts to be reliable, here those with
count $\ge$ `min_count`). A tokenizer changes $s$: BPE merges frequent pairs and flattens the
head of the curve.

**Entropy.** With unigram probabilities $p_v = n_v / N$,

$$ H = -\sum_v p_v \log_2 p_v \quad\text{bits per token}, $$

the cross-entropy that a model which knew only token frequencies would reach; a language model
must beat it (its loss in nats is comparable after dividing by $\ln 2$).

**Coverage.** The fraction of all tokens accounted for by the $k$ most frequent types,
$C(k) = \sum_{i \le k} n_{(i)} / N$. Under Zipf a few hundred types cover half the text, and a
long tail of rare types the rest; the tail is where a model sees too few examples.

**Temperature mixing.** A corpus made of domains of sizes $n_1..n_D$ (tokens) is sampled with
domain probabilities

$$ p_i = \frac{n_i^{1/T}}{\sum_j n_j^{1/T}}. $$

$T = 1$ samples in proportion to size; $T \to \infty$ tends to uniform, up-weighting small
domains (low-resource languages in mT5 and XLM-R, Conneau et al., 2020, use $T \approx 3$ to
$3.3$, i.e. $\alpha = 1/T \approx 0.3$). `sample_domains` draws the domain of each example from
these probabilities; over $10^6$ draws the empirical shares reproduce the targets within 1%
(standard error $\sqrt{p(1-p)/n}$, about 0.03% absolute).

![rank-frequency of a Zipfian sample with the fitted line](figures/zipf.png)

Left out: n-gram and document-level statistics, perplexity-based quality measures (Module 9's
filters), and learned mixture weights (DoReMi, Xie et al., 2023).

## Exercises

1. Write `entropy_bits(counts)` for a list of counts. Check it:
   `uv run pytest --exercise training.token_distribution`
2. Write `temperature_weights(sizes, T)` returning the mixing probabilities. Check it:
   `uv run pytest --exercise training.token_distribution`
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ZipfFit",
    "coverage_curve",
    "entropy_bits",
    "mixture_weights",
    "sample_domains",
    "token_counts",
    "types_for_coverage",
    "zipf_fit",
]


# Everything below starts from the counts, one per id. An id outside the vocabulary fails rather
# than being dropped: it means the wrong `vocab_size`.
def token_counts(ids: Sequence[int] | np.ndarray, vocab_size: int) -> np.ndarray:
    """How often each id in `0..vocab_size-1` occurs in `ids`, `(V,)` int64."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"ids must lie in 0..{vocab_size - 1}, got range {ids.min()}..{ids.max()}; "
            "pass the tokenizer's vocab_size"
        )
    return np.bincount(ids.astype(np.int64), minlength=vocab_size)


# Counts sorted from most to least frequent: rank k is index k - 1.
def _sorted_counts(counts: Sequence[int] | np.ndarray) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or np.any(c < 0) or c.sum() == 0:
        raise ValueError("counts must be a non-empty 1-D array of non-negative counts, not all 0")
    return np.sort(c)[::-1]


# ## The Zipf fit
#
# Least squares on the log–log points $(\log k, \log n_{(k)})$. Rare types are noisy
# (many types seen once share one count), so only ranks whose count reaches `min_count` enter
# the fit.


@dataclass(frozen=True)
class ZipfFit:
    r"""$\log n_{(k)} \approx$ `intercept` $-$ `exponent` $\log k$ (natural logs)."""

    # The Zipf exponent s (minus the slope).
    exponent: float
    # The fitted log count at rank 1.
    intercept: float
    # How many ranks entered the fit.
    n_ranks: int


def zipf_fit(counts: Sequence[int] | np.ndarray, min_count: int = 5) -> ZipfFit:
    r"""Fit $n_{(k)} \propto k^{-s}$ to the sorted counts with count >= `min_count`.

    >>> round(zipf_fit([1000 / k for k in range(1, 101)], min_count=1).exponent, 6)
    1.0
    """
    c = _sorted_counts(counts)
    c = c[c >= min_count]
    if c.size < 3:
        raise ValueError(f"need at least 3 types with count >= {min_count}, got {c.size}")
    log_k = np.log(np.arange(1, c.size + 1))
    slope, intercept = np.polyfit(log_k, np.log(c), 1)
    return ZipfFit(exponent=float(-slope), intercept=float(intercept), n_ranks=int(c.size))


# The entropy and the coverage curve describe the same sorted counts two ways: bits per token, and
# how few types cover most of the text.
def entropy_bits(counts: Sequence[int] | np.ndarray) -> float:
    r"""Unigram entropy $-\sum p \log_2 p$ in bits per token (zero counts contribute 0)."""
    c = _sorted_counts(counts)
    p = c[c > 0] / c.sum()
    return float(-(p * np.log2(p)).sum())


def coverage_curve(counts: Sequence[int] | np.ndarray) -> np.ndarray:
    """$C(k)$ for $k = 1..V$: the share of tokens covered by the $k$ most frequent types."""
    c = _sorted_counts(counts)
    return np.cumsum(c) / c.sum()


def types_for_coverage(counts: Sequence[int] | np.ndarray, fraction: float) -> int:
    """The fewest types whose tokens make up at least `fraction` of the corpus."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    curve = coverage_curve(counts)
    return int(np.searchsorted(curve, fraction - 1e-12) + 1)


# ## Mixing domains by temperature
#
# The exponent $1/T$ is applied to the sizes and the result normalised. The draws use numpy's
# `Generator.choice`, inverse-CDF sampling on the cumulative probabilities.


def mixture_weights(sizes: Sequence[float], temperature: float = 1.0) -> np.ndarray:
    r"""$p_i \propto n_i^{1/T}$ for domain sizes `sizes`.

    >>> mixture_weights([900, 100], temperature=1.0).round(3).tolist()
    [0.9, 0.1]
    >>> mixture_weights([900, 100], temperature=2.0).round(3).tolist()
    [0.75, 0.25]
    """
    n = np.asarray(sizes, dtype=np.float64)
    if n.ndim != 1 or n.size == 0 or np.any(n <= 0):
        raise ValueError(f"sizes must be positive domain sizes, got {list(sizes)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    w = np.exp(np.log(n) / temperature - np.log(n).max() / temperature)  # no overflow for big n
    return w / w.sum()


# Drawing each example's domain from the mixture: over many draws the shares approach the weights.
def sample_domains(
    weights: Sequence[float] | np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """`n` domain indices drawn i.i.d. with probabilities `weights`."""
    w = np.asarray(weights, dtype=np.float64)
    if np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"weights must be probabilities summing to 1, got sum {w.sum()}")
    return rng.choice(w.size, size=n, p=w)
