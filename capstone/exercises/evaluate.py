r"""# Exercises: Stage 5 · Evaluation: bits per byte, and what they are worth

The xz baseline in bits per byte, and the held-out documents recovered from the token stream
(the bytes every baseline is given), checked against `lzma` and the tokenizer's own decoder."""

import itertools
import lzma
import math
import random

import numpy as np

from masterclass.capstone.config import END_OF_TEXT
from masterclass.nlp.bpe import BPETokenizer


def solution_1_xz_bits_per_byte(documents: list[bytes]) -> float:
    """Bits per byte of the documents concatenated, compressed by xz at preset 9."""
    data = b"".join(documents)
    return 8 * len(lzma.compress(data, preset=9)) / len(data)


def check_1_xz_bits_per_byte(fn) -> None:
    """Against a streaming `lzma.LZMACompressor` (which must decompress to the documents)."""
    rng = random.Random(0)
    code = b"def f(x):\n    return x + 1\n"
    # Few cases: one xz -9 call costs a fifth of a second (it sets up a 64 MiB dictionary).
    cases = [
        [code, b"class A:\n    pass\n" * 10, code * 3],
        [bytes(rng.randrange(256) for _ in range(2000))],  # random bytes: no model compresses them
        [bytes(rng.choices(b"abc def\n", k=rng.randint(50, 3000))) for _ in range(4)],
    ]
    for docs in cases:
        compressor = lzma.LZMACompressor(preset=9)
        blob = b"".join(compressor.compress(d) for d in docs) + compressor.flush()
        assert lzma.decompress(blob) == b"".join(docs)
        want = 8 * len(blob) / sum(map(len, docs))
        got = fn(list(docs))
        # Both are ratios of exact integers: equal to float rounding.
        assert math.isclose(got, want, rel_tol=1e-12), (
            f"xz_bits_per_byte of {len(docs)} document(s), {sum(map(len, docs))} bytes = {got}, "
            f"xz -9 stores them in {len(blob)} bytes: {want:.4f} bits per byte"
        )
        if docs is cases[1]:
            assert got > 8, f"random bytes cost more than 8 bits each with xz, got {got}"


def solution_2_split_documents(stream: np.ndarray, eot: int) -> list[np.ndarray]:
    """The non-empty runs of ids between end-of-text tokens of `[EOT, d1, EOT, d2, ...]`."""
    cuts = [i for i, t in enumerate(stream.tolist()) if t == eot] + [len(stream)]
    return [stream[a + 1 : b] for a, b in itertools.pairwise(cuts) if b > a + 1]


def check_2_split_documents(fn) -> None:
    """Decoded, the pieces must be the documents the stream was made of (empty ones dropped)."""
    rng = random.Random(1)
    words = ["def", "return", " ", "x", "(", ")", ":", "\n", "ab"]
    tok = BPETokenizer.train(
        ["".join(rng.choices(words, k=400))], 290, special_tokens=[END_OF_TEXT]
    )
    eot = tok.special_tokens[END_OF_TEXT]
    for case in range(8):
        docs = ["".join(rng.choices(words, k=rng.randint(0, 20))).encode() for _ in range(5)]
        ids = [t for d in docs for t in (eot, *tok.encode_bytes(d))]
        if case % 2:
            ids = ids[: rng.randint(1, len(ids))]  # a stream cut to max_tokens ends mid-document
        stream = np.array(ids, dtype=np.int64)
        want = [d for d in (tok.decode_bytes(p) for p in _pieces(ids, eot)) if d]
        got = [tok.decode_bytes(np.asarray(p).tolist()) for p in fn(stream, eot)]
        assert got == want, (
            f"case {case}: split_documents gives documents {got}, the stream holds {want}"
        )


def _pieces(ids: list[int], eot: int) -> list[list[int]]:
    pieces: list[list[int]] = []
    for t in ids:
        if t == eot:
            pieces.append([])
        else:
            pieces[-1].append(t)
    return pieces
