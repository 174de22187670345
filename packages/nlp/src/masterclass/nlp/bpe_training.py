r"""# Training byte-level BPE

Byte-pair encoding (Sennrich, Haddow & Birch, 2016, after Gage, 1994) learns a vocabulary
bottom-up. Start with the 256 byte values; count every adjacent pair of tokens in the corpus; make
the most frequent pair a new token; replace it everywhere; repeat until the vocabulary has $V$
entries. Byte-level BPE (GPT-2, Radford et al., 2019) starts from bytes rather than characters, so
every string is representable and nothing is ever unknown.

Done naively, each of the $V - 256$ merges recounts all pairs in the corpus: $O(V \cdot N)$ for
$N$ bytes, hours for a large corpus. Four observations make it fast:

1. **Pre-tokens.** Merges never cross a pre-token boundary (see the tokenization strategies
   chapter), so the corpus is a multiset of pre-tokens: $\{(w, c_w)\}$, each distinct word $w$ with
   its count $c_w$. Training touches each *distinct* word, not each occurrence, and memory grows
   with the number of distinct pre-tokens, not with the corpus. Counting is embarrassingly parallel:
   worker processes each count a chunk, the parent adds the counters.
2. **Incremental counts.** A merge of $(a, b)$ changes pair counts only inside words that contain
   $(a, b)$. An index pair $\to$ set of word ids finds them; for each, we subtract the counts of its
   old pairs and add those of its new pairs, weighted by $c_w$.
3. **A heap with lazy invalidation** finds the most frequent pair in $O(\log P)$: every count change
   pushes a fresh entry $(-\text{count}, a, b)$; a popped entry whose count no longer matches the
   table is stale and dropped.
4. **Deterministic ties.** Among equally frequent pairs the one with the smallest $(a, b)$ token ids
   wins (the tuple order of the heap), so training is reproducible across runs, platforms and worker
   counts.

The learned vocabulary is returned as byte strings in rank order; `masterclass.nlp.bpe` turns it into
a tokenizer. One subtlety: a pair can concatenate to bytes that are already a token (e.g. `ab`+`c`
after `a`+`bc` made `abc`). We then merge the pair into the existing token instead of creating a
duplicate; this is exactly what the encoder does (it merges any adjacent pair whose concatenation is
a token, lowest rank first), so training and encoding agree and the vocabulary has unique entries,
as tiktoken requires.

Left out: BPE-dropout, and merging across pre-tokens (SuperBPE).

## Exercises

1. Write `pair_counts(word_counts)`: the count of every adjacent byte pair over the distinct
   words, weighted by their counts; the first merge is its most frequent pair. Check it:
   `uv run pytest --exercise nlp.bpe_training`.
2. Write `naive_merges(word_counts, n_merges)`: the trainer that recounts every pair after each
   merge (ties: lowest token ids), returning the new tokens. How does its cost per merge compare
   with `learn_merges`'s, which touches only the words containing the merged pair? Check it:
   `uv run pytest --exercise nlp.bpe_training`.
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
import sys
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from itertools import pairwise

import regex

__all__ = ["count_pretokens", "learn_merges"]

# Texts are sent to workers in batches of about this many characters: large enough that pickling
# and process switches are negligible, small enough that a few in flight use little memory.
_BATCH_CHARS = 1 << 20


def _special_splitter(special_tokens: Sequence[str]) -> regex.Pattern | None:
    # Longest first, so that a special token that is a prefix of another never shadows it.
    if not special_tokens:
        return None
    alternation = "|".join(regex.escape(s) for s in sorted(special_tokens, key=len, reverse=True))
    return regex.compile(alternation)


def _count_batch(texts: list[str], pattern: str, special_tokens: tuple[str, ...]) -> dict[str, int]:
    # Runs in a worker: split out the special tokens (they are never trained on), pre-tokenize the
    # rest and count distinct pieces. `Counter.update` over an iterator runs its loop in C.
    pat = regex.compile(pattern)
    splitter = _special_splitter(special_tokens)
    counts: Counter[str] = Counter()
    for text in texts:
        parts = splitter.split(text) if splitter is not None else (text,)
        for part in parts:
            counts.update(pat.findall(part))
    return counts


# The stream is cut into batches of about `_BATCH_CHARS` characters, each item checked to be a
# string on the way.
def _batches(texts: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    size = 0
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"texts must yield str, got {type(text).__name__}")
        batch.append(text)
        size += len(text)
        if size >= _BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


# ## Streaming, parallel pre-token counting
#
# The input is any iterable of strings (a list, a generator reading files line by line), consumed
# once. Batches go to a process pool with at most two batches per worker in flight, so memory stays
# bounded by the counters, never by the corpus. A corpus that fits in one batch is counted in this
# process: starting workers would cost more than it saves. Workers are forked on Linux (cheap: no
# re-import), spawned elsewhere (forking is unsafe on macOS; the workers import only this module).
def count_pretokens(
    texts: Iterable[str],
    pattern: str,
    special_tokens: Sequence[str] = (),
    num_workers: int | None = None,
) -> Counter[str]:
    r"""Count the distinct pre-tokens of a stream of texts, in parallel.

    Args:
        texts: an iterable of strings, consumed once.
        pattern: the pre-tokenization regex (`regex` module syntax).
        special_tokens: strings removed from the text before counting.
        num_workers: processes to use; `None` means one per CPU, `1` means this process only.

    Returns:
        A `Counter` mapping each pre-token to its number of occurrences.

    >>> count_pretokens(["the cat", "the dog<|end|>the"], r" ?\w+", ["<|end|>"])
    Counter({'the': 3, ' cat': 1, ' dog': 1})
    """
    workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"num_workers must be >= 1 or None, got {num_workers}")
    # Peek at two batches: a corpus of one batch, or `num_workers=1`, is counted right here.
    specials = tuple(special_tokens)
    batches = iter(_batches(texts))
    first = next(batches, None)
    total: Counter[str] = Counter()
    if first is None:
        return total
    second = next(batches, None)
    if second is None or workers == 1:
        total.update(_count_batch(first, pattern, specials))
        if second is not None:
            total.update(_count_batch(second, pattern, specials))
            for batch in batches:
                total.update(_count_batch(batch, pattern, specials))
        return total
    # Otherwise a pool: at most two batches per worker in flight, the oldest result collected
    # first, so at most `2 * workers` batches of text are held at once.
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ctx.Pool(workers) as pool:
        pending: deque = deque()
        for batch in _chain(first, second, batches):
            pending.append(pool.apply_async(_count_batch, (batch, pattern, specials)))
            if len(pending) >= 2 * workers:
                total.update(pending.popleft().get())
        while pending:
            total.update(pending.popleft().get())
    return total


def _chain(first: list[str], second: list[str], rest: Iterable[list[str]]) -> Iterable[list[str]]:
    yield first
    yield second
    yield from rest


# ## The merge loop
#
# `words[i]` is the current token sequence of distinct pre-token $i$ and `counts[i]` its frequency.
# `pair_counts[(a, b)]` is $\sum_i c_i \cdot \#\{(a,b) \text{ in } w_i\}$ and `where[(a, b)]` a superset
# of the words containing the pair (entries are never removed, only checked: a word in which the pair
# no longer occurs is skipped in one scan).
def learn_merges(
    word_counts: dict[bytes, int], vocab_size: int, vocab: list[bytes] | None = None
) -> list[bytes]:
    """Learn BPE merges over distinct words until the vocabulary has `vocab_size` entries.

    Args:
        word_counts: each distinct pre-token's bytes and its count.
        vocab_size: target number of tokens (stops early if no pair is left to merge).
        vocab: the initial tokens (default: the 256 single bytes).

    Returns:
        The vocabulary as byte strings, index = token id = rank.

    >>> learn_merges({b"aaab": 2, b"ab": 3}, 258)[256:]
    [b'ab', b'aa']
    """
    # One entry per distinct word, as a list of byte ids; a one-byte word has no pair to merge.
    vocab = [bytes([i]) for i in range(256)] if vocab is None else list(vocab)
    token_id = {tok: i for i, tok in enumerate(vocab)}
    words: list[list[int]] = []
    counts: list[int] = []
    for word, count in word_counts.items():
        if len(word) > 1:
            words.append([token_id[bytes([x])] for x in word])
            counts.append(count)
    # Count each adjacent pair, weighted by its word's frequency, and note which words hold it.
    pair_counts: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], set[int]] = {}
    for wi, word in enumerate(words):
        c = counts[wi]
        for pair in pairwise(word):
            pair_counts[pair] = pair_counts.get(pair, 0) + c
            s = where.get(pair)
            if s is None:
                where[pair] = {wi}
            else:
                s.add(wi)
    # A max-heap of counts (negated for `heapq`) with lazy deletion: a changed count is pushed
    # anew, and an entry whose count no longer matches is skipped when popped.
    heap = [(-c, pair) for pair, c in pair_counts.items()]
    heapq.heapify(heap)
    while len(vocab) < vocab_size and heap:
        neg, pair = heapq.heappop(heap)
        if pair_counts.get(pair) != -neg:
            continue  # stale entry: the count changed after it was pushed
        # The merged token gets the next id, unless the initial vocabulary already holds it.
        a, b = pair
        merged = vocab[a] + vocab[b]
        new = token_id.get(merged)
        if new is None:
            new = len(vocab)
            vocab.append(merged)
            token_id[merged] = new
        # Rewrite every word that may hold the pair, summing the net change of each pair's count
        # in `delta`; a word whose length did not change no longer held the pair.
        delta: dict[tuple[int, int], int] = {}
        for wi in where.pop(pair, ()):
            word = words[wi]
            # Replace non-overlapping occurrences left to right (`a a a` with pair `(a, a)` becomes
            # `aa a`), as the encoder does.
            out: list[int] = []
            i, n = 0, len(word)
            while i < n:
                if i + 1 < n and word[i] == a and word[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            if len(out) == n:
                continue
            # Update the counts by difference: subtract every pair of the old word, add every pair
            # of the new one, and file the word under each new pair that contains the new token.
            c = counts[wi]
            for p in pairwise(word):
                delta[p] = delta.get(p, 0) - c
            for p in pairwise(out):
                delta[p] = delta.get(p, 0) + c
                if p[0] == new or p[1] == new:
                    s = where.get(p)
                    if s is None:
                        where[p] = {wi}
                    else:
                        s.add(wi)
            words[wi] = out
        # Apply the net change of every touched pair and push its new count.
        for p, d in delta.items():
            if d:
                nc = pair_counts.get(p, 0) + d
                if nc > 0:
                    pair_counts[p] = nc
                    heapq.heappush(heap, (-nc, p))
                else:
                    pair_counts.pop(p, None)
    return vocab
