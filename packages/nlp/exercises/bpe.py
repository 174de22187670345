r"""# Exercises: The byte-level BPE tokenizer

One training step, one merge, and the rank rule that encodes a pre-token, checked against tiktoken."""

import random
from collections import Counter
from itertools import pairwise

from masterclass.nlp.bpe import BPETokenizer
from masterclass.nlp.bpe_training import learn_merges


def solution_1_most_frequent_pair(word_counts: dict[bytes, int]) -> tuple[int, int]:
    """The first pair BPE training merges: highest weighted count, then smallest `(a, b)`."""
    counts: Counter = Counter()
    for word, count in word_counts.items():
        for pair in pairwise(word):
            counts[pair] += count
    return min(counts, key=lambda pair: (-counts[pair], pair))


def _random_words(seed: int) -> dict[bytes, int]:
    rng = random.Random(seed)
    return {
        bytes(rng.choice(b"abcd") for _ in range(rng.randint(2, 6))): rng.randint(1, 5)
        for _ in range(12)
    }


def check_1_most_frequent_pair(fn) -> None:
    """The pair must be the one the chapter's trainer makes its first merge."""
    cases = [{b"aaabdaaabac": 1}, {b"aaab": 2, b"ab": 3}, *(_random_words(s) for s in range(8))]
    for words in cases:
        first = learn_merges(words, 257)[256]
        want = (first[0], first[1])
        got = tuple(fn(words))
        assert got == want, f"for {words}: got {got}, training merges {want} first"


def solution_2_merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each occurrence of `pair`, scanning left to right."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def check_2_merge(fn) -> None:
    """Compare with `str.replace` (also left to right, non-overlapping) on one character per id."""
    rng = random.Random(0)
    cases = [([1, 1, 1], (1, 1)), ([1, 2, 1, 2, 1], (1, 2)), ([], (1, 2)), ([3], (3, 3))]
    cases += [([rng.randint(0, 2) for _ in range(12)], (rng.randint(0, 2), rng.randint(0, 2)))]
    cases += [([rng.randint(0, 3) for _ in range(20)], (1, 2)) for _ in range(5)]
    for ids, pair in cases:
        text = "".join(chr(65 + i) for i in ids).replace(chr(65 + pair[0]) + chr(65 + pair[1]), "z")
        want = [9 if ch == "z" else ord(ch) - 65 for ch in text]
        got = list(fn(list(ids), pair, 9))
        assert got == want, f"merge({ids}, {pair}, 9) = {got}, want {want}"


def solution_3_encode_piece(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    """Merge the lowest-rank adjacent pair until none is a token."""
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        candidates = [(ranks.get(parts[i] + parts[i + 1]), i) for i in range(len(parts) - 1)]
        candidates = [(r, i) for r, i in candidates if r is not None]
        if not candidates:
            break
        _, i = min(candidates)
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return [ranks[p] for p in parts]


def check_3_encode_piece(fn) -> None:
    """Compare with tiktoken's own merge loop on pieces of a tokenizer trained here."""
    texts = ["the lower lowest newer newest wider widest " * 3, "def encode(piece): return piece"]
    tok = BPETokenizer.train(texts, 300)
    tt = tok.to_tiktoken()
    ranks = {tok.token_bytes(i): i for i in range(tok.vocab_size)}
    for piece in [b" lowest", b" newer", b"encode", b"widest", b"xyz", b"a", b" the"]:
        want = tt._encode_single_piece(piece)
        got = list(fn(piece, ranks))
        assert got == want, f"encode_piece({piece!r}) = {got}, tiktoken gives {want}"
