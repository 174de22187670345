"""Continuous batching against `llm.generate` run on each prompt alone (sequential greedy)."""

import pytest
import torch

from masterclass.deploy.batching import Engine, Request, ragged_forward
from masterclass.deploy.kv_memory import BlockManager
from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.generate import generate


def _prompts(n: int, vocab: int, seed: int, max_len: int = 20) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len, (n,), generator=g)
    return [torch.randint(0, vocab, (int(t),), generator=g).tolist() for t in lengths]


def _sequential(model, prompt, n):
    return generate(model, torch.tensor([prompt]), n, temperature=0)[0, len(prompt) :].tolist()


def test_ragged_step_logits_match_a_full_forward(make_lm):
    # Reference: the model's own full forward pass over each whole sequence. The ragged step feeds
    # rows with different cached lengths and chunk lengths; float32 kernels on different shapes
    # agree to ~1e-6, hence 1e-5.
    model = make_lm(0, vocab=64)
    bm = BlockManager(model, num_blocks=32, block_size=4)
    seqs = _prompts(3, 64, 1)
    tables = [bm.allocate([], len(s)) for s in seqs]
    first = [s[: len(s) // 2 + 0] or s[:1] for s in seqs]
    cached = [0, 0, 0]
    ragged_forward(model, bm, first, cached, tables)
    rest = [s[len(f) :] or [s[-1]] for s, f in zip(seqs, first)]
    cached = [len(f) for f in first]
    feeds = [s[len(f) :] for s, f in zip(seqs, first)]
    # Rows whose prompt was fully fed already get no new token: skip them.
    keep = [i for i, f in enumerate(feeds) if f]
    logits = ragged_forward(
        model, bm, [feeds[i] for i in keep], [cached[i] for i in keep], [tables[i] for i in keep]
    )
    for j, i in enumerate(keep):
        ref = model(torch.tensor([seqs[i]]))[0, -1]
        torch.testing.assert_close(logits[j], ref, rtol=1e-5, atol=1e-5)
    assert rest  # every sequence had a continuation


def test_continuous_batching_is_token_identical_to_sequential_greedy(make_lm):
    # Six requests, at most three in the batch: requests join as others finish (different
    # max_tokens), prefill and decode rows share steps. Reference: llm.generate on each prompt.
    model = make_lm(0, vocab=97)
    prompts = _prompts(6, 97, 2, max_len=12)
    engine = Engine(model, num_blocks=64, block_size=4, max_batch=3)
    reqs = [engine.submit(Request(p, max_tokens=3 + i)) for i, p in enumerate(prompts)]
    engine.run_until_idle()
    for p, r in zip(prompts, reqs):
        assert r.generated == _sequential(model, p, r.max_tokens)
        assert r.finish_reason == "length"
    assert engine.blocks.report().used_blocks == 0  # everything released


def test_preemption_under_memory_pressure_keeps_outputs_identical(make_lm):
    # A pool too small for all sequences at once: the engine preempts and recomputes, and the
    # tokens are still those of sequential greedy decoding.
    model = make_lm(0, vocab=97)
    prompts = _prompts(3, 97, 3, max_len=10)
    engine = Engine(model, num_blocks=6, block_size=4, max_batch=4, prefix_caching=False)
    reqs = [engine.submit(Request(p, max_tokens=8)) for p in prompts]
    engine.run_until_idle()
    assert engine.preemptions > 0
    for p, r in zip(prompts, reqs):
        assert r.generated == _sequential(model, p, 8)


def test_prefix_caching_skips_the_shared_prompt_and_keeps_the_tokens(make_lm):
    model = make_lm(0, vocab=97)
    system = list(range(10, 30))  # a 20-token shared "system prompt"
    prompts = [[*system, 40 + i, 50 + i] for i in range(3)]
    engine = Engine(model, num_blocks=64, block_size=4, max_batch=1)
    reqs = [engine.submit(Request(p, max_tokens=5)) for p in prompts]
    engine.run_until_idle()
    for p, r in zip(prompts, reqs):
        assert r.generated == _sequential(model, p, 5)
    assert [r.prefix_hit_tokens for r in reqs] == [0, 20, 20]  # 5 full blocks of 4 reused
    # Prefill: 22 tokens for the first request, 2 for each later one.
    assert engine.prefill_tokens == 22 + 2 + 2


def test_stop_token_and_abort(make_lm):
    model = make_lm(0, vocab=97)
    prompt = [1, 2, 3]
    ref = _sequential(model, prompt, 8)
    engine = Engine(model, num_blocks=16, block_size=4)
    stop = ref[3]
    r = engine.submit(Request(prompt, max_tokens=8, stop_tokens=(stop,)))
    engine.run_until_idle()
    assert r.generated == ref[: ref.index(stop) + 1] and r.finish_reason == "stop"
    seen = []
    r2 = engine.submit(Request(prompt, max_tokens=50, on_token=lambda q, t, why: seen.append(why)))
    engine.step()
    engine.step()
    engine.abort(r2)
    engine.step()
    assert r2.finish_reason == "abort" and seen[-1] == "abort" and len(r2.generated) == 2
    assert engine.blocks.report().used_blocks == 0


def test_seeded_sampling_is_reproducible(make_lm):
    model = make_lm(0, vocab=97)
    outs = []
    for _ in range(2):
        engine = Engine(model, num_blocks=16, block_size=4)
        r = engine.submit(Request([5, 6], max_tokens=10, temperature=1.0, seed=3))
        engine.run_until_idle()
        outs.append(r.generated)
    assert outs[0] == outs[1]


def test_bad_requests_and_unsupported_models_fail_clearly(make_lm):
    model = make_lm(0, vocab=97)
    engine = Engine(model, num_blocks=4, block_size=4)
    with pytest.raises(ValueError, match="needs 5 KV blocks"):
        engine.submit(Request([1] * 10, max_tokens=10))
    with pytest.raises(ValueError, match="at least one token"):
        engine.submit(Request([], max_tokens=1))
    with pytest.raises(ValueError, match="temperature"):
        engine.submit(Request([1], max_tokens=1, temperature=-1))
    with pytest.raises(ValueError, match="max_batch"):
        Engine(model, max_batch=0)
    alibi = LanguageModel(LMConfig(vocab_size=16, d_model=16, n_layers=1, n_heads=2, pos="alibi"))
    with pytest.raises(ValueError, match="pos='alibi'"):
        Engine(alibi)
