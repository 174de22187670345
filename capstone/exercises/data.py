r"""# Exercises: Stage 3 · The data: tokens on disk, once

The token stream `[EOT, d1, EOT, d2, ...]`, the too-small check, and the shard's integer type,
checked against the shards the chapter writes and `infra`'s batcher."""

import random
import tempfile
from pathlib import Path

import numpy as np

from masterclass.capstone.config import END_OF_TEXT
from masterclass.capstone.data import _documents
from masterclass.infra.shards import ShardBatcher, TokenShards, write_token_shards
from masterclass.nlp.bpe import BPETokenizer


def solution_1_token_stream(documents: list[list[int]], eot: int) -> np.ndarray:
    """Every document's ids preceded by the end-of-text id, concatenated (int64)."""
    out = []
    for ids in documents:
        out += [eot, *ids]
    return np.array(out, dtype=np.int64)


def check_1_token_stream(fn) -> None:
    """Against the shards the data stage writes for the same documents, read back from disk."""
    rng = random.Random(0)
    text = " ".join(rng.choices(["ab", "abc", "b", "ca", "\n"], k=300))
    tok = BPETokenizer.train([text], 280, special_tokens=[END_OF_TEXT])
    eot = tok.special_tokens[END_OF_TEXT]
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(5):
            docs = [
                " ".join(rng.choices(["ab", "abc", "b", "ca"], k=rng.randint(1, 9))).encode()
                for _ in range(rng.randint(1, 6))
            ]
            folder = Path(tmp) / str(case)
            write_token_shards(_documents(tok, docs), folder, vocab_size=tok.vocab_size)
            want = TokenShards(folder).to_numpy()
            got = np.asarray(fn([tok.encode_bytes(d) for d in docs], eot))
            assert got.shape == want.shape and np.array_equal(got, want), (
                f"case {case}: token_stream of {len(docs)} documents = {got.tolist()}, the data "
                f"stage writes {want.tolist()} (EOT = {eot} before every document)"
            )


def solution_2_enough_tokens(n_tokens: int, batch_size: int, context: int) -> bool:
    """Whether a stream of `n_tokens` holds `batch_size` windows of `context + 1` tokens."""
    return n_tokens >= batch_size * context + 1


def check_2_enough_tokens(fn) -> None:
    """Against `infra`'s `ShardBatcher`, which cuts the training windows and refuses too few."""
    rng = random.Random(1)
    cases = [(65, 1, 64), (64, 1, 64), (8 * 64 + 1, 8, 64), (8 * 64, 8, 64), (2, 1, 1), (1, 1, 1)]
    cases += [(rng.randint(1, 200), rng.randint(1, 6), rng.randint(1, 40)) for _ in range(20)]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (n, batch, context) in enumerate(cases):
            folder = Path(tmp) / str(i)
            write_token_shards([list(range(n))], folder, vocab_size=max(n, 1))
            try:
                ShardBatcher(TokenShards(folder), batch, context, seed=0).next_batch()
                want = True
            except ValueError:
                want = False
            got = fn(n, batch, context)
            assert bool(got) == want, (
                f"enough_tokens({n}, batch_size={batch}, context={context}) = {got}: windows of "
                f"{context} inputs and {context} targets start every {context} tokens, and "
                f"{(n - 1) // context} of them fit, {'enough' if want else 'fewer than'} "
                f"{batch}"
            )


def solution_3_shard_dtype(vocab_size: int) -> str:
    """The name of the smallest unsigned integer type that holds every id below `vocab_size`."""
    return "uint16" if vocab_size <= 2**16 else "uint32"


def check_3_shard_dtype(fn) -> None:
    """Against the type `write_token_shards` stores, and the largest id each type can hold."""
    with tempfile.TemporaryDirectory() as tmp:
        for vocab in (257, 300, 4096, 2**16 - 1, 2**16, 2**16 + 1, 100_000, 2**20):
            folder = Path(tmp) / str(vocab)
            write_token_shards([[0, vocab - 1]], folder, vocab_size=vocab)
            want = np.dtype(TokenShards(folder).shards[0].dtype.name)
            answer = fn(vocab)
            try:
                got = np.dtype(answer)
            except TypeError:
                raise AssertionError(
                    f"shard_dtype({vocab}) = {answer!r} is no numpy type"
                ) from None
            assert got == want, f"shard_dtype({vocab}) = {got}, the shards store {want}"
            assert np.iinfo(got).max >= vocab - 1, f"id {vocab - 1} does not fit in {got}"
