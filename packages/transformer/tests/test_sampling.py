"""Sampling filters against Hugging Face's logits warpers, and the sampled distributions."""

import pytest
import torch
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from masterclass.transformer.sampling import sample_next_token, top_k_filter, top_p_filter


def _logits(seed=0, B=4, V=50):
    return torch.randn(B, V, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2


@pytest.mark.parametrize("k", [1, 5, 50, 80])
def test_top_k_matches_hf(k):
    x = _logits(k)
    # Exact equality: both keep the same entries and copy them unchanged.
    assert torch.equal(top_k_filter(x, k), TopKLogitsWarper(k)(None, x.clone()))


@pytest.mark.parametrize("p", [0.05, 0.3, 0.9, 1.0])
def test_top_p_matches_hf(p):
    for seed in range(5):
        x = _logits(seed)
        assert torch.equal(top_p_filter(x, p), TopPLogitsWarper(p)(None, x.clone()))


def test_temperature_matches_hf():
    x = _logits()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    # With k = 1 sampling is deterministic, whatever the temperature.
    assert torch.equal(sample_next_token(x, temperature=0.7, top_k=1, generator=g), x.argmax(-1))
    ref = TemperatureLogitsWarper(0.7)(None, x.clone())
    torch.testing.assert_close(ref, x / 0.7, atol=0, rtol=0)


def test_sampled_frequencies_follow_filtered_softmax():
    # 40k draws from one row: each frequency is within 0.01 of its probability (the binomial
    # standard deviation is at most 0.0025, so this is a 4-sigma bound).
    x = torch.tensor([[2.0, 1.5, 1.0, 0.0, -1.0, -3.0]], dtype=torch.float64).expand(40_000, 6)
    g = torch.Generator().manual_seed(0)
    draws = sample_next_token(x, temperature=1.3, top_k=4, top_p=0.9, generator=g)
    freq = torch.bincount(draws, minlength=6).double() / 40_000
    probs = torch.softmax(top_p_filter(top_k_filter(x[:1] / 1.3, 4), 0.9), -1)[0]
    torch.testing.assert_close(freq, probs, atol=0.01, rtol=0)
    assert freq[4:].sum() == 0  # filtered tokens are never drawn


def test_greedy_and_bad_arguments():
    x = _logits()
    assert torch.equal(sample_next_token(x, greedy=True), x.argmax(-1))
    with pytest.raises(ValueError, match="top_k"):
        top_k_filter(x, 0)
    with pytest.raises(ValueError, match="top_p"):
        top_p_filter(x, 1.5)
    with pytest.raises(ValueError, match="temperature"):
        sample_next_token(x, temperature=0.0)
