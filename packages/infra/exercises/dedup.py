r"""# Exercises: Deduplication: exact hashes, MinHash with LSH banding, and repeated substrings

The MinHash error bar, the LSH S-curve and shingling, each checked against an independent computation."""

import math

import numpy as np

from masterclass.infra.dedup import LSHIndex, MinHasher, shingles


def solution_1_jaccard_sd(j: float, num_perm: int) -> float:
    # The estimate is a mean of num_perm Bernoulli(j) variables.
    return math.sqrt(j * (1 - j) / num_perm)


def check_1_jaccard_sd(fn) -> None:
    # Against a simulation: many independent "signatures" whose entries match with probability j.
    rng = np.random.default_rng(0)
    for j, p in [(0.5, 128), (0.9, 64), (0.2, 256)]:
        sims = (rng.random((4000, p)) < j).mean(axis=1)
        got, want = fn(j, p), sims.std()
        assert abs(got - want) < 0.05 * want, f"jaccard_sd({j}, {p}) = {got}, simulated {want:.4f}"


def solution_2_candidate_probability(s: float, bands: int, rows: int) -> float:
    return 1.0 - (1.0 - s**rows) ** bands


def check_2_candidate_probability(fn) -> None:
    # Against the definition: the probability that at least one of `bands` bands matches fully,
    # by simulating the per-row matches of an LSH index.
    rng = np.random.default_rng(1)
    for s, b, r in [(0.5, 16, 4), (0.8, 9, 14), (0.3, 32, 2)]:
        rows_match = rng.random((20000, b, r)) < s
        want = rows_match.all(axis=2).any(axis=1).mean()
        got = fn(s, b, r)
        assert abs(got - want) < 0.015, f"candidate_probability({s}, {b}, {r}) = {got}, sim {want}"
    # And on real signatures: identical sets are always candidates.
    sig = MinHasher(16).signature({"a", "b"})
    index = LSHIndex(4, 4)
    index.insert(0, sig)
    index.insert(1, sig)
    assert (0, 1) in index.candidates() and fn(1.0, 4, 4) == 1.0


def solution_3_word_shingles(text: str, n: int) -> set[str]:
    words = text.lower().split()
    if len(words) <= n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def check_3_word_shingles(fn) -> None:
    for text, n in [("The cat sat on the mat", 2), ("a b c d e f g", 5), ("short text", 5)]:
        got, want = fn(text, n), shingles(text, n)
        assert got == want, f"word_shingles({text!r}, {n}) = {got}, expected {want}"
