r"""# Suffix arrays: finding every repeated substring of a corpus

Near-duplicate detection (MinHash, in `dedup.py`) compares whole documents. Web corpora also
repeat *parts* of documents: licence boilerplate, cookie banners, the same paragraph quoted on a
thousand pages. Lee et al. (2022) remove every substring of at least $k$ tokens that already
occurred earlier in the corpus ("ExactSubstr"), and find them with a **suffix array**.

The suffix array of a sequence $x_0 \dots x_{n-1}$ is the permutation $SA$ that sorts its
suffixes: $x_{SA[0]:} < x_{SA[1]:} < \dots$. Suffixes that share a prefix are adjacent in that
order, so every repeated substring of length $\ge k$ shows up as a run of consecutive entries whose
**longest common prefix** with their neighbour is $\ge k$. The LCP array,
$LCP[i] = \operatorname{lcp}(x_{SA[i-1]:}, x_{SA[i]:})$, is computed from $SA$ in $O(n)$ by
Kasai's algorithm.

**Prefix doubling** (Manber and Myers, 1993) builds $SA$ in $O(n \log n)$ sorting rounds: after
round $j$, every position has a rank that orders its prefix of length $2^j$. The prefix of length
$2^{j+1}$ at $i$ is the pair (prefix of length $2^j$ at $i$, prefix of length $2^j$ at
$i + 2^j$), so the new ranks come from sorting the pairs $(r_i, r_{i+2^j})$: one `lexsort` per
round, and at most $\lceil \log_2 n \rceil$ rounds before all ranks differ.

**Kasai's bound.** If the suffix at $i$ has LCP $h > 0$ with its predecessor in $SA$, the suffix at
$i + 1$ has LCP at least $h - 1$ with *its* predecessor (drop the first symbol of both). Visiting
positions in text order, $h$ falls by at most one per step and never exceeds $n$, so the total
work is $O(n)$.

**Keep the first copy.** Position $j$ starts a *later copy* when the $k$-gram $x_{j:j+k}$ occurs at
some $i < j$. Within a run of suffixes sharing a $k$-prefix, every position but the smallest is a
later copy; the union of the windows $[j, j+k)$ over later copies is exactly what to remove. (If a
long substring at $j$ repeats one at $i < j$, each of its $k$-windows repeats the window at the same
offset from $i$, so the whole copy is covered.) Documents are joined with a separator unique to
each, so no window crossing a boundary can repeat.

References: U. Manber and G. Myers, *Suffix arrays: a new method for on-line string searches*,
SIAM J. Comput. 1993; T. Kasai et al., *Linear-time longest-common-prefix computation*, CPM 2001;
K. Lee et al., *Deduplicating Training Data Makes Language Models Better*, ACL 2022,
<https://arxiv.org/abs/2107.06499>.

**By hand, on `banana`.** The sorted suffixes are `a`, `ana`, `anana`, `banana`, `na`, `nana`,
starting at 5, 3, 1, 0, 4, 2. Neighbours share `a`, `ana`, nothing, nothing, `na`: the LCP array.
Its entries of at least 2 mark the repeats `ana` and `na`. The later copies of 2-grams start at
positions 3 (`an`, first seen at 1) and 4 (`na`, first seen at 2); their windows cover the last
three symbols, the second `ana`:

>>> sa = suffix_array("banana")
>>> sa.tolist(), lcp_array("banana", sa).tolist()
([5, 3, 1, 0, 4, 2], [0, 1, 3, 0, 0, 2])
>>> "".join("^" if m else "." for m in repeated_spans("banana", 2))
'...^^^'

A longer word shows the runs: in `abracadabra` the five suffixes that start with `a` are
adjacent, and the repeat `abra` is the one LCP of 4.

![Sorted suffixes of abracadabra with their LCP](figures/suffix_array_lcp.png)

Left out: linear-time construction (SA-IS, which the paper's Rust tool uses) and building the array
out of core for terabyte corpora; the rounds here are numpy sorts, fine for millions of symbols.

## Exercises

1. Write `doubling_step(rank, step)`: given the rank of every position's prefix of length `step`
   (equal prefixes share a rank, ranks are 0, 1, ... in sorted order), return the ranks of the
   prefixes of length `2 * step`, one round of prefix doubling. Check it:
   `uv run pytest --exercise infra.suffix_array`.
2. Write `kasai_lcp(s, sa)`: the LCP array of string `s` from its suffix array, carrying `h` from
   suffix $i$ to suffix $i + 1$ as Kasai's bound allows. Check it:
   `uv run pytest --exercise infra.suffix_array`.
3. Write `distinct_substrings(s)`: the number of distinct non-empty substrings of `s`, from the
   suffix and LCP arrays: the suffix at rank $r$ starts $n - SA[r]$ substrings, of which the first
   $LCP[r]$ also start its predecessor. Check it: `uv run pytest --exercise infra.suffix_array`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["lcp_array", "remove_repeated_substrings", "repeated_spans", "suffix_array"]


def _as_array(seq: Sequence[int] | str | np.ndarray) -> np.ndarray:
    if isinstance(seq, str):
        return np.fromiter(map(ord, seq), dtype=np.int64, count=len(seq))
    return np.asarray(seq, dtype=np.int64)


# ## Construction by prefix doubling
#
# Start from the rank of each single symbol (its index among the sorted distinct symbols), then
# double. A position whose second half runs off the end gets rank $-1$, which sorts first: a
# prefix that ends is smaller than any extension of it, as in dictionary order.
def suffix_array(seq: Sequence[int] | str | np.ndarray) -> np.ndarray:
    """The suffix array `(n,)` of a string or integer sequence (ties cannot occur)."""
    x = _as_array(seq)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rank = np.unique(x, return_inverse=True)[1].astype(np.int64)  # (n,)
    step = 1
    while True:
        second = np.full(n, -1, dtype=np.int64)
        if step < n:
            second[: n - step] = rank[step:]
        # lexsort sorts by the last key first: primary key `rank`, secondary key `second`.
        order = np.lexsort((second, rank))  # (n,)
        # New rank: the number of distinct pairs before this one in sorted order.
        pairs_sorted = np.stack([rank[order], second[order]], axis=1)  # (n, 2)
        new_group = np.ones(n, dtype=np.int64)
        new_group[1:] = np.any(pairs_sorted[1:] != pairs_sorted[:-1], axis=1)
        new_rank = np.empty(n, dtype=np.int64)
        new_rank[order] = np.cumsum(new_group) - 1
        rank = new_rank
        if rank.max() == n - 1 or step >= n:
            return order
        step *= 2


# ## The LCP array by Kasai's algorithm
#
# `inv[i]` is where suffix `i` sits in the sorted order. Walking `i` in text order, `h` is carried
# from one suffix to the next and decreased by one: Kasai's bound above says it never has to go
# back further.
def lcp_array(seq: Sequence[int] | str | np.ndarray, sa: np.ndarray) -> np.ndarray:
    """`lcp[r]` = longest common prefix of the suffixes at `sa[r-1]` and `sa[r]` (`lcp[0] = 0`)."""
    x = _as_array(seq).tolist()
    n = len(x)
    if len(sa) != n:
        raise ValueError(f"sa has length {len(sa)} but the sequence has {n}: pass its suffix array")
    # The inverse permutation: the rank of each suffix.
    inv = [0] * n
    for r, i in enumerate(sa.tolist()):
        inv[i] = r
    # Kasai's algorithm: visit the suffixes in text order. From suffix i to i + 1 the common prefix
    # with the rank-order predecessor shrinks by at most one, so `h` carries over, decremented, and
    # the total work is O(n).
    lcp = [0] * n
    sa_list = sa.tolist()
    h = 0
    for i in range(n):
        r = inv[i]
        if r == 0:
            h = 0
            continue
        j = sa_list[r - 1]
        while i + h < n and j + h < n and x[i + h] == x[j + h]:
            h += 1
        lcp[r] = h
        if h > 0:
            h -= 1
    return np.array(lcp, dtype=np.int64)


# ## Later copies of every k-gram
#
# Runs of consecutive suffixes with `lcp >= k` share their first `k` symbols. In each run, all
# positions but the smallest are later copies; their windows `[j, j + k)` are marked.
def repeated_spans(seq: Sequence[int] | str | np.ndarray, k: int) -> np.ndarray:
    """A boolean mask `(n,)`: True where a symbol lies in a later copy of some `k`-gram."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int (the shortest repeat to remove), got {k!r}")
    x = _as_array(seq)
    n = len(x)
    sa = suffix_array(x)
    lcp = lcp_array(x, sa)
    # +1 at the start of each marked window, -1 after its end; a running sum marks the union.
    delta = np.zeros(n + 1, dtype=np.int64)
    r = 1
    while r < n:
        if lcp[r] < k:
            r += 1
            continue
        start = r - 1
        while r < n and lcp[r] >= k:
            r += 1
        run = sa[start:r]  # positions sharing one k-gram
        later = np.delete(run, np.argmin(run))
        np.add.at(delta, later, 1)
        np.add.at(delta, later + k, -1)
    return np.cumsum(delta[:n]) > 0


# ## Removing them from documents
#
# The documents are joined with separators $-1, -2, \dots$ (code points are never negative), the
# mask is computed once over the whole corpus, and cut back into documents.
def remove_repeated_substrings(texts: Sequence[str], k: int = 50) -> list[str]:
    """Each text with every later copy of a substring of `>= k` characters removed.

    >>> remove_repeated_substrings(["the cat sat on the mat", "a dog sat on the mat"], k=10)
    ['the cat sat on the mat', 'a dog']
    """
    # The texts are concatenated, each followed by its own negative separator (a value no character
    # has), so no repeat can span two texts; `bounds` records where each text lies.
    pieces, bounds, pos = [], [], 0
    for d, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{d}] must be a str, got {type(t).__name__}")
        pieces.append(_as_array(t))
        pieces.append(np.array([-(d + 1)], dtype=np.int64))
        bounds.append((pos, pos + len(t)))
        pos += len(t) + 1
    if not pieces:
        return []
    mask = repeated_spans(np.concatenate(pieces), k)
    # Each text keeps the characters the mask leaves unmarked: the first copy of a repeat stays, the
    # later ones go.
    out = []
    for t, (a, b) in zip(texts, bounds):
        keep = ~mask[a:b]
        out.append("".join(c for c, m in zip(t, keep) if m))
    return out
