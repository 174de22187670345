r"""# Exercises: Suffix arrays: finding every repeated substring of a corpus

One round of prefix doubling, Kasai's LCP, and what the LCP array counts, each checked against
Python's own string sorting and brute force on random strings."""

import random
from itertools import pairwise

import numpy as np

from masterclass.infra.suffix_array import lcp_array, suffix_array


def _dense_ranks(keys: list) -> list[int]:
    # Equal keys share a rank; ranks are 0, 1, 2, ... in sorted order of the keys.
    order = {key: r for r, key in enumerate(sorted(set(keys)))}
    return [order[key] for key in keys]


def _random_strings(seed: int, count: int, alphabet: str = "ab", longest: int = 14) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, longest))) for _ in range(count)
    ]


def solution_1_doubling_step(rank: list[int], step: int) -> list[int]:
    """Dense ranks of the prefixes of length `2 * step`, from those of length `step`."""
    n = len(rank)
    pairs = [(rank[i], rank[i + step] if i + step < n else -1) for i in range(n)]
    return _dense_ranks(pairs)


def check_1_doubling_step(fn) -> None:
    """Compare with the dense ranks of the prefixes themselves, sorted as Python strings."""
    strings = ["banana", "mississippi", "aaaa", "abcab", *_random_strings(1, 20, "abc")]
    for s in strings:
        n = len(s)
        for step in (1, 2, 4, 8):
            rank = _dense_ranks([s[i : i + step] for i in range(n)])
            want = _dense_ranks([s[i : i + 2 * step] for i in range(n)])
            got = [int(v) for v in np.asarray(fn(list(rank), step)).reshape(-1)]
            assert got == want, (
                f"doubling_step on {s!r}, step {step}: got {got}, the prefixes of length "
                f"{2 * step} rank as {want} (a prefix that runs off the end sorts first)"
            )


def solution_2_kasai_lcp(s: str, sa: list[int]) -> list[int]:
    """`lcp[r]` of the suffixes at `sa[r - 1]` and `sa[r]`, by Kasai's carried `h`."""
    n = len(s)
    inv = [0] * n
    for r, i in enumerate(sa):
        inv[i] = r
    lcp, h = [0] * n, 0
    for i in range(n):
        if inv[i] == 0:
            h = 0
            continue
        j = sa[inv[i] - 1]
        while i + h < n and j + h < n and s[i + h] == s[j + h]:
            h += 1
        lcp[inv[i]] = h
        h = max(h - 1, 0)
    return lcp


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def check_2_kasai_lcp(fn) -> None:
    """Compare with the common prefix of each pair of neighbours in Python's sorted suffixes."""
    strings = ["banana", "mississippi", "aaaaa", "a", *_random_strings(2, 20, "ab", 40)]
    for s in strings:
        sa = sorted(range(len(s)), key=lambda i: s[i:])
        want = [0] + [_common_prefix(s[a:], s[b:]) for a, b in pairwise(sa)]
        got = [int(v) for v in np.asarray(fn(s, list(sa))).reshape(-1)]
        assert got == want, f"kasai_lcp({s!r}, sa={sa}) = {got}, want {want}"


def solution_3_distinct_substrings(s: str) -> int:
    """Each suffix starts `n - sa[r]` substrings, of which `lcp[r]` its neighbour already had."""
    sa = suffix_array(s)
    return len(s) * (len(s) + 1) // 2 - int(lcp_array(s, sa).sum())


def check_3_distinct_substrings(fn) -> None:
    """Compare with the size of the set of all substrings, built by brute force."""
    strings = ["banana", "mississippi", "aaaa", "abcd", "x", *_random_strings(3, 15, "abc", 30)]
    strings.append("".join(random.Random(4).choice("ab") for _ in range(200)))
    for s in strings:
        want = len({s[i:j] for i in range(len(s)) for j in range(i + 1, len(s) + 1)})
        got = fn(s)
        assert got == want, f"distinct_substrings({s[:40]!r}...) = {got}, there are {want}"
