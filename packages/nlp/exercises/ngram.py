r"""# Exercises: N-gram language models

Add-$k$ smoothing, Ney's discount, and an interpolated Kneser–Ney bigram model written with
plain counts."""

import itertools
from collections import Counter

import numpy as np

from masterclass.nlp.ngram import AddKLM, KneserNeyLM


def _corpora():
    rng = np.random.default_rng(0)
    yield [[0, 1, 0, 1, 2]], 3
    yield [rng.integers(0, 5, 40).tolist(), rng.integers(0, 5, 25).tolist()], 5
    yield [list(b"abracadabra" * 3), list(b"cadabra")], 256


def _bigrams(sequences, vocab_size):
    """Bigrams (h, w) with the beginning-of-sequence symbol V before each sequence."""
    for seq in sequences:
        padded = [vocab_size, *seq]
        yield from itertools.pairwise(padded)


def solution_1_add_k_next(sequences, history, order: int, k: float, vocab_size: int) -> np.ndarray:
    r"""$P(w \mid h) = (c(hw) + k) / (c(h) + kV)$ for every $w$, $h$ the last $n - 1$ symbols of
    `history` (padded with the beginning symbol $V$)."""
    counts: Counter = Counter()
    for seq in sequences:
        padded = [vocab_size] * (order - 1) + list(seq)
        for i in range(order - 1, len(padded)):
            counts[tuple(padded[i - order + 1 : i + 1])] += 1
    h = tuple(([vocab_size] * (order - 1) + list(history))[-(order - 1) :]) if order > 1 else ()
    c_hw = np.array([counts[(*h, w)] for w in range(vocab_size)], dtype=np.float64)
    return (c_hw + k) / (c_hw.sum() + k * vocab_size)


def check_1_add_k_next(fn) -> None:
    """Compare with the chapter's `AddKLM.next_distribution`."""
    for sequences, V in _corpora():
        for order, k in [(1, 1.0), (2, 0.5), (3, 1.0)]:
            lm = AddKLM(order, k=k, vocab_size=V).fit(sequences)
            for history in ([], sequences[0][:1], sequences[0][:4]):
                want = lm.next_distribution(history)
                got = np.asarray(fn(sequences, history, order, k, V))
                assert got.shape == want.shape, f"shape {got.shape}, want (V,) = {want.shape}"
                assert np.allclose(got, want, atol=1e-12), (
                    f"order {order}, k={k}, history {history}: max error "
                    f"{np.abs(got - want).max():.2e} (histories are padded with the symbol V)"
                )


def solution_2_ney_discount(counts) -> float:
    r"""$D = n_1 / (n_1 + 2 n_2)$ from the counts of the distinct $n$-grams ($0.5$ when
    $n_1$ or $n_2$ is zero)."""
    counts = list(counts)
    n1, n2 = counts.count(1), counts.count(2)
    return n1 / (n1 + 2 * n2) if n1 and n2 else 0.5


def check_2_ney_discount(fn) -> None:
    """Compare with the top order's discount of the chapter's `KneserNeyLM`."""
    for sequences, V in _corpora():
        lm = KneserNeyLM(2, vocab_size=V).fit(sequences)
        counts = Counter(_bigrams(sequences, V)).values()
        got, want = fn(list(counts)), lm.discounts[-1]
        assert abs(got - want) < 1e-12, f"V={V}: got D={got}, want {want}"
    assert fn([1, 1, 2, 5]) == 2 / (2 + 2), "counts [1, 1, 2, 5]: n1 = 2, n2 = 1, so D = 0.5"
    assert abs(fn([1, 1, 1, 2, 3]) - 3 / 5) < 1e-12, "counts [1, 1, 1, 2, 3]: D = 3 / 5"


def solution_3_kn_bigram(sequences, h: int, vocab_size: int) -> np.ndarray:
    r"""$P_{KN}(\cdot \mid h)$: the bigram level discounts raw counts, the unigram level uses
    continuation counts $N_{1+}(\bullet\, w)$, and the recursion ends in $1/V$."""
    V = vocab_size
    bigram = Counter(_bigrams(sequences, V))
    continuation = Counter(w for (_, w) in bigram)  # N1+(. w): distinct predecessors
    d2 = solution_2_ney_discount(bigram.values())
    d1 = solution_2_ney_discount(continuation.values())
    n_w = np.array([continuation[w] for w in range(V)], dtype=np.float64)
    total = n_w.sum()
    p1 = (np.maximum(n_w - d1, 0) + d1 * len(continuation) / V) / total
    c_hw = np.array([bigram[(h, w)] for w in range(V)], dtype=np.float64)
    if c_hw.sum() == 0:
        return p1  # an unseen history: the lower order passes through
    follow = sum(1 for (a, _) in bigram if a == h)  # N1+(h .)
    return (np.maximum(c_hw - d2, 0) + d2 * follow * p1) / c_hw.sum()


def check_3_kn_bigram(fn) -> None:
    """Compare with the chapter's `KneserNeyLM(2).next_distribution` for every history."""
    for sequences, V in _corpora():
        lm = KneserNeyLM(2, vocab_size=V).fit(sequences)
        for h in sorted({s for seq in sequences for s in seq})[:6]:
            want = lm.next_distribution([h])
            got = np.asarray(fn(sequences, h, V))
            assert np.allclose(got, want, atol=1e-12), (
                f"V={V}, h={h}: max error {np.abs(got - want).max():.2e}; got sum "
                f"{got.sum():.6f} (each row must sum to 1)"
            )
