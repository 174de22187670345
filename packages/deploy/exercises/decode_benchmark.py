r"""# Exercises: Measuring decode speed

The summary statistics of a decode benchmark and the greedy loop every runner is timed on,
checked against numpy and against `llm.generate`."""

import numpy as np
import torch

from masterclass.deploy.decode_benchmark import benchmark_decode
from masterclass.deploy.llm_export import TorchLM
from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.generate import generate


def solution_1_decode_stats(step_seconds: list[float]) -> tuple[float, float, float]:
    ms = np.asarray(step_seconds) * 1e3
    return len(ms) / np.sum(step_seconds), np.percentile(ms, 50), np.percentile(ms, 90)


def check_1_decode_stats(fn) -> None:
    # (tokens/s, p50 ms, p90 ms) of per-step times. Throughput is the inverse of the *mean* step
    # time; the percentiles are numpy's linear interpolation. One slow step (a preemption) must
    # move the mean but not the median. Float64 arithmetic: 1e-9 relative.
    rng = np.random.default_rng(0)
    cases = [[0.01, 0.012, 0.011, 0.2], list(rng.uniform(0.005, 0.02, 17)), [0.5]]
    for times in cases:
        got = [float(v) for v in fn(list(times))]
        ms = np.asarray(times) * 1e3
        want = [1e3 / ms.mean(), np.percentile(ms, 50), np.percentile(ms, 90)]
        np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=f"for step times {times}")


def solution_2_greedy_decode(runner, prompt: np.ndarray, n_tokens: int) -> list[int]:
    logits = runner.prefill(prompt)
    out = []
    for _ in range(n_tokens):
        out.append(int(np.argmax(logits)))
        logits = runner.step(out[-1])
    return out


class _CountingRunner:
    # A `DecodeRunner` that counts its calls: the loop must prefill once and then feed one token
    # per step (reusing the cache), never run the prompt again.
    def __init__(self, model):
        self.inner, self.prefills, self.steps = TorchLM(model), 0, 0

    def prefill(self, ids):
        self.prefills += 1
        return self.inner.prefill(ids)

    def step(self, token):
        self.steps += 1
        return self.inner.step(token)


def check_2_greedy_decode(fn) -> None:
    # Against llm.generate (greedy, its own KV cache) and the chapter's benchmark loop, on a
    # random model whose init is large enough that argmax ties do not occur.
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=61, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2)
    cfg.init_std = 0.3
    model = LanguageModel(cfg).eval()
    for prompt, n in [([1, 2, 3], 6), ([7], 4), ([5, 9, 11, 13, 2], 8)]:
        ids = np.array([prompt], np.int64)
        runner = _CountingRunner(model)
        got = list(fn(runner, ids, n))
        want = generate(model, torch.tensor([prompt]), n, temperature=0)[0, len(prompt) :]
        assert got == want.tolist(), f"prompt {prompt}: {got}, llm.generate gives {want.tolist()}"
        assert got == benchmark_decode(TorchLM(model), ids, n, warmup=0)["tokens"]
        assert runner.prefills == 1 and runner.steps in (n - 1, n), (
            f"{runner.prefills} prefills and {runner.steps} steps for {n} tokens: prefill once, "
            "then one step per token"
        )
