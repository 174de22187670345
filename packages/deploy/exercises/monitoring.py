r"""# Exercises: Monitoring and logging a model server

Quantiles from histogram buckets and counter rates, as Prometheus computes them."""

import numpy as np


def solution_1_histogram_quantile(bounds: list[float], counts: list[float], q: float) -> float:
    rank = q * counts[-1]
    prev_count, lower = 0.0, 0.0
    for upper, c in zip(bounds, counts):
        if c >= rank:
            return lower + (upper - lower) * (rank - prev_count) / (c - prev_count)
        prev_count, lower = c, upper
    return bounds[-1]


def check_1_histogram_quantile(fn) -> None:
    # Exact on a hand-made histogram, and close to numpy's quantile on fine buckets.
    assert abs(fn([1.0, 2.0, 4.0], [10, 30, 40], 0.5) - 1.5) < 1e-12, "median of the example"
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 20000)
    bounds = list(np.linspace(0.5, 10, 20))
    counts = [float((x <= b).sum()) for b in bounds]
    for q in (0.5, 0.9, 0.99):
        got, want = fn(bounds, counts, q), float(np.quantile(x, q))
        assert abs(got - want) < 0.1, f"histogram_quantile q={q}: {got}, data quantile {want}"


def solution_2_rate(samples: list[tuple[float, float]], window: float) -> float:
    t_end = samples[-1][0]
    inside = [(t, v) for t, v in samples if t >= t_end - window]
    (t0, v0), (t1, v1) = inside[0], inside[-1]
    return (v1 - v0) / (t1 - t0)


def check_2_rate(fn) -> None:
    # A counter that grows 5 per second for 10 s, then 20 per second for 10 s.
    samples = [(float(t), 5.0 * t if t <= 10 else 50 + 20.0 * (t - 10)) for t in range(21)]
    for window, want in [(5, 20.0), (20, 12.5)]:
        got = fn(samples, window)
        assert abs(got - want) < 1e-9, f"rate over {window} s = {got}, want {want}"
