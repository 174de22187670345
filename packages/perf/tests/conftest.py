"""Shared fixtures of the perf tests: the capstone's default model size."""

import warnings

import pytest

from masterclass.llm.config import LMConfig


def capstone_lm_config() -> LMConfig:
    """The `LMConfig` of the capstone's default preset, built the way the capstone builds it.

    If the capstone package cannot be imported (it is developed alongside), the preset's
    documented sizes are used: width 128, 4 layers, 2 heads, 2,048 tokens, context 256.
    """
    try:
        from masterclass.capstone.config import DEFAULT_PRESET, model_config, preset

        run = preset(DEFAULT_PRESET)
        return model_config(run, run.tokenizer.vocab_size)
    except (ImportError, AttributeError, TypeError) as err:
        warnings.warn(
            f"capstone's config not usable ({err}); using the documented small preset",
            stacklevel=2,
        )
        return LMConfig.llama(vocab_size=2048, d_model=128, n_layers=4, n_heads=2, max_seq_len=256)


@pytest.fixture
def capstone_config() -> LMConfig:
    return capstone_lm_config()
