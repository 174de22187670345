r"""# KV cache memory management

A server's memory is weights plus KV cache, and only the cache grows with traffic. Its size per
token is fixed by the model,

$$ \text{bytes per token} = 2 \times L \times H_{kv} \times D \times \text{bytes per value}, $$

(keys and values, every layer, every key/value head), so a pool of $N$ blocks of $S$ positions
holds $N S$ tokens *in total*, shared by every running request. Managing that pool is the whole
of this chapter:

- **Paged allocation.** `llm`'s `PagedKVCache` (the vLLM layout) owns the two pools
  `(L, N, H_kv, S, D)`; here a `BlockManager` hands blocks to *sequences* of different lengths,
  one block table each, so nothing is reserved for tokens that are never generated. The waste
  is at most $S - 1$ positions per sequence (the unfilled tail of its last block), instead of
  `max_tokens` per request for a contiguous preallocated cache.
- **Reference counts and prefix sharing.** A block that is full is immutable, so it can be
  shared: it is named by a hash of *every token up to its end* (the chain
  $h_j = \operatorname{hash}(h_{j-1}, \text{tokens of block } j)$: equal hashes mean equal
  prefixes, hence equal keys and values, since a causal model's position $p$ depends on tokens
  $0..p$ only). Two requests with the same system prompt hold the same physical blocks; a block
  is returned only when its count drops to zero.
- **Eviction under pressure.** A finished request's full blocks stay *cached* (count zero,
  content kept) in least-recently-used order: a later request with the same prefix gets them
  for free. When the free list is empty the oldest cached block is evicted (its hash forgotten)
  and reused. When nothing is cached either, the engine preempts a running request
  (`batching.py`: it frees its blocks and recomputes it later, vLLM's *recompute* preemption).
- **Admission control.** A request whose prompt plus `max_tokens` needs more blocks than the
  whole pool can never finish; `blocks_needed` lets the server refuse it up front with a clear
  error (HTTP 400) instead of running out of memory mid-generation.

`memory_report()` is the accounting the monitoring chapter exports: blocks in use, cached and
free, and their bytes.

References: Kwon et al., 2023, *Efficient Memory Management for Large Language Model Serving with
PagedAttention* ([arXiv:2309.06180](https://arxiv.org/abs/2309.06180)); vLLM's automatic prefix
caching design (hash of the block's tokens and its prefix).

Left out: copy-on-write of a partly filled shared block (beam search needs it; we only share full
blocks), swapping blocks to host memory instead of recomputing, and a kernel that reads blocks in
place (the batching chapter gathers them).

## Exercises

1. Write `kv_bytes(n_layers, n_kv_heads, head_dim, tokens, bytes_per_value)`: the bytes a
   contiguous KV cache of `tokens` positions takes. Check it:
   `uv run pytest --exercise deploy.kv_memory`
2. Write `blocks_for(tokens, block_size)`: the number of blocks a sequence of `tokens` positions
   occupies (0 for 0 tokens). Check it: `uv run pytest --exercise deploy.kv_memory`
3. Write `shared_blocks(prompt_a, prompt_b, block_size)`: how many *full* blocks two token lists
   can share under prefix caching (whole blocks of an equal prefix). Check it:
   `uv run pytest --exercise deploy.kv_memory`
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from masterclass.llm.kv_cache import PagedKVCache

__all__ = ["BlockManager", "OutOfBlocks", "kv_bytes_per_token"]


# Running out of blocks is a normal event under load, not a failure, so it has its own type
# that the scheduler catches.
class OutOfBlocks(RuntimeError):
    """The pool has no free or evictable block; the caller must preempt or wait."""


def kv_bytes_per_token(model: torch.nn.Module) -> int:
    """Bytes of keys and values one token takes in `model`'s KV cache (all layers).

    >>> from masterclass.llm import LanguageModel, LMConfig
    >>> cfg = LMConfig.llama(vocab_size=64, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2)
    >>> kv_bytes_per_token(LanguageModel(cfg))  # 2 (k, v) * 2 layers * 2 heads * 8 dims * 4 bytes
    256
    """
    c = model.config
    return 2 * c.n_layers * c.n_kv_heads * c.head_dim * model.lm_head.weight.element_size()


# ## Hashing a full block
#
# The hash of block $j$ folds in the hash of block $j-1$, so it names the whole prefix, not just
# the $S$ tokens of the block: two sequences that agree on block $j$'s tokens but not earlier ones
# get different hashes. Python's tuple hash is deterministic for integers, which is all we hash.
def block_hashes(tokens: Sequence[int], block_size: int) -> list[int]:
    """The chained hash of every *full* block of `tokens`.

    >>> a, b = block_hashes([1, 2, 3, 4, 5], 2), block_hashes([1, 2, 3, 4, 6], 2)
    >>> len(a), a == b, block_hashes([9, 2, 3, 4], 2)[1] == a[1]
    (2, True, False)
    """
    hashes: list[int] = []
    parent = 0
    for start in range(0, len(tokens) - block_size + 1, block_size):
        parent = hash((parent, tuple(tokens[start : start + block_size])))
        hashes.append(parent)
    return hashes


@dataclass
class MemoryReport:
    """Accounting of the pool, in blocks and bytes."""

    # blocks in the pool
    total_blocks: int
    # blocks held by at least one running sequence
    used_blocks: int
    # blocks not held but kept for their prefix (evictable)
    cached_blocks: int
    # blocks on the free list
    free_blocks: int
    # positions per block
    block_size: int
    # bytes of one block (keys and values, all layers)
    bytes_per_block: int

    @property
    def used_bytes(self) -> int:
        """Bytes held by running sequences."""
        return self.used_blocks * self.bytes_per_block

    @property
    def usage(self) -> float:
        """Fraction of the pool held by running sequences."""
        return self.used_blocks / self.total_blocks


# Each physical block has a reference count (how many sequences' tables hold it) and, once full
# and computed, a name: the hash of the whole prefix up to its end. A named block with no
# references is kept, evictable, for a later prompt that starts the same way.
class BlockManager:
    """Hands out the blocks of `llm`'s `PagedKVCache` pool to sequences, with prefix caching.

    >>> from masterclass.llm import LanguageModel, LMConfig
    >>> cfg = LMConfig.llama(vocab_size=64, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2)
    >>> bm = BlockManager(LanguageModel(cfg), num_blocks=4, block_size=2)
    >>> table = bm.allocate([], 3)                  # a 3-token sequence needs 2 blocks
    >>> bm.register_full(table, [5, 6, 7])          # block 0 (tokens 5, 6) is full: cache it
    >>> first = table[0]
    >>> bm.release(table)                           # finished: block 0 stays cached
    >>> shared, n = bm.lookup_prefix([5, 6, 9])     # a new prompt with the same first block
    >>> n, shared == [first], bm.report().used_blocks
    (2, True, 1)
    """

    def __init__(self, model: torch.nn.Module, *, num_blocks: int, block_size: int = 16) -> None:
        if not isinstance(num_blocks, int) or num_blocks <= 0:
            raise ValueError(f"num_blocks must be a positive int, got {num_blocks!r}")
        if not isinstance(block_size, int) or block_size <= 0:
            raise ValueError(f"block_size must be a positive int, got {block_size!r}")
        # The pools and the free list are llm's paged cache; its own per-batch-row tables (one
        # shared length) are not used: every sequence here has its own table and length.
        self.cache = PagedKVCache.for_model(
            model, batch_size=0, num_blocks=num_blocks, block_size=block_size
        )
        # The bookkeeping: references, names both ways, and the evictable blocks in LRU order.
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.refcount = [0] * num_blocks
        self.block_hash: dict[int, int] = {}  # physical block -> hash of the prefix it holds
        self.by_hash: dict[int, int] = {}  # hash -> physical block
        self.evictable: OrderedDict[int, None] = OrderedDict()  # cached blocks, oldest first
        self.bytes_per_block = kv_bytes_per_token(model) * block_size

    # The pools, and the arithmetic of capacity: a sequence of n positions needs ceil(n / S)
    # blocks, and evictable blocks count as available since they can be reclaimed at once.
    @property
    def k_pool(self) -> torch.Tensor:
        """Keys, `(L, N, H_kv, S, D)`."""
        return self.cache.k_pool

    @property
    def v_pool(self) -> torch.Tensor:
        """Values, `(L, N, H_kv, S, D)`."""
        return self.cache.v_pool

    def blocks_needed(self, tokens: int) -> int:
        """Blocks a sequence of `tokens` positions occupies."""
        return -(-tokens // self.block_size)

    def available(self) -> int:
        """Blocks that can be handed out now (free plus evictable)."""
        return len(self.cache.free_blocks) + len(self.evictable)

    # ## Taking one block
    #
    # The free list first (those blocks hold nothing anyone wants); otherwise the least recently
    # released cached block, whose hash is forgotten so no later lookup can find stale content.
    def _take(self) -> int:
        if self.cache.free_blocks:
            block = self.cache.free_blocks.pop()
        elif self.evictable:
            block, _ = self.evictable.popitem(last=False)
            del self.by_hash[self.block_hash.pop(block)]
        else:
            raise OutOfBlocks(
                f"all {self.num_blocks} KV blocks of {self.block_size} positions are in use"
            )
        self.refcount[block] = 1
        return block

    # Checking the whole need before taking anything means a failed allocation leaves the
    # table and the pool exactly as they were, so the scheduler can simply try later.
    def allocate(self, table: list[int], tokens: int) -> list[int]:
        """Grow `table` (in place) to hold `tokens` positions; returns it. All or nothing."""
        missing = self.blocks_needed(tokens) - len(table)
        if missing > self.available():
            raise OutOfBlocks(
                f"need {missing} more KV blocks, {self.available()} available of {self.num_blocks}"
            )
        for _ in range(missing):
            table.append(self._take())
        return table

    # ## Prefix lookup
    #
    # Walk the prompt's full blocks while their hashes are known. At least one prompt token is
    # always left to compute, because its logits choose the first new token: a prompt of exactly
    # $kS$ tokens reuses at most $k-1$ blocks. Each reused block gains a reference (and leaves
    # the evictable list if it was there).
    def lookup_prefix(self, prompt: Sequence[int]) -> tuple[list[int], int]:
        """Blocks already holding a prefix of `prompt`, and how many tokens they cover."""
        table: list[int] = []
        for h in block_hashes(prompt[: len(prompt) - 1], self.block_size):
            block = self.by_hash.get(h)
            if block is None:
                break
            if self.refcount[block] == 0:
                del self.evictable[block]
            self.refcount[block] += 1
            table.append(block)
        return table, len(table) * self.block_size

    # Naming happens after a step has computed a block's keys, never at allocation: a lookup must
    # never find a block whose content is still being written. One name, one block.
    def register_full(self, table: Sequence[int], tokens: Sequence[int]) -> None:
        """Name every full block of a sequence whose KV for `tokens` is computed, for sharing."""
        for block, h in zip(table, block_hashes(tokens, self.block_size), strict=False):
            if block in self.block_hash or h in self.by_hash:
                continue  # already named, or the same prefix lives in another block
            self.block_hash[block] = h
            self.by_hash[h] = block

    # A block shared by several sequences survives until the last one lets go; a negative count
    # is a bookkeeping bug, raised at once rather than corrupting another sequence's cache.
    def release(self, table: list[int]) -> None:
        """Drop one reference to each block of `table` and empty it; unnamed blocks become free,
        named ones cached (evictable, most recent last)."""
        for block in table:
            self.refcount[block] -= 1
            if self.refcount[block] < 0:
                raise RuntimeError(f"block {block} released more often than it was taken")
            if self.refcount[block] == 0:
                if block in self.block_hash:
                    self.evictable[block] = None
                else:
                    self.cache.free_blocks.append(block)
        table.clear()

    # A snapshot for the monitoring gauges and the tests.
    def report(self) -> MemoryReport:
        """Blocks in use, cached and free, and bytes per block."""
        used = sum(1 for r in self.refcount if r > 0)
        return MemoryReport(
            total_blocks=self.num_blocks,
            used_blocks=used,
            cached_blocks=len(self.evictable),
            free_blocks=len(self.cache.free_blocks),
            block_size=self.block_size,
            bytes_per_block=self.bytes_per_block,
        )
