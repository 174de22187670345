"""Generation: greedy against HF `generate` with the same weights and against a cache-free loop;
the logit filters against HF's logits processors; stop tokens; seeded sampling."""

import pytest
import torch
from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

from masterclass.llm.generate import filter_logits, generate
from masterclass.llm.hf_interop import to_hf_llama


def test_greedy_equals_cache_free_argmax_loop(tiny_llama):
    idx = torch.randint(0, 97, (3, 5))
    out = generate(tiny_llama, idx, 12, temperature=0)
    seq = idx
    with torch.no_grad():
        for _ in range(12):
            seq = torch.cat((seq, tiny_llama(seq)[:, -1].argmax(-1, keepdim=True)), dim=1)
    assert torch.equal(out, seq)


def test_greedy_equals_hf_generate(tiny_llama):
    hf = to_hf_llama(tiny_llama)
    idx = torch.randint(0, 97, (2, 4))
    ours = generate(tiny_llama, idx, 10, temperature=0)
    theirs = hf.generate(
        idx,
        attention_mask=torch.ones_like(
            idx
        ),  # no padding: HF would otherwise infer it from pad_token_id
        max_new_tokens=10,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=0,
    )
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize(("top_k", "top_p"), [(5, None), (None, 0.7), (20, 0.9), (None, 0.05)])
def test_filters_match_hf_logits_processors(top_k, top_p):
    # HF applies temperature, then top-k, then top-p: the kept set must be identical and the kept
    # logits equal (same float32 division: exact up to 1e-6).
    torch.manual_seed(0)
    logits = torch.randn(4, 50) * 3
    expected = logits / 0.8
    if top_k is not None:
        expected = TopKLogitsWarper(top_k)(None, expected)
    if top_p is not None:
        expected = TopPLogitsWarper(top_p)(None, expected)
    got = filter_logits(logits, temperature=0.8, top_k=top_k, top_p=top_p)
    assert torch.equal(torch.isinf(got), torch.isinf(expected))
    kept = ~torch.isinf(got)
    torch.testing.assert_close(got[kept], expected[kept], atol=1e-6, rtol=1e-6)


def test_stop_tokens_end_each_sequence(tiny_llama):
    idx = torch.randint(0, 97, (2, 4))
    free = generate(tiny_llama, idx, 10, temperature=0)
    stop = int(free[0, 6])  # the third generated token of row 0
    out = generate(tiny_llama, idx, 10, temperature=0, stop_tokens=(stop,))
    row0 = out[0, 4:].tolist()
    first = row0.index(stop)
    assert all(t == stop for t in row0[first:])  # padded with the stop token after it
    n = out.shape[1] - 4
    assert torch.equal(out[:, : 4 + first + 1], free[:, : 4 + first + 1])
    assert n == 10 or all(stop in r for r in out[:, 4:].tolist())


def test_seeded_sampling_is_reproducible_and_respects_top_k(tiny_llama):
    idx = torch.randint(0, 97, (2, 3))
    a = generate(tiny_llama, idx, 8, top_k=3, generator=torch.Generator().manual_seed(5))
    b = generate(tiny_llama, idx, 8, top_k=3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    with torch.no_grad():
        logits = tiny_llama(a[:, :-1])[:, 2:]  # logits that produced each sampled token
    top3 = logits.topk(3, dim=-1).indices
    assert (top3 == a[:, 3:, None]).any(-1).all()


def test_bad_arguments_are_rejected(tiny_llama):
    with pytest.raises(ValueError, match="temperature"):
        generate(tiny_llama, torch.zeros(1, 2, dtype=torch.long), 3, temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        filter_logits(torch.zeros(1, 3), top_p=1.5)


def test_filter_defaults_and_edge_values_match_hf():
    # Without a temperature the logits are not rescaled (HF's warpers on the raw logits); top_k=1
    # keeps the argmax alone; top_p=1 keeps every token.
    torch.manual_seed(1)
    logits = torch.randn(3, 20) * 2
    for top_k, top_p in [(5, None), (1, None), (None, 1.0), (None, 0.6)]:
        expected = logits
        if top_k is not None:
            expected = TopKLogitsWarper(top_k)(None, expected)
        if top_p is not None:
            expected = TopPLogitsWarper(top_p)(None, expected)
        got = filter_logits(logits, top_k=top_k, top_p=top_p)
        assert torch.equal(torch.isinf(got), torch.isinf(expected)), (top_k, top_p)
        kept = ~torch.isinf(got)
        assert torch.equal(got[kept], expected[kept])
    only = filter_logits(logits, top_k=1)
    assert torch.equal(only.argmax(-1), logits.argmax(-1)) and (~torch.isinf(only)).sum() == 3


@pytest.mark.parametrize(("vocab", "top_p", "kept"), [(4, 0.5, 2), (8, 0.75, 6), (8, 0.125, 1)])
def test_top_p_on_a_uniform_distribution_keeps_ceil_p_v_tokens(vocab, top_p, kept):
    # V equal logits: each token has mass 1/V (exact in binary for these V), so the smallest set
    # of mass >= p has exactly ceil(p V) tokens; a boundary case of the "at least p" rule.
    got = filter_logits(torch.zeros(2, vocab), top_p=top_p)
    assert (~torch.isinf(got)).sum(dim=-1).tolist() == [kept, kept]


def test_sampling_draws_from_the_softmax_of_the_filtered_logits():
    # Reference: torch.multinomial on the softmax written here, with an identically seeded
    # generator; 256 rows make any change of the distribution change some draw.
    from masterclass.llm.generate import sample_next

    torch.manual_seed(2)
    logits = torch.randn(256, 12) * 2
    for kwargs, probs in [
        ({}, logits.softmax(-1)),
        ({"temperature": 0.5}, (logits / 0.5).softmax(-1)),
    ]:
        ours = sample_next(logits, **kwargs, generator=torch.Generator().manual_seed(3))
        ref = torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(3))
        assert torch.equal(ours, ref.squeeze(-1)), kwargs
    assert torch.equal(sample_next(logits, temperature=0), logits.argmax(-1))


def test_sampled_generation_equals_a_cache_free_sampling_loop(tiny_llama):
    # Default temperature (1) and no filter: each step draws from softmax(model(seq)[:, -1]) with
    # the same generator; the cached logits equal the full ones to ~1e-6, far from a draw boundary.
    idx = torch.randint(0, 97, (4, 3))
    ours = generate(tiny_llama, idx, 9, generator=torch.Generator().manual_seed(4))
    g, seq = torch.Generator().manual_seed(4), idx
    with torch.no_grad():
        for _ in range(9):
            probs = tiny_llama(seq)[:, -1].float().softmax(-1)
            seq = torch.cat((seq, torch.multinomial(probs, 1, generator=g)), dim=1)
    assert torch.equal(ours, seq)


def test_generation_ends_when_every_sequence_has_stopped(tiny_llama, monkeypatch):
    idx = torch.randint(0, 97, (2, 4))
    calls = []
    decode = tiny_llama.decode
    monkeypatch.setattr(
        tiny_llama,
        "decode",
        lambda x, cache, **kw: calls.append(x.shape[1]) or decode(x, cache, **kw),
    )
    free = generate(tiny_llama, idx, 10, temperature=0)
    # One prefill of the prompt, then one single-token step per new token but the last.
    assert calls == [4] + [1] * 9
    stops = {int(free[0, 6]), int(free[1, 6])}  # each row meets a stop token within 3 tokens
    firsts = [next(j for j, t in enumerate(row) if t in stops) for row in free[:, 4:].tolist()]
    out = generate(tiny_llama, idx, 10, temperature=0, stop_tokens=sorted(stops))
    assert out.shape == (2, 4 + max(firsts) + 1)
    for r, first in enumerate(firsts):
        assert torch.equal(out[r, : 4 + first + 1], free[r, : 4 + first + 1])
        assert (out[r, 4 + first :] == free[r, 4 + first]).all()


def test_degenerate_and_invalid_generation_arguments(tiny_llama):
    idx = torch.randint(0, 97, (2, 3))
    assert torch.equal(generate(tiny_llama, idx, 0, temperature=0), idx)
    for bad, match in [
        (dict(idx=torch.zeros(3, dtype=torch.long)), "non-empty"),
        (dict(idx=torch.zeros(1, 0, dtype=torch.long)), "non-empty"),
        (dict(max_new_tokens=-1), "max_new_tokens"),
    ]:
        args = {"idx": idx, "max_new_tokens": 2, **bad}
        with pytest.raises(ValueError, match=match):
            generate(tiny_llama, args["idx"], args["max_new_tokens"])
    logits = torch.zeros(1, 5)
    for kwargs, match in [
        (dict(temperature=0), "temperature > 0"),
        (dict(top_k=0), "top_k"),
        (dict(top_p=0.0), "top_p"),
    ]:
        with pytest.raises(ValueError, match=match):
            filter_logits(logits, **kwargs)
