"""Sliding windows against HF Mistral, rolling caches against full forwards under the equivalent
mask, and the cache-memory accounting against measured bytes."""

import pytest
import torch
from transformers import MistralConfig, MistralForCausalLM

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.hf_interop import llama_config_kwargs, llama_state_dict
from masterclass.llm.memory_patterns import (
    RollingKVCache,
    kv_cache_bytes,
    measure_cache_memory,
    visible_mask,
)

TINY = dict(vocab_size=97, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=64)


def test_sliding_window_matches_hf_mistral(perturb):
    # Mistral is Llama with a sliding window: same weight names, so the Llama mapping applies.
    # float32, same operations: 1e-5.
    model = perturb(LanguageModel(LMConfig.llama(**TINY, sliding_window=4))).eval()
    kwargs = llama_config_kwargs(LMConfig.llama(**TINY))
    for key in ("mlp_bias", "attention_bias"):
        kwargs.pop(key)
    hf = MistralForCausalLM(MistralConfig(**kwargs, sliding_window=4)).eval()
    hf.load_state_dict(llama_state_dict(model), strict=False)
    idx = torch.randint(0, 97, (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(hf(idx).logits, model(idx), atol=1e-5, rtol=1e-5)


def _masked_forward(model, idx, masks):
    """Reference: the model's blocks with explicit per-layer masks."""
    x = model.tok_emb(idx)
    rope = model._rope(0, idx.shape[1], idx.device)
    for layer, block in enumerate(model.blocks):
        x = block(x, rope, masks[layer], None, layer)
    return model.lm_head(model.norm(x))


@pytest.mark.parametrize(("windows", "n_sink"), [([5, 5], 0), ([5, 5], 2), ([3, None], 1)])
def test_rolling_cache_decoding_equals_masked_forward(windows, n_sink, perturb):
    # Token-by-token decoding through the bounded cache must equal one forward pass with the
    # mask that shows each query exactly what the cache keeps (float32: 1e-5).
    model = perturb(LanguageModel(LMConfig.llama(**TINY))).eval()
    idx = torch.randint(0, 97, (2, 14))
    cache = RollingKVCache(windows, n_sink=n_sink)
    with torch.no_grad():
        stepped = torch.cat([model.decode(idx[:, t : t + 1], cache) for t in range(14)], dim=1)
        ref = _masked_forward(model, idx, [visible_mask(14, w, n_sink) for w in windows])
    torch.testing.assert_close(stepped, ref, atol=1e-5, rtol=1e-5)
    for layer, w in enumerate(windows):
        assert cache.keys[layer].shape[2] == (14 if w is None else n_sink + w)


def test_local_global_model_decodes_like_its_forward(perturb):
    model = perturb(
        LanguageModel(LMConfig.llama(**{**TINY, "n_layers": 4}, sliding_window=3, global_every=2))
    ).eval()
    assert model.layer_windows() == [3, None, 3, None]
    idx = torch.randint(0, 97, (1, 11))
    cache = RollingKVCache.for_model(model)
    with torch.no_grad():
        stepped = torch.cat([model.decode(idx[:, t : t + 1], cache) for t in range(11)], dim=1)
        torch.testing.assert_close(stepped, model(idx), atol=1e-5, rtol=1e-5)


def test_cache_bytes_hand_count_and_measurement():
    cfg = LMConfig.llama(**{**TINY, "n_layers": 4}, sliding_window=8, global_every=4)
    # 3 local layers store 8 positions, 1 global layer stores 100; each position holds
    # K and V: 2 x H_kv (2) x D (16) values of 2 bytes.
    per_pos = 2 * 2 * 16 * 2
    assert kv_cache_bytes(cfg, 100) == (3 * 8 + 100) * per_pos
    assert kv_cache_bytes(cfg, 100, n_sink=4) == (3 * 12 + 100) * per_pos
    model = LanguageModel(cfg).eval()
    measured = measure_cache_memory(model, 40, n_sink=4, window=8)
    fp32 = dict(bytes_per_value=4)
    assert measured["full"] == kv_cache_bytes(LMConfig.llama(**{**TINY, "n_layers": 4}), 40, **fp32)
    assert measured["model pattern"] == kv_cache_bytes(cfg, 40, **fp32)
    assert measured["sinks + window"] == 4 * 12 * 2 * 2 * 16 * 4


def test_rolling_cache_rejects_chunks(tiny_llama):
    with pytest.raises(ValueError, match="one token at a time"):
        tiny_llama.decode(torch.zeros(1, 3, dtype=torch.long), RollingKVCache([4, 4]))
