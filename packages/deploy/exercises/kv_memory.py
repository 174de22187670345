r"""# Exercises: KV cache memory management

Cache sizes, block counts and prefix sharing, checked against llm's caches and the BlockManager."""

import torch

from masterclass.deploy.kv_memory import BlockManager
from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.kv_cache import PagedKVCache, StaticKVCache


def solution_1_kv_bytes(
    n_layers: int, n_kv_heads: int, head_dim: int, tokens: int, bytes_per_value: int
) -> int:
    return 2 * n_layers * n_kv_heads * head_dim * tokens * bytes_per_value


def check_1_kv_bytes(fn) -> None:
    # Against the bytes of the tensors llm's StaticKVCache allocates.
    for L, H, D, T, dtype in [(2, 2, 8, 10, torch.float32), (3, 1, 4, 7, torch.float16)]:
        cache = StaticKVCache(L, 1, H, T, D, dtype=dtype)
        want = cache.memory_bytes()
        got = fn(L, H, D, T, torch.empty(0, dtype=dtype).element_size())
        assert got == want, f"kv_bytes({L}, {H}, {D}, {T}) = {got}, the cache holds {want}"


def solution_2_blocks_for(tokens: int, block_size: int) -> int:
    return -(-tokens // block_size)


def check_2_blocks_for(fn) -> None:
    # Against llm's PagedKVCache: write `tokens` positions and count the blocks it took.
    for tokens, size in [(0, 4), (1, 4), (4, 4), (5, 4), (33, 16)]:
        cache = PagedKVCache(1, 1, 1, 2, num_blocks=8, block_size=size)
        if tokens:
            cache.update(0, torch.zeros(1, 1, tokens, 2), torch.zeros(1, 1, tokens, 2))
        got = fn(tokens, size)
        assert got == cache.blocks_in_use(), f"blocks_for({tokens}, {size}) = {got}"


def solution_3_shared_blocks(prompt_a: list[int], prompt_b: list[int], block_size: int) -> int:
    n = 0
    limit = min(len(prompt_a) // block_size, (len(prompt_b) - 1) // block_size)
    while n < limit and prompt_a[: (n + 1) * block_size] == prompt_b[: (n + 1) * block_size]:
        n += 1
    return n


def check_3_shared_blocks(fn) -> None:
    # Against the BlockManager: register prompt_a's blocks, look up prompt_b.
    model = LanguageModel(LMConfig.llama(vocab_size=32, d_model=16, n_layers=1, n_heads=2))
    cases = [
        ([1, 2, 3, 4, 5], [1, 2, 3, 4, 6], 2),
        ([1, 2, 3, 4], [1, 2, 3, 4], 2),
        ([1, 2, 3], [9, 2, 3], 1),
        ([5] * 9, [5] * 12, 3),
    ]
    for a, b, size in cases:
        bm = BlockManager(model, num_blocks=16, block_size=size)
        table = bm.allocate([], len(a))
        bm.register_full(table, a)
        want = len(bm.lookup_prefix(b)[0])
        got = fn(a, b, size)
        assert got == want, f"shared_blocks({a}, {b}, {size}) = {got}, want {want}"
