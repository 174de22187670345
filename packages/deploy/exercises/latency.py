r"""# Exercises: Latency: time to first token and inter-token latency

TTFT and ITL from timestamps, and the TTFT of first-come-first-served serving, checked against the engine."""

import itertools

import torch

from masterclass.deploy.batching import Engine
from masterclass.deploy.latency import measure_latency
from masterclass.llm import LanguageModel, LMConfig


def solution_1_ttft_and_itl(
    submit_time: float, token_times: list[float]
) -> tuple[float, list[float]]:
    gaps = [b - a for a, b in itertools.pairwise(token_times)]
    return token_times[0] - submit_time, gaps


def check_1_ttft_and_itl(fn) -> None:
    for sub, times in [(0.0, [0.5, 0.7, 1.0]), (2.0, [2.25]), (1.0, [3.0, 3.5, 3.75, 5.0])]:
        ttft, itl = fn(sub, times)
        assert abs(ttft - (times[0] - sub)) < 1e-12, f"ttft for {times}: {ttft}"
        want = [times[i + 1] - times[i] for i in range(len(times) - 1)]
        assert len(itl) == len(want) and all(abs(a - b) < 1e-12 for a, b in zip(itl, want)), itl


def solution_2_fifo_ttft_steps(lengths: list[int]) -> list[int]:
    out, done = [], 0
    for n in lengths:
        out.append(done + 1)
        done += n
    return out


def check_2_fifo_ttft_steps(fn) -> None:
    # Against the engine itself, with a step clock and max_batch = 1.
    torch.manual_seed(0)
    model = LanguageModel(LMConfig.llama(vocab_size=32, d_model=16, n_layers=1, n_heads=2))
    for lengths in ([2, 3, 1], [4], [1, 1, 5, 2]):
        rep = measure_latency(
            Engine(model, max_batch=1), [[1]] * len(lengths), lengths, clock="steps"
        )
        want = [int(t) for t in rep.ttft()]
        got = fn(lengths)
        assert list(got) == want, f"fifo_ttft_steps({lengths}) = {got}, the engine says {want}"
