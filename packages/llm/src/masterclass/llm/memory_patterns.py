r"""# Memory attention patterns: sliding windows, attention sinks, local/global layers

Full causal attention keeps every past key and value: the KV cache grows linearly with the text,
$2 L H_{kv} T D$ numbers, and each new token reads all of them. Three patterns bound what a layer
remembers:

- **Sliding-window attention** (Longformer, Beltagy et al., 2020; Mistral 7B): query $i$ sees keys
  $i - w < j \le i$. Information still travels further than $w$ (layer $\ell$ sees $\ell (w - 1)$
  tokens back through the stack: each layer moves information at most $w - 1$ positions), but each layer's cache is a ring of $w$ entries.
  `LMConfig.sliding_window` turns it on.
- **Attention sinks** (Xiao et al., 2024, *StreamingLLM*): models put a lot of attention mass on
  the first few tokens whatever they say, as a place to park probability the softmax must spend.
  Evicting them breaks the model; keeping $s$ "sink" tokens plus a window of the latest $w$ keeps
  it stable over unbounded streams with a cache of fixed size $s + w$.
- **Local/global interleaving** (Gemma 2 and 3, Character.AI): most layers local (windowed), every
  $n$-th layer global. The global layers keep long-range retrieval; the cache shrinks by nearly the
  local share. `LMConfig.global_every` turns it on.

`RollingKVCache` implements the bounded caches for decoding (a per-layer budget of sink and window
entries), and `kv_cache_bytes` counts what each pattern stores; `measure_cache_memory` decodes a
stream and reports the bytes the caches actually hold. The test checks that decoding through the
rolling cache gives exactly the logits of the full forward pass under the equivalent mask.

**Measured** when the site is built (`figures/cache_patterns.py`): the capstone-size model
(4 layers, 2 KV heads of 32 dims, float32), window 64, 4 sink tokens; "local/global, 1:1" is
`sliding_window=64, global_every=2` (layers 1 and 3 local, 2 and 4 global). The lines are
`kv_cache_bytes`, the dots the bytes the caches hold after decoding a stream through the model:

![KV-cache KiB against tokens decoded for full, windowed, sink and local/global caches](figures/cache_patterns.png)

The bounded caches stop growing once the window is full, however long the stream gets; the full
one keeps growing by $2 L H_{kv} D \times 4$ bytes per token, and the local/global one by half of
that. (`bench/studies.py --only memory` prints the same measurement at 512 tokens.)

One caveat: here keys keep the rotary angle of their original position. StreamingLLM instead
re-indexes positions inside the cache so that distances never exceed the training length; with
absolute positions, a stream longer than the training length still meets unseen distances at the
sink tokens. Left out: the re-indexing, dilated windows, and block-sparse patterns (the transformer
chapter's sparse attention).

## Exercises

1. Write `sink_window_mask(t, window, n_sink)`: the `(T, T)` boolean mask under which a rolling
   cache of $s$ sinks and a window of $w$ decodes. Check it:
   `uv run pytest --exercise llm.memory_patterns`.
2. Write `receptive_field(n_layers, window)`: how many positions back the last layer's output can
   depend on the input through stacked windows. The checker composes the masks layer by layer.
   Check it: `uv run pytest --exercise llm.memory_patterns`.
3. Write `cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, window, n_sink, global_every,
   bytes_per_value)`: the bytes each pattern stores. For Gemma-2-like settings (every second layer
   global), what share of the full cache is left at $T = 8192$, $w = 4096$? Check it:
   `uv run pytest --exercise llm.memory_patterns`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from masterclass.llm.config import LMConfig
from masterclass.llm.kv_cache import KVCache, StaticKVCache
from masterclass.llm.model import LanguageModel


# The rolling cache keeps one growing tensor of keys and one of values per layer, trimmed to the
# sinks plus the window after each step.
class RollingKVCache(KVCache):
    """Bounded cache: per layer, the first `n_sink` keys plus the last `window` ones (None =
    unbounded, a global layer). Decoding through it is one token per step."""

    bounded = True

    def __init__(self, windows: list[int | None], n_sink: int = 0) -> None:
        if n_sink < 0 or any(w is not None and w <= 0 for w in windows):
            raise ValueError(
                f"windows must be positive or None and n_sink >= 0, got {windows}, {n_sink}"
            )
        self.windows, self.n_sink = windows, n_sink
        self.keys: list[Tensor | None] = [None] * len(windows)
        self.values: list[Tensor | None] = [None] * len(windows)
        self.length = 0

    # Built from a model, it follows the model's own pattern of local and global layers.
    @classmethod
    def for_model(cls, model: LanguageModel, n_sink: int = 0) -> RollingKVCache:
        """A cache following the model's own pattern, `LMConfig.layer_windows()`."""
        return cls(model.layer_windows(), n_sink)

    # A step appends the new key and value; past the budget, it keeps the first `n_sink` positions
    # and the last `w`.
    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append `k`, `v` `(B, H_kv, 1, D)`, evict beyond the budget, return what is kept."""
        old_k, old_v = self.keys[layer], self.values[layer]
        k_all = k if old_k is None else torch.cat((old_k, k), dim=2)  # (B, H_kv, n + 1, D)
        v_all = v if old_v is None else torch.cat((old_v, v), dim=2)
        w = self.windows[layer]
        if w is not None and k_all.shape[2] > self.n_sink + w:
            s = self.n_sink
            k_all = torch.cat((k_all[:, :, :s], k_all[:, :, -w:]), dim=2)  # (B, H_kv, s + w, D)
            v_all = torch.cat((v_all[:, :, :s], v_all[:, :, -w:]), dim=2)
        self.keys[layer], self.values[layer] = k_all, v_all
        return k_all, v_all

    def memory_bytes(self) -> int:
        """Bytes currently held by keys and values of all layers."""
        return sum(2 * k.numel() * k.element_size() for k in self.keys if k is not None)


# The same visibility as a mask over a full cache, for checking the rolling cache against a plain
# forward pass.
def visible_mask(t: int, window: int | None, n_sink: int = 0) -> Tensor:
    """The `(T, T)` boolean mask equivalent to a rolling cache: causal, and within the window or
    among the first `n_sink` positions.

    >>> visible_mask(5, window=2, n_sink=1).int().tolist()
    [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 1, 1, 0], [1, 0, 0, 1, 1]]
    """
    i = torch.arange(t)[:, None]
    j = torch.arange(t)[None, :]
    allowed = j <= i
    if window is not None:
        allowed = allowed & ((j > i - window) | (j < n_sink))
    return allowed


# The bytes a pattern needs, counted without running anything: tokens stored per layer times the
# bytes of one token's keys and values.
def kv_cache_bytes(
    config: LMConfig,
    seq_len: int,
    *,
    n_sink: int = 0,
    batch_size: int = 1,
    bytes_per_value: int = 2,
) -> int:
    """Bytes of KV cache after `seq_len` tokens, layer by layer: a global layer stores all of them,
    a local one at most `n_sink + sliding_window` (the configuration's pattern)."""
    per_token = 2 * batch_size * config.n_kv_heads * config.head_dim * bytes_per_value
    total = 0
    for w in config.layer_windows():
        stored = seq_len if w is None else min(seq_len, n_sink + w)
        total += stored * per_token
    return total


# ## Measuring
#
# Decode a stream token by token with each cache and read the bytes the tensors really hold.


@torch.no_grad()
def measure_cache_memory(
    model: LanguageModel, n_tokens: int, *, n_sink: int = 4, window: int = 32, seed: int = 0
) -> dict[str, int]:
    """Bytes held after decoding `n_tokens` random tokens with a full static cache, a sliding
    window, a window with sinks, and the model's own local/global pattern."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, model.config.vocab_size, (1, n_tokens), generator=g)
    full = StaticKVCache.for_model(model, 1, n_tokens)
    caches = {
        "full": full,
        "sliding window": RollingKVCache([window] * model.config.n_layers),
        "sinks + window": RollingKVCache([window] * model.config.n_layers, n_sink=n_sink),
        "model pattern": RollingKVCache.for_model(model, n_sink=0),
    }
    # The same tokens go one at a time through each cache; then each reports what it holds.
    for name, cache in caches.items():
        for t in range(n_tokens):
            model.decode(idx[:, t : t + 1], cache)
        caches[name] = cache
    return {name: cache.memory_bytes() for name, cache in caches.items()}
