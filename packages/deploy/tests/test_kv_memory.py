"""KV memory: byte accounting against llm's caches, sharing, eviction order, admission control."""

import pytest
import torch

from masterclass.deploy.batching import Engine, Request
from masterclass.deploy.kv_memory import BlockManager, OutOfBlocks, block_hashes, kv_bytes_per_token
from masterclass.llm.kv_cache import PagedKVCache, StaticKVCache


def test_bytes_per_token_match_the_tensors_llm_allocates(make_lm):
    # Reference: the bytes of the tensors llm's StaticKVCache actually holds for T positions, and
    # of the paged pool, divided by the positions they hold. Exact integers.
    model = make_lm(0, vocab=64)
    static = StaticKVCache.for_model(model, batch_size=1, max_len=40)
    assert kv_bytes_per_token(model) * 40 == static.memory_bytes()
    bm = BlockManager(model, num_blocks=10, block_size=4)
    pool_bytes = bm.k_pool.numel() * bm.k_pool.element_size() * 2
    assert bm.bytes_per_block * 10 == pool_bytes
    paged = PagedKVCache.for_model(model, batch_size=1, num_blocks=10, block_size=4)
    k = torch.zeros(1, model.config.n_kv_heads, 6, model.config.head_dim)
    for layer in range(model.config.n_layers):
        paged.update(layer, k, k)
    assert paged.memory_bytes() == 2 * bm.bytes_per_block  # 6 positions occupy 2 blocks of 4


def test_shared_blocks_are_counted_once_and_freed_last(make_lm):
    bm = BlockManager(make_lm(0, vocab=64), num_blocks=6, block_size=2)
    prompt = [1, 2, 3, 4, 5]
    a = bm.allocate([], 5)
    bm.register_full(a, prompt)
    b, hit = bm.lookup_prefix(prompt)  # the first two full blocks; the last token is recomputed
    assert hit == 4 and b == a[:2] and bm.report().used_blocks == 3
    bm.allocate(b, 5)
    assert bm.report().used_blocks == 4
    bm.release(a)
    assert bm.report().used_blocks == 3  # b still holds the shared blocks
    bm.release(b)
    r = bm.report()
    assert (r.used_blocks, r.cached_blocks, r.free_blocks) == (0, 2, 4)


def test_eviction_takes_the_least_recently_released_cached_block(make_lm):
    bm = BlockManager(make_lm(0, vocab=64), num_blocks=2, block_size=2)
    first = bm.allocate([], 2)
    bm.register_full(first, [1, 2])
    bm.release(first)
    second = bm.allocate([], 2)
    bm.register_full(second, [3, 4])
    bm.release(second)
    assert bm.report().cached_blocks == 2
    bm.allocate([], 2)  # free list empty: evicts [1, 2], the oldest
    assert bm.lookup_prefix([1, 2, 9])[1] == 0 and bm.lookup_prefix([3, 4, 9])[1] == 2
    with pytest.raises(OutOfBlocks, match="need 1 more KV blocks, 0 available"):
        bm.allocate([], 2)


def test_block_hashes_name_the_whole_prefix():
    assert block_hashes([1, 2, 3], 2) == block_hashes([1, 2, 4], 2)
    assert block_hashes([1, 2, 3, 4], 2)[1] != block_hashes([0, 2, 3, 4], 2)[1]
    assert block_hashes([1], 2) == []


def test_engine_refuses_what_can_never_fit_and_survives_pressure(make_lm):
    model = make_lm(0, vocab=64)
    engine = Engine(model, num_blocks=4, block_size=4)
    with pytest.raises(ValueError, match="the pool has 4"):
        engine.check_fits(10, 7)  # 17 positions need 5 blocks
    reqs = [engine.submit(Request([i + 1] * 6, max_tokens=8)) for i in range(3)]  # 14 -> 4 blocks
    engine.run_until_idle()  # one at a time fits; the others wait or are preempted
    assert all(len(r.generated) == 8 for r in reqs)
    assert engine.blocks.report().used_blocks == 0


def test_bad_arguments(make_lm):
    with pytest.raises(ValueError, match="num_blocks must be a positive int"):
        BlockManager(make_lm(0, vocab=64), num_blocks=0)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        BlockManager(make_lm(0, vocab=64), num_blocks=2, block_size=0)
