r"""# Latency: time to first token and inter-token latency

A chat user feels two numbers. **Time to first token** (TTFT) is the wait before anything
appears: queueing, plus the prefill of the prompt. **Inter-token latency** (ITL) is the gap
between the following tokens: one decode step of the whole batch. End-to-end latency is
$\text{TTFT} + (n - 1)\,\overline{\text{ITL}}$ for $n$ tokens. Throughput and latency pull
against each other, and each serving knob moves them differently:

- **Batching policy.** With `max_batch = 1` requests are served one after another: ITL is the
  fastest possible, but request $k$ in the queue waits for the $k - 1$ before it, so TTFT grows
  linearly with the queue. A larger batch admits everyone at once (TTFT ≈ one prefill) and makes
  each step serve $B$ tokens, at the price of a slower step (a larger ITL) once the step stops
  being memory-bound. On a CPU with a tiny model steps are overhead-bound, so batching is nearly
  free.
- **KV cache reuse.** Prefix caching removes the shared part of the prefill from TTFT
  (`batching.py`); the KV cache itself is what makes ITL independent of the length so far.
- **Threads.** Intra-op threads speed up large matrix products and slow down tiny ones
  (synchronization costs more than the work); the right number is measured, not guessed.
- **Runtime and graph options.** The same engine can run its step on onnxruntime
  (`llm_export.OnnxRaggedForward`): the graph optimizer folds constants and fuses norms,
  attention and activation products into single kernels (`graph_optimization_level`: disable,
  basic, extended, all); its intra-op threads are the same trade as torch's. What that buys is
  measured, not assumed: on the bench's small model at one thread, onnxruntime's prefill (TTFT)
  was a little faster than PyTorch's and its decode step (ITL) a little slower, and turning the
  optimizer off mostly lengthened the ITL tail.

This chapter measures the two numbers for any set of requests driven through the engine,
with an injectable clock. With a clock that counts engine *steps*, the latencies are exact
integers that depend only on the scheduling policy, which is how the tests check the policy's
effect without timing anything: three requests of $n$ tokens at `max_batch = 1` get their
first tokens at steps $1, n+1, 2n+1$; at `max_batch = 3` all at step 1. `bench/latency.py`
runs the same measurement with the wall clock and prints the table for each knob
(`bench/results/latency.txt`).

References: Agrawal et al., 2024, *Sarathi-Serve* (the TTFT/ITL trade-off of batching,
[arXiv:2403.02310](https://arxiv.org/abs/2403.02310)); the vLLM benchmark scripts (TTFT, ITL and
TPOT definitions).

Left out: CUDA graphs, onnxruntime's GPU execution providers, and speculative decoding's effect
on ITL (`speculative.py`).

## Exercises

1. Write `ttft_and_itl(submit_time, token_times)`: TTFT and the list of inter-token gaps of one
   request. Check it: `uv run pytest --exercise deploy.latency`
2. Write `fifo_ttft_steps(lengths)`: the step at which each request gets its first token when
   requests generating `lengths[i]` tokens are served one at a time (`max_batch = 1`), in order.
   Check it: `uv run pytest --exercise deploy.latency`
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from masterclass.deploy.batching import Engine, Request

__all__ = ["LatencyReport", "measure_latency", "percentiles"]


@dataclass
class RequestTiming:
    """Times of one request: submission and every token."""

    # when the request was submitted
    submitted: float
    # when each token arrived
    tokens: list[float] = field(default_factory=list)

    @property
    def ttft(self) -> float:
        """Time to first token."""
        return self.tokens[0] - self.submitted

    @property
    def itl(self) -> list[float]:
        """Gaps between consecutive tokens."""
        return [b - a for a, b in zip(self.tokens, self.tokens[1:], strict=False)]


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 99)) -> list[float]:
    """Percentiles of `values` (numpy's linear interpolation); NaN for an empty list."""
    if len(values) == 0:
        return [float("nan")] * len(qs)
    return [float(np.percentile(values, q)) for q in qs]


@dataclass
class LatencyReport:
    """TTFT and ITL of a set of requests, with the raw timings."""

    # one timing per request, in submission order
    timings: list[RequestTiming]
    # total time from the first submission to the last token
    wall: float

    # Users feel the tail, so the summary reports p99 next to the median; ITL pools the gaps of
    # all requests.
    def ttft(self) -> list[float]:
        """Each request's time to first token."""
        return [t.ttft for t in self.timings]

    def itl(self) -> list[float]:
        """All inter-token gaps of all requests."""
        return [g for t in self.timings for g in t.itl]

    def summary(self) -> dict[str, float]:
        """p50/p99 TTFT and ITL, and tokens per unit of time."""
        t50, t99 = percentiles(self.ttft())
        i50, i99 = percentiles(self.itl())
        n = sum(len(t.tokens) for t in self.timings)
        return {
            "ttft_p50": t50,
            "ttft_p99": t99,
            "itl_p50": i50,
            "itl_p99": i99,
            "tokens_per_time": n / self.wall if self.wall > 0 else float("nan"),
        }


# ## Measuring
#
# The requests are submitted together (a burst, the worst case for TTFT) and the engine is
# stepped in this thread; the callback stamps every token with `clock()`. `clock="steps"` uses
# the engine's step counter: the token produced by step $s$ is stamped $s$, submission is 0.
def measure_latency(
    engine: Engine,
    prompts: Sequence[Sequence[int]],
    max_tokens: int | Sequence[int],
    *,
    clock: Callable[[], float] | str = time.perf_counter,
) -> LatencyReport:
    """Submit `prompts` at once, run the engine to completion, and time every token.

    >>> import torch
    >>> from masterclass.llm import LanguageModel, LMConfig
    >>> _ = torch.manual_seed(0)
    >>> m = LanguageModel(LMConfig.llama(vocab_size=32, d_model=16, n_layers=1, n_heads=2))
    >>> rep = measure_latency(Engine(m, max_batch=1), [[1], [2]], 3, clock="steps")
    >>> rep.ttft(), rep.itl()
    ([1.0, 4.0], [1.0, 1.0, 1.0, 1.0])
    """
    # The clock: wall time, or the step counter for exact, machine-independent tests.
    if clock == "steps":
        clock_fn: Callable[[], float] = lambda: float(engine.steps)  # noqa: E731
    elif callable(clock):
        clock_fn = clock
    else:
        raise ValueError(f"clock must be a callable or 'steps', got {clock!r}")
    lengths = [max_tokens] * len(prompts) if isinstance(max_tokens, int) else list(max_tokens)
    if len(lengths) != len(prompts):
        raise ValueError(f"max_tokens has {len(lengths)} entries for {len(prompts)} prompts")
    # Each request's callback appends to its own timing; the default argument `t=timing` binds
    # this iteration's object (a plain closure would see only the last one).
    timings: list[RequestTiming] = []
    start = clock_fn()
    for prompt, n in zip(prompts, lengths, strict=True):
        timing = RequestTiming(clock_fn())
        timings.append(timing)

        def on_token(_r: Request, token: int | None, _why: str | None, t=timing) -> None:
            if token is not None:
                t.tokens.append(clock_fn())

        engine.submit(Request(list(prompt), max_tokens=n, on_token=on_token))
    engine.run_until_idle()
    return LatencyReport(timings, clock_fn() - start)
