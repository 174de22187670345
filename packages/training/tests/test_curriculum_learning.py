"""Curriculum pacing and ordering against their definitions, and a loss-based difficulty."""

import math

import numpy as np
import pytest
import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.curriculum import (
    CurriculumSampler,
    competence,
    length_difficulty,
    loss_difficulty,
    pad_batch,
    seq_len_warmup,
)


def test_competence_is_platanios_square_root_pacing():
    c0, total = 0.05, 200
    for t in (0, 1, 50, 150, 199, 200, 500):
        want = min(1.0, math.sqrt(t * (1 - c0**2) / total + c0**2))
        assert competence(t, total, c0) == pytest.approx(want, abs=1e-15)
    assert competence(0, total, c0) == pytest.approx(c0) and competence(total, total, c0) == 1.0


def test_sampler_draws_only_from_the_easiest_fraction_then_from_all():
    difficulty = np.arange(100)[::-1].astype(float)  # example 99 is the easiest
    sampler = CurriculumSampler(difficulty, total_steps=50, c0=0.1, seed=0)
    early = np.concatenate([sampler.batch(0, 64) for _ in range(10)])
    assert set(early.tolist()) <= set(range(90, 100))  # the 10% easiest
    late = np.concatenate([sampler.batch(60, 64) for _ in range(20)])
    assert len(set(late.tolist())) > 90
    baseline = CurriculumSampler(difficulty, total_steps=50, curriculum=False, seed=0)
    assert len(set(baseline.batch(0, 640).tolist())) > 90


def test_seq_len_warmup_is_linear_and_rounded():
    for step in range(0, 30):
        want = 16 + min(1, step / 20) * (256 - 16)
        assert seq_len_warmup(step, 16, 256, 20) == max(8, int(want) // 8 * 8)
    assert seq_len_warmup(0, 4, 64, 10) == 4  # below one multiple: kept as is


def test_difficulties_by_length_and_by_loss():
    examples = [[1, 2, 3], [1, 2], [4, 5, 6, 7]]
    assert length_difficulty(examples).tolist() == [3, 2, 4]
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=8, d_model=16, n_layers=1, n_heads=2))
    scores = loss_difficulty(model, examples)
    for ex, s in zip(examples, scores, strict=True):
        with torch.no_grad():
            logits = model(torch.tensor([ex]))[0, :-1].double()
        ref = -torch.log_softmax(logits, -1)[range(len(ex) - 1), ex[1:]].mean().item()
        assert s == pytest.approx(ref, abs=1e-6)  # float32 model vs float64 log-softmax
    ids, labels = pad_batch(examples)
    assert ids.shape == (3, 4) and labels[1].tolist() == [1, 2, -100, -100]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="c0"):
        competence(1, 10, 0)
    with pytest.raises(ValueError, match="start <= end"):
        seq_len_warmup(0, 32, 16, 10)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        CurriculumSampler([], 10)
    with pytest.raises(ValueError, match="at least 2"):
        loss_difficulty(torch.nn.Identity(), [[1]])
