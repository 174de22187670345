"""Augmentation: EDA operations' invariants and rates, BERT-style noise rates, and mixup's
linearity against torch's soft-target cross-entropy."""

import random
from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from masterclass.infra.augmentation import (
    eda,
    load_lexicon,
    mixup,
    random_delete,
    random_insert,
    random_swap,
    synonym_replace,
    token_noise,
)

WORDS = [
    "the",
    "good",
    "movie",
    "had",
    "a",
    "big",
    "cast",
    "and",
    "a",
    "slow",
    "start",
    "but",
    "a",
    "happy",
    "end",
]


def test_lexicon_is_symmetric():
    lex = load_lexicon()
    for w, syns in lex.items():
        assert w not in syns
        assert all(w in lex[s] for s in syns)


def test_synonym_replacement_uses_the_lexicon():
    lex = load_lexicon()
    for seed in range(20):
        out = synonym_replace(WORDS, 2, random.Random(seed))
        changed = [(a, b) for a, b in zip(WORDS, out) if a != b]
        assert len(out) == len(WORDS) and len(changed) == 2
        assert all(b in lex[a] for a, b in changed)


def test_swap_permutes_and_insert_adds_synonyms():
    lex = load_lexicon()
    for seed in range(20):
        assert Counter(random_swap(WORDS, 3, random.Random(seed))) == Counter(WORDS)
        out = random_insert(WORDS, 2, random.Random(seed))
        extra = Counter(out) - Counter(WORDS)
        assert len(out) == len(WORDS) + 2 and sum(extra.values()) == 2
        assert all(any(e in lex[w] for w in WORDS if w in lex) or e in lex for e in extra)


def test_deletion_rate_is_binomial():
    words = ["w"] * 1000
    kept = len(random_delete(words, 0.3, random.Random(0)))
    # Kept ~ Binomial(1000, 0.7): within 3 sigma of 700.
    assert abs(kept - 700) <= 3 * np.sqrt(1000 * 0.7 * 0.3)
    assert random_delete(["only"], 1.0, random.Random(0)) == ["only"]
    with pytest.raises(ValueError, match="p must be a probability"):
        random_delete(WORDS, 1.5, random.Random(0))


def test_eda_is_deterministic_and_label_preserving_in_shape():
    a, b = eda(" ".join(WORDS), n_aug=8, seed=3), eda(" ".join(WORDS), n_aug=8, seed=3)
    assert a == b and len(a) == 8 and all(s.split() for s in a)


def test_token_noise_rates_follow_80_10_10():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 100, (200, 100), generator=g)
    noisy = token_noise(ids, 0.15, vocab_size=100, mask_id=0, generator=g)
    n = ids.numel()
    masked = (noisy == 0).float().mean().item()
    changed = (noisy != ids).float().mean().item()
    # Binomial proportions over 20,000 positions: 3 sigma is below 0.01 for both.
    assert abs(masked - 0.15 * 0.8) < 3 * np.sqrt(0.12 * 0.88 / n)
    want = 0.15 * (0.8 + 0.1 * (1 - 1 / 100))
    assert abs(changed - want) < 3 * np.sqrt(want * (1 - want) / n)


def test_mixup_loss_is_linear_in_lambda():
    torch.manual_seed(0)
    emb = torch.randn(6, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (6,))
    onehot = nn.functional.one_hot(y, 3).double()
    mixed, soft, lam = mixup(emb, onehot, alpha=0.4, seed=2)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(mixed, lam * emb + (1 - lam) * emb[perm])
    logits = torch.randn(6, 3, dtype=torch.float64)
    # torch's cross-entropy with probability targets against the two-label form.
    soft_loss = nn.functional.cross_entropy(logits, soft)
    pair_loss = lam * nn.functional.cross_entropy(logits, y) + (
        1 - lam
    ) * nn.functional.cross_entropy(logits, y[perm])
    torch.testing.assert_close(soft_loss, pair_loss, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        mixup(emb, onehot, 0.0)


def test_beta_draws_match_the_beta_mean_and_variance():
    lams = np.array(
        [mixup(torch.zeros(2, 1), torch.zeros(2, 1), 0.4, seed=s)[2] for s in range(2000)]
    )
    a = 0.4
    # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)); 2000 draws, generous 4 sigma bounds.
    assert abs(lams.mean() - 0.5) < 4 * np.sqrt(1 / (4 * (2 * a + 1)) / 2000)
    assert abs(lams.var() - 1 / (4 * (2 * a + 1))) < 0.02
