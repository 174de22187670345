"""Token shards: round trip against the numpy array written, and the batcher's guarantees."""

import numpy as np
import pytest
import torch

from masterclass.infra.shards import ShardBatcher, TokenShards, write_token_shards


def _tokens(n: int, vocab: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, size=n)


@pytest.mark.parametrize("vocab, dtype", [(300, np.uint16), (65536, np.uint16), (70000, np.uint32)])
def test_round_trip_matches_input(tmp_path, vocab, dtype):
    # Reference: the numpy array we wrote; integers round-trip exactly (no tolerance).
    ref = _tokens(1000, vocab)
    docs = [ref[i : i + 37].tolist() for i in range(0, 1000, 37)]  # documents of ids
    paths = write_token_shards(docs, tmp_path, vocab_size=vocab, shard_tokens=256)
    assert len(paths) == 4  # 256 + 256 + 256 + 232
    shards = TokenShards(tmp_path)
    assert len(shards) == 1000
    assert all(s.dtype == np.dtype(dtype) for s in shards.shards)
    np.testing.assert_array_equal(shards.to_numpy(), ref)
    # Bare ids and explicit paths give the same result.
    write_token_shards(iter(ref.tolist()), tmp_path / "flat", vocab_size=vocab, shard_tokens=300)
    np.testing.assert_array_equal(
        TokenShards(sorted((tmp_path / "flat").glob("*.bin"))).to_numpy(), ref
    )


def test_rejects_out_of_range_ids_and_bad_files(tmp_path):
    with pytest.raises(ValueError, match="outside"):
        write_token_shards([[1, 2, 300]], tmp_path, vocab_size=300)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a shard at all" * 10)
    with pytest.raises(ValueError, match="magic"):
        TokenShards([bad])
    paths = write_token_shards([list(range(100))], tmp_path / "ok", vocab_size=100)
    raw = paths[0].read_bytes()
    paths[0].write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="truncated"):
        TokenShards(tmp_path / "ok")


def _batcher(tmp_path, **kw):
    ref = _tokens(2000, 500, seed=1)
    write_token_shards([ref], tmp_path, vocab_size=500, shard_tokens=700)
    return ref, ShardBatcher(TokenShards(tmp_path), **kw)


def test_batches_are_shifted_windows_of_the_stream(tmp_path):
    ref, batcher = _batcher(tmp_path, batch_size=4, seq_len=16, seed=0)
    # Every row of x must be a contiguous slice of the stream and y the same slice shifted by one.
    text = ref.tolist()
    seen = set()
    for _ in range(batcher.n_windows // 4):
        x, y = batcher.next_batch()
        assert x.shape == y.shape == (4, 16) and x.dtype == torch.int64
        for row_x, row_y in zip(x.tolist(), y.tolist()):
            assert row_x[1:] == row_y[:-1]
            starts = [i for i in range(len(text) - 16) if text[i : i + 17] == row_x + row_y[-1:]]
            assert starts, "window not found in the stream"
            seen.add(tuple(row_x))
    # One epoch visits each window once: no repeats.
    assert len(seen) == (batcher.n_windows // 4) * 4


def test_resume_continues_exactly(tmp_path):
    _, a = _batcher(tmp_path, batch_size=3, seq_len=8, seed=7)
    stream = [a.next_batch() for _ in range(150)]  # crosses epoch boundaries (n_windows = 246)
    b = ShardBatcher(TokenShards(tmp_path), batch_size=3, seq_len=8, seed=7)
    for _ in range(61):
        b.next_batch()
    state = b.state_dict()
    c = ShardBatcher(TokenShards(tmp_path), batch_size=3, seq_len=8, seed=7)
    c.load_state_dict(state)
    for ref, got in zip(stream[61:], (c.next_batch() for _ in range(89))):
        assert torch.equal(ref[0], got[0]) and torch.equal(ref[1], got[1])
    with pytest.raises(ValueError, match="seq_len"):
        ShardBatcher(TokenShards(tmp_path), batch_size=3, seq_len=9, seed=7).load_state_dict(state)


def test_ranks_partition_the_combined_batch(tmp_path):
    # Two ranks with batch 2 together see exactly the single-process batch of 4.
    _, single = _batcher(tmp_path, batch_size=4, seq_len=8, seed=3)
    shards = TokenShards(tmp_path)
    ranks = [ShardBatcher(shards, 2, 8, seed=3, rank=r, world_size=2) for r in range(2)]
    for _ in range(70):
        x, _ = single.next_batch()
        parts = torch.cat([r.next_batch()[0] for r in ranks])
        assert torch.equal(x, parts)


def test_too_little_data_is_a_clear_error(tmp_path):
    write_token_shards([list(range(20))], tmp_path, vocab_size=20)
    with pytest.raises(ValueError, match="windows"):
        ShardBatcher(TokenShards(tmp_path), batch_size=4, seq_len=16, seed=0)
