r"""# Exercises: Training byte-level BPE

Counting pairs, and the naive trainer that recounts them after every merge, checked against the
chapter's incremental `learn_merges`."""

import itertools
from collections import Counter

from masterclass.nlp.bpe_training import learn_merges

CORPORA = [
    {b"aaab": 2, b"ab": 3},
    {b"low": 5, b"lower": 2, b"newest": 6, b"widest": 3},
    {b"hug": 10, b"pug": 5, b"pun": 12, b"bun": 4, b"hugs": 5},
    {b"abababab": 3, b"ba": 7, b"aaaa": 1},
]


def solution_1_pair_counts(word_counts: dict[bytes, int]) -> dict[tuple[int, int], int]:
    """Adjacent byte pairs of every word, each counted as often as its word occurs."""
    counts: Counter = Counter()
    for word, c in word_counts.items():
        for pair in itertools.pairwise(word):
            counts[pair] += c
    return dict(counts)


def check_1_pair_counts(fn) -> None:
    """The most frequent pair (lowest byte values among ties) must be the chapter's first merge,
    and the counts must be those of a slow scan over every position of every word."""
    for word_counts in CORPORA:
        got = fn(word_counts)
        for (a, b), c in got.items():
            slow = sum(
                n * sum(1 for i in range(len(w) - 1) if w[i] == a and w[i + 1] == b)
                for w, n in word_counts.items()
            )
            assert c == slow, f"{word_counts}: pair {bytes([a, b])!r} counted {c}, it occurs {slow}"
        best = min(got, key=lambda p: (-got[p], p))
        first = learn_merges(word_counts, 257)[256]
        assert bytes(best) == first, (
            f"{word_counts}: your counts make {bytes(best)!r} the first merge, the chapter's "
            f"trainer merges {first!r}"
        )


def solution_2_naive_merges(word_counts: dict[bytes, int], n_merges: int) -> list[bytes]:
    """Recount every pair, merge the most frequent (ties: lowest token ids), repeat."""
    vocab = [bytes([i]) for i in range(256)]
    ids = {tok: i for i, tok in enumerate(vocab)}
    words = {tuple(w): c for w, c in word_counts.items()}  # byte values are the first 256 ids
    new_tokens = []
    for _ in range(n_merges):
        counts: Counter = Counter()
        for w, c in words.items():
            for pair in itertools.pairwise(w):
                counts[pair] += c
        if not counts:
            break
        a, b = min(counts, key=lambda p: (-counts[p], p))
        merged = vocab[a] + vocab[b]
        if merged not in ids:
            ids[merged] = len(vocab)
            vocab.append(merged)
            new_tokens.append(merged)
        new = ids[merged]
        rewritten = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):  # non-overlapping, left to right
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            rewritten[tuple(out)] = rewritten.get(tuple(out), 0) + c
        words = rewritten
    return new_tokens


def check_2_naive_merges(fn) -> None:
    """Compare with the chapter's `learn_merges` (its heap and incremental counts must give
    exactly the naive trainer's merges)."""
    for word_counts in CORPORA:
        for n in (1, 3, 6):
            want = learn_merges(word_counts, 256 + n)[256:]
            got = list(fn(word_counts, n))
            assert got == want, f"{word_counts}, {n} merges: got {got}, want {want}"
