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
