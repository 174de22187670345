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


# ## Sizes, defaults and arguments (each value below is written from the layout, not read back)


def test_memory_bytes_are_the_layout_formula():
    # Static: 2 (k and v) x L x B x H_kv x T_max x D values; paged: 2 x L x H_kv x S x D values
    # per held block. float16 makes the bytes-per-value factor (2) visible next to the counts.
    L, B, H_kv, T, D = 3, 2, 2, 40, 8
    static = StaticKVCache(L, B, H_kv, T, D, dtype=torch.float16)
    assert static.memory_bytes() == 2 * L * B * H_kv * T * D * 2
    paged = PagedKVCache(L, B, H_kv, D, num_blocks=10, block_size=4, dtype=torch.float16)
    assert paged.memory_bytes() == 0
    k = torch.randn(B, H_kv, 5, D, dtype=torch.float16)
    for layer in range(L):
        paged.update(layer, k, k)
    paged.advance(5)
    blocks = B * 2  # ceil(5 / 4) blocks per sequence
    assert paged.blocks_in_use() == blocks
    assert paged.memory_bytes() == 2 * blocks * L * H_kv * 4 * D * 2


def test_paged_cache_default_block_size_is_16(tiny_llama):
    # vLLM's default: 17 tokens need two blocks of 16 per sequence, whichever constructor is used.
    c = tiny_llama.config
    direct = PagedKVCache(c.n_layers, 2, c.n_kv_heads, c.head_dim, num_blocks=8)
    sized = PagedKVCache.for_model(tiny_llama, 2, num_blocks=8)
    idx = torch.randint(0, 97, (2, 17))
    with torch.no_grad():
        for cache in (direct, sized):
            tiny_llama.decode(idx, cache)
            assert cache.block_size == 16 and cache.blocks_in_use() == 2 * 2


def test_paged_cache_rejects_empty_blocks_and_pools_but_accepts_one_position_blocks(tiny_llama):
    c = tiny_llama.config
    for block_size, num_blocks in [(0, 4), (4, 0), (-1, 4)]:
        with pytest.raises(ValueError, match="must be positive"):
            PagedKVCache(
                c.n_layers,
                1,
                c.n_kv_heads,
                c.head_dim,
                num_blocks=num_blocks,
                block_size=block_size,
            )
    # One position per block, and a pool of exactly the blocks needed: still the full forward.
    cache = PagedKVCache.for_model(tiny_llama, 2, num_blocks=2 * 7, block_size=1)
    idx = torch.randint(0, 97, (2, 7))
    with torch.no_grad():
        stepped = _decode_in_chunks(tiny_llama, idx, cache, [3, 1, 1, 2])
        torch.testing.assert_close(stepped, tiny_llama(idx), **TOL)
    assert cache.blocks_in_use() == 14 and not cache.free_blocks


def test_paged_overflow_names_the_pool():
    cache = PagedKVCache(1, 1, 1, 4, num_blocks=3, block_size=2)
    k = torch.zeros(1, 1, 7, 4)
    with pytest.raises(RuntimeError, match=r"out of blocks \(3 of 2 positions\)"):
        cache.update(0, k, k)
