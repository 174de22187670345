r"""# Exercises: The Unigram language-model tokenizer

The Viterbi segmentation and the forward likelihood of one word, both checked against brute force
over every segmentation."""

import itertools
import math

from masterclass.nlp.unigram import UnigramTokenizer

PIECES = [
    {"▁": -3.0, "h": -3.0, "e": -3.0, "y": -3.0, "▁he": -1.0, "y!": -9.0, "▁h": -2.0, "ey": -2.5},
    {"a": -1.0, "b": -1.5, "ab": -2.0, "ba": -2.2, "aba": -3.5, "bab": -4.0, "▁": -0.5},
]
WORDS = ["▁hey", "▁he", "hey", "▁abab", "ababa", "bab", "▁"]


def _segmentations(word: str):
    """Every way to cut `word` into consecutive pieces."""
    n = len(word)
    for cuts in itertools.product([False, True], repeat=n - 1):
        pieces, start = [], 0
        for i, cut in enumerate(cuts, start=1):
            if cut:
                pieces.append(word[start:i])
                start = i
        yield [*pieces, word[start:]]


def _cases():
    for log_probs in PIECES:
        for word in WORDS:
            if all(c in log_probs for c in word):  # every character is a piece: no unknowns
                yield log_probs, word


def solution_1_viterbi(log_probs: dict[str, float], word: str) -> list[str]:
    r"""`best[e]` = best log-probability of `word[:e]`; `best[e] = max_s best[s] + log p(word[s:e])`."""
    n = len(word)
    best, back = [0.0] + [-math.inf] * n, [0] * (n + 1)
    for e in range(1, n + 1):
        for s in range(e):
            piece = word[s:e]
            if piece in log_probs and best[s] + log_probs[piece] > best[e]:
                best[e], back[e] = best[s] + log_probs[piece], s
    pieces, e = [], n
    while e > 0:
        pieces.append(word[back[e] : e])
        e = back[e]
    return pieces[::-1]


def check_1_viterbi(fn) -> None:
    """The pieces must have the highest total log-probability of all segmentations, and match
    the chapter's `UnigramTokenizer.segment`."""
    for log_probs, word in _cases():

        def score(pieces, log_probs=log_probs):
            return sum(log_probs.get(p, -math.inf) for p in pieces)

        best = max(_segmentations(word), key=score)
        got = list(fn(log_probs, word))
        assert "".join(got) == word, f"{word!r}: the pieces {got} do not spell the word"
        assert math.isclose(score(got), score(best), abs_tol=1e-12), (
            f"{word!r}: {got} scores {score(got)}, but {best} scores {score(best)}"
        )
        assert got == UnigramTokenizer(log_probs).segment(word), (
            f"{word!r}: {got}, the chapter gives {UnigramTokenizer(log_probs).segment(word)}"
        )


def solution_2_log_likelihood(log_probs: dict[str, float], word: str) -> float:
    r"""$\log \sum_{x \in S(w)} \prod_i p(x_i)$: the Viterbi recursion with log-sum-exp for max."""
    alpha = [0.0] + [-math.inf] * len(word)
    for e in range(1, len(word) + 1):
        terms = [alpha[s] + log_probs[word[s:e]] for s in range(e) if word[s:e] in log_probs]
        top = max(terms)
        alpha[e] = top + math.log(sum(math.exp(t - top) for t in terms))
    return alpha[-1]


def check_2_log_likelihood(fn) -> None:
    """Compare with the log of the sum over every segmentation, and with the chapter's
    `word_log_likelihood`."""
    for log_probs, word in _cases():
        total = sum(
            math.exp(sum(log_probs[p] for p in seg))
            for seg in _segmentations(word)
            if all(p in log_probs for p in seg)
        )
        got = fn(log_probs, word)
        # float64 over at most 2^4 segmentations: 1e-12.
        assert math.isclose(got, math.log(total), abs_tol=1e-12), (
            f"{word!r}: got {got}, the sum over segmentations gives {math.log(total)}"
        )
        chapter = UnigramTokenizer(log_probs).word_log_likelihood(word)
        assert math.isclose(got, chapter, abs_tol=1e-12), f"{word!r}: chapter gives {chapter}"
