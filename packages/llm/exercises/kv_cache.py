r"""# Exercises: The KV cache

The memory a cache holds, the blocks a paged cache takes, and the step a cache performs."""

import math

import torch

from masterclass.llm.kv_cache import PagedKVCache, StaticKVCache


def solution_1_kv_cache_bytes(
    n_layers: int, batch: int, n_kv_heads: int, seq_len: int, head_dim: int, bytes_per_value: int
) -> int:
    """$2 L B H_{kv} T D$ values (keys and values), times their size."""
    return 2 * n_layers * batch * n_kv_heads * seq_len * head_dim * bytes_per_value


def check_1_kv_cache_bytes(fn) -> None:
    """Compare with the bytes the chapter's `StaticKVCache` actually allocates."""
    for shape, dtype in [((2, 3, 4, 16, 8), torch.float32), ((1, 1, 2, 5, 4), torch.float16)]:
        L, B, H, T, D = shape
        cache = StaticKVCache(L, B, H, T, D, dtype=dtype)
        want = cache.keys.nbytes + cache.values.nbytes
        got = fn(L, B, H, T, D, torch.finfo(dtype).bits // 8)
        assert got == want, f"shape {shape} {dtype}: got {got} bytes, the cache holds {want}"


def solution_2_paged_blocks(length: int, batch: int, block_size: int) -> int:
    r"""Each sequence holds $\lceil t / S \rceil$ blocks."""
    return batch * math.ceil(length / block_size)


def check_2_paged_blocks(fn) -> None:
    """Write `length` positions into a `PagedKVCache` and count the blocks it holds."""
    for length, batch, block_size in [(1, 1, 16), (16, 2, 16), (17, 2, 16), (40, 3, 7), (0, 2, 4)]:
        cache = PagedKVCache(2, batch, 1, 4, num_blocks=64, block_size=block_size)
        if length:
            k = torch.zeros(batch, 1, length, 4)
            for layer in range(2):
                cache.update(layer, k, k)
            cache.advance(length)
        got, want = fn(length, batch, block_size), cache.blocks_in_use()
        assert got == want, (
            f"length {length}, batch {batch}, S={block_size}: got {got}, cache holds {want}"
        )


def solution_3_append(cache_k: torch.Tensor, k_new: torch.Tensor) -> torch.Tensor:
    """Concatenate along time."""
    return torch.cat([cache_k, k_new], dim=2)


def check_3_append(fn) -> None:
    """Feed steps through the candidate and through `StaticKVCache`; the keys seen must agree."""
    g = torch.Generator().manual_seed(0)
    cache = StaticKVCache(1, 2, 3, 10, 4)
    mine = torch.zeros(2, 3, 0, 4)
    for t in (3, 1, 1, 2):
        k = torch.randn(2, 3, t, 4, generator=g)
        want, _ = cache.update(0, k, k)
        cache.advance(t)
        mine = fn(mine, k)
        assert mine.shape == want.shape, f"shape {tuple(mine.shape)}, want {tuple(want.shape)}"
        assert torch.equal(mine, want), "the keys after the step differ from the cache's"
