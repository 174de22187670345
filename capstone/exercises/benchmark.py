r"""# Exercises: Stage 8 · Benchmark: decode speed at batch 1, four ways

Keeping the median of repeated rounds (not the mean, which one noisy round drags), and the
stage's speed verdict, checked against `statistics` and a direct reading of the targets."""

import random
import statistics


def solution_1_median_round(rounds: list[dict]) -> dict:
    """The round whose `ms_per_token_p50` is the median (the upper one for an even count)."""
    return sorted(rounds, key=lambda r: r["ms_per_token_p50"])[len(rounds) // 2]


def check_1_median_round(fn) -> None:
    """The kept round must be one of the rounds, and its p50 `statistics.median_high`'s."""
    rng = random.Random(0)
    for n in (1, 2, 3, 4, 5, 7):
        for _ in range(4):
            rounds = []
            for i in range(n):
                p50 = rng.uniform(1.0, 1.2) * (rng.choice([1, 1, 1, 4]))  # some rounds disturbed
                rounds.append({"ms_per_token_p50": p50, "tokens_per_s": 1000 / p50, "round": i})
            given = [dict(r) for r in rounds]
            got = fn(given)
            assert got in rounds, f"median_round must return one of the rounds, got {got}"
            want = statistics.median_high(r["ms_per_token_p50"] for r in rounds)
            assert got["ms_per_token_p50"] == want, (
                f"of p50s {[round(r['ms_per_token_p50'], 3) for r in rounds]} the median round "
                f"has {want:.3f} ms (the upper median for an even count), got "
                f"{got['ms_per_token_p50']:.3f}"
            )


def solution_2_speed_verdict(ms_per_token: dict[str, float], d_model: int) -> tuple[float, bool]:
    """onnxruntime int8's speedup over PyTorch fp32 per token, and whether it meets the target."""
    speedup = ms_per_token["pytorch-fp32"] / ms_per_token["onnxruntime-int8"]
    return speedup, speedup >= (2.0 if d_model >= 384 else 1.3)


def check_2_speed_verdict(fn) -> None:
    """Against the targets read off the chapter: 1.3x for the default model, 2x at width 384+."""
    rng = random.Random(1)
    cases = [(2.0, 1.0, 384), (2.0, 1.0, 192), (1.3, 1.0, 192), (1.29, 1.0, 192), (3.0, 2.0, 512)]
    cases += [(rng.uniform(0.5, 5), rng.uniform(0.5, 3), rng.choice([32, 192, 384, 512]))]
    cases += [(rng.uniform(0.5, 5), rng.uniform(0.5, 3), rng.choice([32, 384])) for _ in range(8)]
    for torch_ms, ort_ms, width in cases:
        times = {
            "pytorch-fp32": torch_ms,
            "pytorch-int8": torch_ms * 0.9,
            "onnxruntime-fp32": ort_ms * 1.5,
            "onnxruntime-int8": ort_ms,
        }
        speedup, met = fn(dict(times), width)
        ratio = torch_ms / ort_ms  # tokens per second scale as 1 / (ms per token)
        target = 2.0 if width >= 384 else 1.3
        assert abs(speedup - ratio) <= 1e-12 * ratio, (
            f"PyTorch fp32 at {torch_ms:.3f} ms/token, onnxruntime int8 at {ort_ms:.3f}: the "
            f"speedup is {ratio:.4f}, got {speedup}"
        )
        assert met == (ratio >= target), (
            f"a speedup of {ratio:.3f} at width {width} {'meets' if ratio >= target else 'misses'}"
            f" the target of {target}x, got {met}"
        )
