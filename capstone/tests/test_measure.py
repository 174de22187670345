"""The measuring chapter against sums written out by hand: windows that predict every token once,
held-out nats / tokens / bytes / bits per byte against a float64 numpy loop, the batching of full
windows, and the relative loss change of two models (fast: no run folder, no training)."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from masterclass.capstone.measure import compare_losses, heldout_nll, token_bytes_table, windows
from masterclass.nlp.bpe import BPETokenizer

V = 7


def _bigram(seed: int):
    """A "model" whose logits at a position depend only on the token there: `table[ids]`."""
    table = torch.randn(V, V, generator=torch.Generator().manual_seed(seed)) * 2

    def logits_fn(ids: torch.Tensor) -> torch.Tensor:
        return table[ids]  # (B, T, V)

    return logits_fn, table.double().numpy()


def _reference(table: np.ndarray, stream: np.ndarray, token_bytes: np.ndarray) -> dict:
    # Every target t >= 1 is predicted from stream[t - 1] alone (a bigram model does not see the
    # rest of its window), so the windows do not matter: one float64 log-softmax per target.
    nats = tokens = n_bytes = 0
    for prev, target in itertools.pairwise(stream):
        if token_bytes[target] == 0:
            continue
        row = table[prev]
        log_z = math.log(np.exp(row - row.max()).sum()) + row.max()
        nats += log_z - row[target]
        tokens += 1
        n_bytes += int(token_bytes[target])
    return {"nats": nats, "tokens": tokens, "bytes": n_bytes}


def test_windows_predict_every_token_but_the_first_exactly_once():
    assert windows(np.arange(10), 4) == [(0, 4), (4, 4), (8, 1)]
    assert windows(np.arange(9), 4) == [(0, 4), (4, 4)]
    assert windows(np.arange(2), 4) == [(0, 1)]
    assert windows(np.arange(1), 4) == []
    for n in range(1, 30):
        for context in range(1, 7):
            spans = windows(np.arange(n), context)
            predicted = [t for s, length in spans for t in range(s + 1, s + length + 1)]
            assert predicted == list(range(1, n)), (n, context)
            assert all(0 < length <= context for _, length in spans)
            assert [s for s, _ in spans] == list(range(0, n - 1, context))


@pytest.mark.parametrize(("n", "context", "batch_size"), [(50, 4, 3), (33, 8, 8), (6, 8, 2)])
def test_heldout_nll_equals_the_sum_over_targets(n, context, batch_size):
    # Token 0 is a special token (0 bytes, never counted); tokens 1..6 stand for 1..3 bytes.
    # float32 log-softmax against float64: each term agrees to ~1e-7 relative; 1e-6 on the sums.
    logits_fn, table = _bigram(0)
    token_bytes = np.array([0, 1, 2, 3, 1, 1, 2])
    stream = np.random.default_rng(n).integers(0, V, n)
    stream[0] = 0
    got = heldout_nll(logits_fn, stream, context, token_bytes=token_bytes, batch_size=batch_size)
    ref = _reference(table, stream, token_bytes)
    assert got["tokens"] == ref["tokens"] and got["bytes"] == ref["bytes"]
    assert got["nats"] == pytest.approx(ref["nats"], rel=1e-6)
    assert got["loss"] == pytest.approx(ref["nats"] / ref["tokens"], rel=1e-6)
    assert got["perplexity"] == pytest.approx(math.exp(ref["nats"] / ref["tokens"]), rel=1e-6)
    bits = ref["nats"] / math.log(2)  # nats -> bits, then per byte of text
    assert got["bits_per_byte"] == pytest.approx(bits / ref["bytes"], rel=1e-6)


def test_full_windows_are_batched_and_the_short_one_runs_alone():
    # 20 full windows of 4 and a last one of 2 (n = 83): default batches of 8, 8, 4, then 1 x 2.
    logits_fn, _ = _bigram(1)
    shapes = []

    def recording(ids):
        shapes.append(tuple(ids.shape))
        return logits_fn(ids)

    stream = np.random.default_rng(0).integers(1, V, 83)
    heldout_nll(recording, stream, 4, token_bytes=np.ones(V, dtype=np.int64))
    assert shapes == [(8, 4), (8, 4), (4, 4), (1, 2)]


def test_a_stream_without_text_targets_is_refused():
    logits_fn, _ = _bigram(2)
    with pytest.raises(ValueError, match="no byte-bearing target"):
        heldout_nll(logits_fn, np.array([0, 0, 0]), 4, token_bytes=np.array([0, 1, 1, 1, 1, 1, 1]))


def test_token_bytes_table_counts_each_tokens_bytes_and_zero_for_specials():
    tok = BPETokenizer.train(["hello hello world"] * 3, 262, special_tokens=["<|eot|>"])
    table = token_bytes_table(tok)
    assert table.shape == (262,) and table.dtype == np.int64
    assert (table[:256] == 1).all()  # the 256 single bytes
    assert [int(t) for t in table[256:261]] == [len(t) for t in tok._vocab[256:261]]
    assert table[tok.special_tokens["<|eot|>"]] == 0 and (table[256:261] >= 2).all()


def test_compare_losses_is_the_relative_change_on_the_same_tokens():
    tok = BPETokenizer.train(["abc abd"] * 3, 258, special_tokens=["<|eot|>"])
    stream = np.random.default_rng(3).integers(0, V, 200)
    run = SimpleNamespace(load_tokenizer=lambda: tok, heldout_stream=lambda n: stream[:n])
    cfg = SimpleNamespace(
        evaluate=SimpleNamespace(compare_tokens=90),
        train=SimpleNamespace(batch_size=4),
        model=SimpleNamespace(max_seq_len=8),
    )
    (ref_fn, ref_table), (cand_fn, cand_table) = _bigram(4), _bigram(5)
    # The stream's ids 0..6 are the tokenizer's single bytes 0x00..0x06: one byte each.
    token_bytes = np.ones(V, dtype=np.int64)
    ref = _reference(ref_table, stream[:90], token_bytes)
    cand = _reference(cand_table, stream[:90], token_bytes)
    got = compare_losses(ref_fn, cand_fn, cfg, run)
    ref_loss, cand_loss = ref["nats"] / ref["tokens"], cand["nats"] / cand["tokens"]
    assert got["compared_tokens"] == ref["tokens"] == 89
    assert got["reference_loss"] == pytest.approx(ref_loss, rel=1e-6)
    assert got["candidate_loss"] == pytest.approx(cand_loss, rel=1e-6)
    expected = (cand_loss - ref_loss) / ref_loss
    assert got["relative_loss_change"] == pytest.approx(expected, rel=1e-5)
