"""Tests for `LMConfig`: derived defaults, the named recipes and the validation messages."""

import pytest

from masterclass.llm import LMConfig


def test_llama_defaults():
    cfg = LMConfig.llama()
    assert (cfg.ffn, cfg.norm, cfg.pos, cfg.bias, cfg.tie_embeddings) == (
        "swiglu",
        "rmsnorm",
        "rope",
        False,
        False,
    )
    assert cfg.n_kv_heads == cfg.n_heads
    # 8/3 * 192 = 512 exactly, already a multiple of 64.
    assert cfg.d_ff == 512
    assert cfg.head_dim == 32


def test_gpt2_defaults_use_four_times_width():
    cfg = LMConfig.gpt2(d_model=64, n_heads=4)
    assert cfg.d_ff == 256 and cfg.pos == "learned" and cfg.tie_embeddings


def test_dict_round_trip():
    cfg = LMConfig.llama(d_model=64, n_heads=4, n_kv_heads=2)
    assert LMConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown LMConfig fields"):
        LMConfig.from_dict({**cfg.to_dict(), "n_embd": 3})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(d_model=100, n_heads=3), "divisible by n_heads"),
        (dict(n_heads=6, n_kv_heads=4), "divisor of n_heads"),
        (dict(ffn="swish"), "ffn must be one of"),
        (dict(norm="batchnorm"), "norm must be one of"),
        (dict(pos="sinusoidal"), "pos must be one of"),
        (dict(vocab_size=0), "vocab_size must be a positive int"),
        (dict(dropout=1.0), "dropout"),
        (dict(d_model=30, n_heads=10), "head dim"),
        (dict(rope_scaling_factor=0.5), "rope_scaling_factor"),
        (dict(sliding_window=0), "sliding_window"),
    ],
)
def test_bad_configs_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LMConfig(**kwargs)
