"""Incremental decoding through the static and the paged cache against one full forward pass."""

import pytest
import torch

from masterclass.llm import LanguageModel, LMConfig, PagedKVCache, StaticKVCache

TINY = dict(vocab_size=97, d_model=64, n_layers=2, n_heads=4, max_seq_len=64)

# Cached and uncached paths do the same float32 products in a different order (attention over
# a key set built in pieces): logits agree to ~1e-6; tolerance 1e-5.
TOL = dict(atol=1e-5, rtol=1e-5)


def _decode_in_chunks(model, idx, cache, chunks):
    out, start = [], 0
    for size in chunks:
        out.append(model.decode(idx[:, start : start + size], cache))
        start += size
    return torch.cat(out, dim=1)


@pytest.mark.parametrize(
    "variant",
    [
        dict(n_kv_heads=2),
        dict(pos="alibi", ffn="gelu", norm="layernorm"),
        dict(pos="learned", bias=True),
        dict(sliding_window=5, n_kv_heads=1),
    ],
)
@pytest.mark.parametrize("kind", ["static", "paged"])
def test_incremental_decoding_equals_full_forward(variant, kind, perturb):
    torch.manual_seed(0)
    model = perturb(LanguageModel(LMConfig(**TINY, **variant))).eval()
    idx = torch.randint(0, 97, (3, 19))
    if kind == "static":
        cache = StaticKVCache.for_model(model, 3, 19)
    else:
        cache = PagedKVCache.for_model(model, 3, num_blocks=16, block_size=4)
    with torch.no_grad():
        full = model(idx)
        stepped = _decode_in_chunks(model, idx, cache, [6, 1, 1, 5, 1, 1, 1, 1, 1, 1])
    torch.testing.assert_close(stepped, full, **TOL)
    assert cache.length == 19


def test_paged_cache_allocates_blocks_on_demand_and_frees_them(tiny_llama):
    cache = PagedKVCache.for_model(tiny_llama, 2, num_blocks=8, block_size=4)
    with torch.no_grad():
        tiny_llama.decode(torch.randint(0, 97, (2, 5)), cache)
    assert cache.blocks_in_use() == 2 * 2  # ceil(5 / 4) blocks per sequence
    static = StaticKVCache.for_model(tiny_llama, 2, 64)
    assert cache.memory_bytes() < static.memory_bytes() / 4
    cache.free()
    assert cache.blocks_in_use() == 0 and len(cache.free_blocks) == 8 and cache.length == 0
    # Reused blocks must not leak old values: decoding again gives the full-forward logits.
    idx = torch.randint(0, 97, (2, 6))
    with torch.no_grad():
        torch.testing.assert_close(tiny_llama.decode(idx, cache), tiny_llama(idx), **TOL)


def test_caches_report_overflow(tiny_llama):
    static = StaticKVCache.for_model(tiny_llama, 1, 4)
    with pytest.raises(ValueError, match="holds 4 positions"):
        tiny_llama.decode(torch.zeros(1, 5, dtype=torch.long), static)
    paged = PagedKVCache.for_model(tiny_llama, 1, num_blocks=1, block_size=4)
    with pytest.raises(RuntimeError, match="out of blocks"):
        tiny_llama.decode(torch.zeros(1, 5, dtype=torch.long), paged)
