"""Speculative decoding: greedy identity with the target alone, and the sampling distribution."""

import numpy as np
import pytest
import torch
from scipy import stats

from masterclass.deploy.speculative import speculative_accept, speculative_generate
from masterclass.llm.generate import generate


@pytest.mark.parametrize("k", [1, 3])
def test_greedy_is_token_identical_to_the_target(make_lm, k):
    target = make_lm(0, vocab=64)
    draft = make_lm(5, vocab=64, d_model=16)
    prompt = torch.tensor([3, 1, 4, 1, 5])
    out, stats_ = speculative_generate(target, draft, prompt, 12, k=k)
    ref = generate(target, prompt[None], 12, temperature=0)[0]
    assert torch.equal(out, ref)
    assert stats_["target_passes"] <= 12


def test_a_perfect_draft_accepts_everything(make_lm):
    # Draft == target: every draft token is accepted, so each pass yields k + 1 tokens.
    target = make_lm(0, vocab=64)
    out, s = speculative_generate(target, target, torch.tensor([7, 8]), 12, k=3)
    assert s["acceptance"] == 1.0 and s["target_passes"] == 3
    assert torch.equal(out, generate(target, torch.tensor([[7, 8]]), 12, temperature=0)[0])


def _markov(seed: int, V: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    start = torch.rand(V, generator=g, dtype=torch.float64) + 0.1
    trans = torch.rand(V, V, generator=g, dtype=torch.float64) + 0.1
    return start / start.sum(), trans / trans.sum(-1, keepdim=True)


def test_sampling_follows_the_target_distribution_chi_square():
    # Target and draft are two different Markov chains over V = 3 tokens, so the exact law of the
    # first two generated tokens is known: p0[a] * P[a, b]. Each round drafts k = 2 tokens from
    # the draft chain, the target's rows are evaluated at the drafted context, and rounds continue
    # until two tokens are emitted. A chi-square goodness-of-fit test over the 9 pairs must not
    # reject at the 0.1% level (the seed is fixed, so the test is deterministic).
    V, k, n = 3, 2, 3000
    p0, P = _markov(0, V)
    q0, Q = _markov(1, V)
    g = torch.Generator().manual_seed(2)
    counts = np.zeros((V, V))
    for _ in range(n):
        out: list[int] = []
        while len(out) < 2:
            prev = out[-1] if out else None
            q_rows, drafts = [], []
            ctx = prev
            for _ in range(k):
                q = q0 if ctx is None else Q[ctx]
                x = int(torch.multinomial(q, 1, generator=g))
                q_rows.append(q)
                drafts.append(x)
                ctx = x
            p_rows = [p0 if prev is None else P[prev]] + [P[x] for x in drafts]
            out += speculative_accept(
                torch.stack(p_rows), torch.stack(q_rows), torch.tensor(drafts), generator=g
            )
        counts[out[0], out[1]] += 1
    expected = (p0[:, None] * P).numpy() * n
    chi2, pvalue = stats.chisquare(counts.ravel(), expected.ravel())
    assert pvalue > 1e-3, (chi2, pvalue)
    # And the draft's own law is rejected: the test has the power to see a wrong distribution.
    wrong = (q0[:, None] * Q).numpy() * n
    assert stats.chisquare(counts.ravel(), wrong.ravel()).pvalue < 1e-3


def test_sampling_runs_end_to_end_with_models(make_lm):
    target = make_lm(0, vocab=64)
    draft = make_lm(5, vocab=64, d_model=16)
    g = torch.Generator().manual_seed(0)
    out, s = speculative_generate(
        target, draft, torch.tensor([1, 2]), 10, k=2, temperature=1.0, generator=g
    )
    assert out.shape == (12,) and 0 <= s["acceptance"] <= 1


def test_bad_arguments(make_lm):
    target = make_lm(0, vocab=64)
    other = make_lm(0, vocab=32)
    with pytest.raises(ValueError, match="share a vocabulary"):
        speculative_generate(target, other, torch.tensor([1]), 3)
    with pytest.raises(ValueError, match="k \\(draft tokens"):
        speculative_generate(target, target, torch.tensor([1]), 3, k=0)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        speculative_generate(target, target, torch.tensor([[1]]), 3)
    with pytest.raises(ValueError, match="need p of 3 rows"):
        speculative_accept(torch.ones(2, 4), torch.ones(2, 4), torch.tensor([0, 1]))
