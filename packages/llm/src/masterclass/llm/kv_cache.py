r"""# The KV cache

Generating token $t+1$ needs attention of the new query over the keys and values of all $t$
previous tokens. They do not change once computed (a causal model never lets an old position see a
new one), so recomputing them every step, $O(t)$ work per layer for a result already known, is
pure waste. A KV cache stores them: each step computes $q, k, v$ for the new token only, appends
$k, v$, and attends over the stored ones. The cost per generated token falls from a forward pass
over the whole prefix to one over a single position; the price is memory,

$$ 2 \times L \times B \times H_{kv} \times T \times D \times \text{bytes per value}, $$

which is why grouped-query attention (smaller $H_{kv}$) matters at inference time.

Two layouts are here, both driven by `LanguageModel.decode` through the same small protocol
(`length`, `update(layer, k, v)`, `advance(t)`):

- `StaticKVCache` preallocates `(L, B, H_kv, T_max, D)` and writes each step at the current
  position: no allocation while decoding, the layout HF's `StaticCache` and `torch.compile`-friendly
  servers use.
- `PagedKVCache` (Kwon et al., 2023, *vLLM*) cuts memory into fixed-size blocks of `block_size`
  positions taken from a shared pool on demand; a per-sequence *block table* maps logical block
  $j$ of sequence $b$ to a physical block. Nothing is reserved for tokens that are never generated,
  and freed blocks return to the pool for other sequences.

How the two layouts spend memory as a batch of sequences of different final lengths is decoded
(the static cache reserves `max_len` positions for every sequence; the paged one holds
$\lceil t / S\rceil$ blocks of $S$ positions per sequence at step $t$, until the sequence ends):

![KV cache memory during decoding, static vs paged](figures/kv_cache_growth.png)

The test checks that decoding token by token through either cache gives exactly the logits of one
full forward pass. Left out: prefix sharing with copy-on-write, and swapping blocks to host memory.
The PagedAttention paper: [Kwon et al. (2023)](https://arxiv.org/abs/2309.06180). The cache is
driven by [the model's `decode`](model.md) and by [generation](generate.md).

## Exercises

1. Write `kv_cache_bytes(n_layers, batch, n_kv_heads, seq_len, head_dim, bytes_per_value)`: the
   bytes a static cache holds for keys and values. Then evaluate it for a LLaMA-2-7B-sized model
   (32 layers, 32 KV heads, head dim 128, fp16) at 4096 tokens: why does GQA with 8 KV heads
   matter? Check it: `uv run pytest --exercise llm.kv_cache`.
2. Write `paged_blocks(length, batch, block_size)`: how many blocks a paged cache holds after
   `length` positions of `batch` sequences. Check it: `uv run pytest --exercise llm.kv_cache`.
3. Write `append(cache_k, k_new)`: the concatenating cache (the simplest one), returning the
   keys `(B, H, T + T_new, D)` that attention sees after the step. Check it:
   `uv run pytest --exercise llm.kv_cache`.
"""

from __future__ import annotations

import torch
from torch import Tensor


class KVCache:
    """The protocol `LanguageModel.decode` drives: `length` tokens stored, `update`, `advance`."""

    length: int

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store `k`, `v` `(B, H_kv, T, D)` at positions `length..length+T` of `layer`; return
        all keys and values of that layer, `(B, H_kv, length + T, D)`."""
        raise TypeError(f"{type(self).__name__} must implement update()")

    def advance(self, t: int) -> None:
        """Mark `t` more tokens as stored (called once per step, after every layer)."""
        self.length += t


# The static cache reserves the whole context up front: no allocation while decoding, at the
# price of memory for positions never reached.
class StaticKVCache(KVCache):
    """Preallocated cache of shape `(L, B, H_kv, max_len, D)` for keys and for values.

    >>> cache = StaticKVCache(n_layers=2, batch_size=1, n_kv_heads=4, max_len=128, head_dim=16)
    >>> cache.memory_bytes()  # 2 (k, v) * 2 * 1 * 4 * 128 * 16 values * 4 bytes
    131072
    """

    def __init__(
        self,
        n_layers: int,
        batch_size: int,
        n_kv_heads: int,
        max_len: int,
        head_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        # One tensor for the keys and one for the values, every layer stacked, allocated once.
        shape = (n_layers, batch_size, n_kv_heads, max_len, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)  # (L, B, H_kv, T_max, D)
        self.values = torch.zeros(shape, dtype=dtype, device=device)  # (L, B, H_kv, T_max, D)
        self.max_len = max_len
        self.length = 0

    # Sized from a model's config, in the dtype and on the device of its weights.
    @classmethod
    def for_model(cls, model: torch.nn.Module, batch_size: int, max_len: int) -> StaticKVCache:
        """A cache sized for `model` (a `LanguageModel`), in the dtype and device of its weights."""
        c = model.config
        w = model.lm_head.weight
        return cls(
            c.n_layers,
            batch_size,
            c.n_kv_heads,
            max_len,
            c.head_dim,
            dtype=w.dtype,
            device=w.device,
        )

    # A step writes into the next slice and returns views of everything stored, without copying.
    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write `k`, `v` `(B, H_kv, T, D)` after the stored tokens and return views of all of them."""
        end = self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(
                f"StaticKVCache holds {self.max_len} positions, step needs {end}; make a larger cache"
            )
        self.keys[layer, :, :, self.length : end] = k
        self.values[layer, :, :, self.length : end] = v
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]  # (B, H_kv, end, D)

    def memory_bytes(self) -> int:
        """Bytes held by the two tensors (all reserved up front)."""
        return 2 * self.keys.numel() * self.keys.element_size()


# ## Paging
#
# Physical storage is a pool `(L, N_blocks, H_kv, block_size, D)`. Position $p$ of sequence $b$
# lives in physical block `block_table[b, p // block_size]` at offset `p % block_size`. A step
# allocates blocks only when a sequence crosses a block boundary, writes through the table with one
# indexed assignment, and gathers the sequence back into a contiguous `(B, H_kv, T, D)` view for
# attention. (vLLM's kernel reads the blocks in place instead of gathering; the gather keeps this
# version short and lets any attention function consume it.)


class PagedKVCache(KVCache):
    """Block-table KV cache: a shared pool of `num_blocks` blocks of `block_size` positions."""

    def __init__(
        self,
        n_layers: int,
        batch_size: int,
        n_kv_heads: int,
        head_dim: int,
        *,
        num_blocks: int,
        block_size: int = 16,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        if block_size <= 0 or num_blocks <= 0:
            raise ValueError(
                f"block_size and num_blocks must be positive, got {block_size}, {num_blocks}"
            )
        # The pool holds every block of every layer; the free list and the per-sequence block
        # tables are plain Python lists.
        shape = (n_layers, num_blocks, n_kv_heads, block_size, head_dim)
        self.k_pool = torch.zeros(shape, dtype=dtype, device=device)  # (L, N, H_kv, S, D)
        self.v_pool = torch.zeros(shape, dtype=dtype, device=device)  # (L, N, H_kv, S, D)
        self.block_size = block_size
        self.batch_size = batch_size
        self.free_blocks: list[int] = list(range(num_blocks))
        self.block_tables: list[list[int]] = [[] for _ in range(batch_size)]
        self.length = 0

    # Sized from a model's config, as for the static cache.
    @classmethod
    def for_model(
        cls, model: torch.nn.Module, batch_size: int, num_blocks: int, block_size: int = 16
    ) -> PagedKVCache:
        """A paged cache sized for `model` (a `LanguageModel`)."""
        c = model.config
        w = model.lm_head.weight
        return cls(
            c.n_layers,
            batch_size,
            c.n_kv_heads,
            c.head_dim,
            num_blocks=num_blocks,
            block_size=block_size,
            dtype=w.dtype,
            device=w.device,
        )

    # Blocks come off the free list only when a sequence crosses a block boundary.
    def _reserve(self, end: int) -> None:
        needed = -(-end // self.block_size)  # blocks to hold positions 0..end-1
        for table in self.block_tables:
            while len(table) < needed:
                if not self.free_blocks:
                    raise RuntimeError(
                        f"PagedKVCache is out of blocks ({self.k_pool.shape[1]} of {self.block_size} "
                        f"positions); free finished sequences or make a larger pool"
                    )
                table.append(self.free_blocks.pop())

    def block_table(self) -> Tensor:
        """The block table as a `(B, n_blocks)` int64 tensor."""
        return torch.tensor(self.block_tables, dtype=torch.int64, device=self.k_pool.device)

    # A step reserves blocks once, at layer 0, then scatters the new positions through the table.
    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write `k`, `v` `(B, H_kv, T, D)` into their blocks and gather all stored positions."""
        B, H_kv, T, D = k.shape
        end = self.length + T
        if layer == 0:
            self._reserve(end)
        table = self.block_table()  # (B, n_blocks)
        pos = torch.arange(self.length, end, device=k.device)  # (T,)
        blocks = table[:, pos // self.block_size]  # (B, T) physical block of each new position
        offsets = (pos % self.block_size).expand(B, T)  # (B, T)
        # Indexing dims 0 and 2 of a layer's pool puts the (B, T) index dims first: (B, T, H_kv, D).
        self.k_pool[layer][blocks, :, offsets] = k.permute(0, 2, 1, 3)
        self.v_pool[layer][blocks, :, offsets] = v.permute(0, 2, 1, 3)
        # Gather each sequence's blocks in table order and flatten them back into positions.
        n_blocks = table.shape[1]
        k_all = self.k_pool[layer][table]  # (B, n_blocks, H_kv, S, D)
        v_all = self.v_pool[layer][table]  # (B, n_blocks, H_kv, S, D)
        k_all = k_all.permute(0, 2, 1, 3, 4).reshape(B, H_kv, n_blocks * self.block_size, D)
        v_all = v_all.permute(0, 2, 1, 3, 4).reshape(B, H_kv, n_blocks * self.block_size, D)
        return k_all[:, :, :end], v_all[:, :, :end]  # (B, H_kv, end, D)

    # Bookkeeping: freeing returns the blocks to the pool, and the memory count covers only the
    # blocks held.
    def free(self) -> None:
        """Return every block to the pool and reset the cache to empty."""
        for table in self.block_tables:
            self.free_blocks.extend(reversed(table))
            table.clear()
        self.length = 0

    def blocks_in_use(self) -> int:
        """Number of physical blocks currently held by sequences."""
        return sum(len(t) for t in self.block_tables)

    def memory_bytes(self) -> int:
        """Bytes actually used by held blocks (keys and values)."""
        per_block = self.k_pool[0, 0].numel() * self.k_pool.element_size() * self.k_pool.shape[0]
        return 2 * self.blocks_in_use() * per_block
