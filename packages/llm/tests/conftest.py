"""Shared helpers for the llm tests: tiny configs and weights large enough to make errors visible."""

import pytest
import torch

from masterclass.llm import LanguageModel, LMConfig


def perturbed(model: LanguageModel, seed: int = 0, std: float = 0.1) -> LanguageModel:
    """Replace the init (std 0.02, unit norms, zero biases) by larger random values, so that a
    wrong weight mapping or a wrong formula changes the logits by much more than the tolerance."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g) * std
            p.copy_(1.0 + noise if "norm" in name else noise)
    return model


@pytest.fixture
def perturb():
    """The `perturbed` helper, as a fixture (test modules cannot import conftest by name)."""
    return perturbed


@pytest.fixture
def tiny_llama() -> LanguageModel:
    """A 2-layer LLaMA-style model with grouped-query attention (4 query heads, 2 KV heads)."""
    torch.manual_seed(0)
    cfg = LMConfig.llama(
        vocab_size=97, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=64
    )
    return perturbed(LanguageModel(cfg)).eval()
