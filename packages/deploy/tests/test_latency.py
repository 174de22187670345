"""Latency accounting with a step clock (exact, policy-only) and numpy percentiles; no timing."""

import numpy as np
import pytest

from masterclass.deploy.batching import Engine
from masterclass.deploy.latency import measure_latency, percentiles


def test_batching_policy_moves_ttft_exactly_as_derived(make_lm):
    # Three requests of n = 4 tokens. One at a time: first tokens at steps 1, n + 1, 2n + 1.
    # All in one batch: every first token at step 1. Every later token comes one step later.
    model = make_lm(0, vocab=64)
    prompts = [[1, 2], [3], [4, 5, 6]]
    serial = measure_latency(Engine(model, max_batch=1), prompts, 4, clock="steps")
    batched = measure_latency(Engine(model, max_batch=3), prompts, 4, clock="steps")
    assert serial.ttft() == [1.0, 5.0, 9.0] and batched.ttft() == [1.0, 1.0, 1.0]
    assert serial.itl() == [1.0] * 9 and batched.itl() == [1.0] * 9
    assert serial.wall == 12 and batched.wall == 4  # steps to drain the queue


def test_summary_matches_numpy(make_lm):
    ticks = iter(np.arange(0, 1000, 0.25))
    rep = measure_latency(
        Engine(make_lm(0, vocab=64), max_batch=2),
        [[1], [2], [3]],
        [3, 5, 2],
        clock=lambda: next(ticks),
    )
    s = rep.summary()
    assert [len(t.tokens) for t in rep.timings] == [3, 5, 2]
    assert s["ttft_p50"] == np.percentile(rep.ttft(), 50)
    assert s["itl_p99"] == np.percentile(rep.itl(), 99)
    assert s["tokens_per_time"] == 10 / rep.wall
    assert all(t.ttft > 0 for t in rep.timings)


def test_bad_arguments(make_lm):
    engine = Engine(make_lm(0, vocab=64))
    with pytest.raises(ValueError, match="clock must be"):
        measure_latency(engine, [[1]], 2, clock="wall")
    with pytest.raises(ValueError, match="2 entries for 1 prompts"):
        measure_latency(engine, [[1]], [2, 3])
    assert np.isnan(percentiles([])).all()
