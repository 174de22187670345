"""A two-layer attention-only model grows an induction head on repeated random tokens."""

import pytest
import torch

from masterclass.safety.induction_heads import (
    AttentionOnlyConfig,
    AttentionOnlyTransformer,
    induction_scores,
    repeated_random_tokens,
    train_induction_model,
)


def test_score_of_a_hand_made_induction_pattern_is_one_and_causal_uniform_is_low():
    n, t = 5, 10
    perfect = torch.zeros(1, 1, 1, t, t)
    for i in range(t):
        perfect[..., i, i - n + 1 if i >= n else 0] = 1.0
    assert induction_scores(perfect, n).item() == 1.0
    uniform = torch.ones(t, t).tril()
    uniform = (uniform / uniform.sum(1, keepdim=True)).view(1, 1, 1, t, t)
    # Query i spreads 1/(i+1) on each key: the mean of 1/(i+1) over i = 5..9.
    expected = sum(1 / (i + 1) for i in range(n, t)) / n
    assert induction_scores(uniform, n).item() == pytest.approx(expected)


def test_repeated_tokens_are_distinct_then_repeated_and_bad_input():
    ids = repeated_random_tokens(3, 6, 10, torch.Generator().manual_seed(0))
    assert torch.equal(ids[:, :6], ids[:, 6:])
    assert all(len(set(row[:6].tolist())) == 6 for row in ids)
    with pytest.raises(ValueError, match="vocab_size >= n"):
        repeated_random_tokens(1, 6, 5, torch.Generator())
    with pytest.raises(ValueError, match="must exceed seq_len"):
        AttentionOnlyConfig(vocab_size=8, seq_len=8)
    with pytest.raises(ValueError, match="exceeds seq_len"):
        AttentionOnlyTransformer(AttentionOnlyConfig(vocab_size=20, seq_len=8))(
            torch.zeros(1, 9, dtype=torch.long)
        )


@pytest.mark.slow
def test_an_induction_head_forms_on_the_cpu():
    model, losses = train_induction_model(AttentionOnlyConfig(), steps=500, lr=1e-2)
    ids = repeated_random_tokens(64, 12, 64, torch.Generator().manual_seed(99))
    with torch.no_grad():
        _, patterns = model(ids)
    scores = induction_scores(patterns, 12)  # (L, H)
    # Measured 0.965 for layer 1; layer 0 cannot do induction (it sees one token per key).
    assert scores[1].max() >= 0.9
    assert scores[0].max() < 0.3
    assert losses[-1] < 0.3 * losses[0]
