r"""# Measuring decode speed

Serving a language model to one user at a time is *latency*-bound: what matters is the time to
produce each next token at batch 1, after the prompt has been processed (the *prefill*). Each
decode step multiplies a single vector by every weight matrix, so it reads all the weights once
and does only 2 FLOPs per weight read: the arithmetic intensity is about $2 / b$ FLOPs per byte
for $b$ bytes per weight, far below what any CPU or GPU needs to be compute-bound. The step time
is then roughly
$$t_{\text{token}} \approx \frac{\text{bytes of weights}}{\text{memory bandwidth}}
   + \text{fixed overhead per operator},$$
which is why int8 weights (a quarter of the bytes) help, and why for *small* models, whose
weights fit in cache, the per-operator overhead (Python dispatch in eager PyTorch, kernel launches)
dominates and a graph runtime such as onnxruntime wins even in float32.

**How to measure honestly.** Time each step separately with a monotonic clock
(`time.perf_counter`), after `warmup` untimed steps (first calls allocate memory and pick
kernels), and report the median (p50) and the 90th percentile (p90) rather than the mean, which
one preempted step distorts. Throughput is the inverse of the mean step time. All runners decode
the same greedy continuation of the same prompt, so they do the same work. Ratios between
runners measured in the same process are meaningful; absolute numbers depend on the machine.

**By example**, with a toy runner whose next token is always the last one plus one: the
benchmark decodes the same tokens every time, and a runner compared with itself has speedup 1.

>>> class Cycle:
...     "Eight tokens; after token t the most likely next one is t + 1 (mod 8)."
...     def prefill(self, ids):
...         return self.step(int(ids[0, -1]))
...     def step(self, token):
...         return np.eye(8)[(token + 1) % 8]
>>> r = benchmark_decode(Cycle(), np.array([[3]]), 5, warmup=0)
>>> r["tokens"], r["n_tokens"], r["tokens_per_s"] > 0
([4, 5, 6, 7, 0], 5, True)
>>> res = compare_decoders({"a": Cycle(), "b": Cycle()}, np.array([[3]]), 4, warmup=1)
>>> res["a"]["speedup"], res["a"]["tokens"] == res["b"]["tokens"]
(1.0, True)

The runners measured in `bench/decode.py` are `llm_export.py`'s `TorchLM` and `OnnxLM` (fp32 and
int8), over [the KV cache](../llm/kv_cache.md); weight bytes come from
[quantization](quantization.md).

Left out: batched throughput (tokens/s at large batch, where decoding becomes compute-bound),
time-to-first-token under load (`latency.py`), and GPU timing (which needs device
synchronisation).

## Exercises

1. Write `decode_stats(step_seconds)`: `(tokens_per_s, p50_ms, p90_ms)` of a list of per-step
   times, with the conventions above. Check it: `uv run pytest --exercise deploy.decode_benchmark`
2. Write `greedy_decode(runner, prompt, n_tokens)`: the greedy loop every runner is timed on,
   `prefill` once and then one `step` per token. Check it against `llm.generate`:
   `uv run pytest --exercise deploy.decode_benchmark`
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np

__all__ = ["DecodeRunner", "benchmark_decode", "compare_decoders"]


# A structural type: any object with these two methods is a runner, whatever its runtime
# (`llm_export.TorchLM` and `OnnxLM` are two).
class DecodeRunner(Protocol):
    """What a decoder must offer: `prefill` the prompt, then `step` one token at a time."""

    def prefill(self, ids: np.ndarray) -> np.ndarray:
        """Prompt (1, T) -> last logits (V,); keeps the cache."""
        ...

    def step(self, token: int) -> np.ndarray:
        """One token -> next logits (V,); extends the cache."""
        ...


# Batch 1, greedy: the latency of one user's stream, where decoding is memory-bound and a
# smaller model file pays off most directly.
def benchmark_decode(
    runner: DecodeRunner, prompt: np.ndarray, n_tokens: int, warmup: int = 3
) -> dict[str, Any]:
    """Greedy-decode `n_tokens` after `prompt` (1, T) and time every step.

    Returns:
        `tokens_per_s`, `ms_per_token_p50`, `ms_per_token_p90`, `prefill_ms`, `n_tokens`, and
        `tokens` (the greedy continuation, to check that runners agree).
    """
    if n_tokens < 1 or warmup < 0:
        raise ValueError(f"need n_tokens >= 1 and warmup >= 0, got {n_tokens}, {warmup}")
    prompt = np.asarray(prompt, dtype=np.int64).reshape(1, -1)
    # Warm-up: a short untimed decode exercises prefill and the step path.
    if warmup:
        logits = runner.prefill(prompt)
        for _ in range(warmup):
            logits = runner.step(int(np.argmax(logits)))
    # Prefill is timed once, apart: it processes the whole prompt and would dwarf a step.
    t0 = time.perf_counter()
    logits = runner.prefill(prompt)
    prefill_s = time.perf_counter() - t0
    # Each step is timed alone, so percentiles show jitter that a single total would hide.
    times, tokens = [], []
    for _ in range(n_tokens):
        tokens.append(int(np.argmax(logits)))
        t0 = time.perf_counter()
        logits = runner.step(tokens[-1])
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1e3
    return {
        "tokens_per_s": float(n_tokens / np.sum(times)),
        "ms_per_token_p50": float(np.percentile(ms, 50)),
        "ms_per_token_p90": float(np.percentile(ms, 90)),
        "prefill_ms": prefill_s * 1e3,
        "n_tokens": n_tokens,
        "tokens": tokens,
    }


# The speedup compares medians, which one preempted step cannot move.
def compare_decoders(
    runners: dict[str, DecodeRunner],
    prompt: np.ndarray,
    n_tokens: int,
    warmup: int = 3,
    *,
    reference: str | None = None,
) -> dict[str, dict[str, Any]]:
    """`benchmark_decode` for each runner, plus `speedup` (p50 of `reference` / p50 of this one).

    `reference` defaults to the first runner. The runners are timed one after another, in the
    order given, in this process.
    """
    results = {name: benchmark_decode(r, prompt, n_tokens, warmup) for name, r in runners.items()}
    ref = results[reference or next(iter(results))]["ms_per_token_p50"]
    for res in results.values():
        res["speedup"] = ref / res["ms_per_token_p50"]
    return results
