r"""# Exercises: Token shards: a corpus on disk, streamed into batches

The shard header byte by byte, where window $w$ lives, and where a batcher stands after $k$
steps, checked against files the chapter writes and a batcher it runs."""

import random
import struct
import tempfile
from pathlib import Path

import numpy as np

from masterclass.infra.shards import ShardBatcher, TokenShards, write_token_shards


def solution_1_shard_header(n_tokens: int, vocab_size: int) -> bytes:
    """The 64-byte header of a shard of `n_tokens` ids below `vocab_size`."""
    itemsize = 2 if vocab_size <= 2**16 else 4
    return struct.pack("<8sIIQQ", b"MCTOKENS", 1, itemsize, n_tokens, vocab_size).ljust(64, b"\0")


def check_1_shard_header(fn) -> None:
    """Compare with the first 64 bytes of shards that `write_token_shards` writes."""
    cases = [(10, 300), (1, 50257), (7, 2**16), (7, 2**16 + 1), (300, 100_277), (2, 2**32)]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        for k, (n, vocab) in enumerate(cases):
            ids = rng.integers(0, min(vocab, 2**31), size=n)
            (path,) = write_token_shards([ids], Path(folder) / str(k), vocab_size=vocab)
            want = path.read_bytes()[:64]
            got = bytes(fn(n, vocab))
            assert got == want, (
                f"shard_header({n}, {vocab}) = {got!r}, the shard starts {want!r} (little-endian; "
                "2-byte ids while every id fits in uint16)"
            )


def solution_2_locate_window(shard_lengths: list[int], seq_len: int, w: int) -> tuple[int, int]:
    """`(shard, offset)`: window `w` is tokens `[offset, offset + seq_len + 1)` of that shard."""
    for s, length in enumerate(shard_lengths):
        count = max(length - 1, 0) // seq_len
        if w < count:
            return s, w * seq_len
        w -= count
    raise IndexError("window index past the last window")


def check_2_locate_window(fn) -> None:
    """Compare with the list of every window, shard by shard, each `T + 1` tokens long."""
    rng = random.Random(0)
    cases = [([9, 9], 4), ([3, 17, 0, 8], 4), ([5, 4, 13], 4), ([100], 7)]
    cases += [([rng.randint(0, 40) for _ in range(5)], rng.randint(1, 6)) for _ in range(10)]
    for lengths, seq_len in cases:
        windows = [
            (s, start)
            for s, length in enumerate(lengths)
            for start in range(0, length - seq_len, seq_len)
        ]
        for w, want in enumerate(windows):
            got = tuple(int(v) for v in fn(list(lengths), seq_len, w))
            assert got == want, (
                f"locate_window({lengths}, {seq_len}, {w}) = {got}, want {want}: a shard of n "
                f"tokens holds (n - 1) // T windows (each needs T + 1 tokens)"
            )


def solution_3_position_after(
    steps: int, n_windows: int, batch_size: int, world_size: int
) -> tuple[int, int]:
    """`(epoch, position)` of a batcher's state after `steps` calls of `next_batch`."""
    per_step = batch_size * world_size
    per_epoch = n_windows // per_step
    if steps == 0:
        return 0, 0
    return (steps - 1) // per_epoch, ((steps - 1) % per_epoch + 1) * per_step


def check_3_position_after(fn) -> None:
    """Compare with the state of a real `ShardBatcher` after that many steps."""
    cases = [(0, 2, 1), (1, 2, 1), (5, 2, 1), (6, 2, 2), (7, 3, 1), (12, 1, 3), (4, 5, 2)]
    with tempfile.TemporaryDirectory() as folder:
        write_token_shards([np.arange(100)], folder, vocab_size=100, shard_tokens=60)
        shards = TokenShards(folder)
        for steps, batch_size, world_size in cases:
            batcher = ShardBatcher(
                shards, batch_size, 4, seed=0, rank=world_size - 1, world_size=world_size
            )
            for _ in range(steps):
                batcher.next_batch()
            state = batcher.state_dict()
            want = (state["epoch"], state["position"])
            got = tuple(int(v) for v in fn(steps, batcher.n_windows, batch_size, world_size))
            assert got == want, (
                f"position_after({steps}, n_windows={batcher.n_windows}, {batch_size}, "
                f"{world_size}) = {got}, the batcher is at (epoch, position) = {want}"
            )
        del shards, batcher
