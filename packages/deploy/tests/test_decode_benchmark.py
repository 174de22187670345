"""The decode benchmark's statistics against numpy on a fake clock, and runner agreement."""

import numpy as np
import pytest
import torch

from masterclass.deploy import decode_benchmark
from masterclass.deploy.decode_benchmark import benchmark_decode, compare_decoders
from masterclass.deploy.llm_export import TorchLM
from masterclass.llm import LanguageModel, LMConfig


class _Counter:
    """A runner over a fixed logits table: token t is always followed by t + 1 (mod V)."""

    def __init__(self, v: int = 10) -> None:
        self.v = v

    def prefill(self, ids):
        return np.eye(self.v)[(int(ids[0, -1]) + 1) % self.v]

    def step(self, token):
        return np.eye(self.v)[(token + 1) % self.v]


def test_statistics_match_numpy_on_a_fake_clock(monkeypatch):
    # Each step "takes" 1, 2, ..., n ms on a fake perf_counter, so the expected numbers are exact.
    ticks = iter(np.cumsum([0.0] + [0.001 * (1 + i // 2) for i in range(100)]))
    monkeypatch.setattr(decode_benchmark.time, "perf_counter", lambda: float(next(ticks)))
    res = benchmark_decode(_Counter(), np.array([[3]]), n_tokens=20, warmup=0)
    step_ms = np.arange(2, 22)  # after the prefill's tick (1 ms), steps take 2..21 ms
    assert res["tokens"] == [(4 + i) % 10 for i in range(20)]
    assert res["ms_per_token_p50"] == pytest.approx(np.percentile(step_ms, 50))
    assert res["ms_per_token_p90"] == pytest.approx(np.percentile(step_ms, 90))
    assert res["tokens_per_s"] == pytest.approx(20 / (step_ms.sum() / 1e3))
    assert res["prefill_ms"] == pytest.approx(1.0)


def test_runners_decode_the_same_tokens_and_bad_args_fail():
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=64, d_model=32, n_layers=2, n_heads=4, max_seq_len=64)
    model = LanguageModel(cfg).eval()
    prompt = np.array([[1, 2, 3, 4]])
    res = compare_decoders({"a": TorchLM(model), "b": TorchLM(model)}, prompt, 6, warmup=1)
    # Reference: llm's generate with temperature 0 (greedy) over the same prompt.
    from masterclass.llm.generate import generate

    ref = generate(model, torch.tensor(prompt), 6, temperature=0.0)[0, 4:].tolist()
    assert res["a"]["tokens"] == res["b"]["tokens"] == ref
    assert res["a"]["speedup"] == 1.0
    with pytest.raises(ValueError, match="n_tokens"):
        benchmark_decode(TorchLM(model), prompt, 0)
