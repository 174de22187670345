r"""# Exercises: Measuring a model: bits per byte on held-out tokens

Turning nats into bits per byte, and cutting a stream into windows that predict every token once."""

import gzip
import math

import numpy as np

from masterclass.capstone.measure import windows


def solution_1_bits_per_byte(nats: float, n_bytes: int) -> float:
    return nats / (math.log(2) * n_bytes)


def check_1_bits_per_byte(fn) -> None:
    # Against two independent facts: a uniform model over the 256 byte values costs exactly 8 bits
    # per byte; and an ideal code for gzip's output length L has -ln p = 8 L ln 2 nats, whose rate
    # must come back as gzip's own 8 L / n.
    n = 1000
    got = fn(n * math.log(256), n)
    assert abs(got - 8.0) < 1e-12, f"a uniform byte model is 8 bits/byte, got {got}"
    data = b"the quick brown fox " * 50
    length = len(gzip.compress(data, 9, mtime=0))
    got = fn(8 * length * math.log(2), len(data))
    assert abs(got - 8 * length / len(data)) < 1e-12, f"gzip's rate should come back, got {got}"


def solution_2_windows(n: int, context: int) -> list[tuple[int, int]]:
    return [(s, min(context, n - 1 - s)) for s in range(0, n - 1, context)]


def check_2_windows(fn) -> None:
    # Every target index 1..n-1 predicted exactly once, windows at most `context` long, starting
    # where the last ended, as few as possible (the chapter's `windows` as a second opinion).
    for n, context in [(10, 4), (9, 4), (2, 8), (65, 64), (130, 64)]:
        got = [tuple(w) for w in fn(n, context)]
        targets = [s + 1 + i for s, length in got for i in range(length)]
        assert targets == list(range(1, n)), f"windows({n}, {context}) = {got} misses or repeats"
        assert all(0 < length <= context for _, length in got), f"a window is too long: {got}"
        assert got == windows(np.arange(n), context), f"windows({n}, {context}) = {got}"
