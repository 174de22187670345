r"""# Exercises: Memory attention patterns: sliding windows, attention sinks, local/global layers

The mask a rolling cache implies, how far information travels through stacked windows, and the
bytes each pattern stores."""

from dataclasses import replace

import torch

from masterclass.llm.config import LMConfig
from masterclass.llm.memory_patterns import kv_cache_bytes, visible_mask


def solution_1_sink_window_mask(t: int, window: int, n_sink: int) -> torch.Tensor:
    r"""Query $i$ sees key $j$ when $j \le i$ and ($i - w < j$ or $j < s$)."""
    i = torch.arange(t)[:, None]
    j = torch.arange(t)[None, :]
    return (j <= i) & ((j > i - window) | (j < n_sink))


def check_1_sink_window_mask(fn) -> None:
    """Compare with the chapter's `visible_mask`, the mask under which its rolling cache decodes."""
    for t, window, n_sink in [(5, 2, 1), (8, 3, 0), (10, 4, 2), (6, 6, 0), (7, 1, 3)]:
        got = torch.as_tensor(fn(t, window, n_sink)).bool()
        want = visible_mask(t, window, n_sink)
        assert torch.equal(got, want), (
            f"T={t}, w={window}, s={n_sink}: got\n{got.int()}\nwant\n{want.int()}"
        )


def solution_2_receptive_field(n_layers: int, window: int) -> int:
    r"""Each layer moves information at most $w - 1$ positions forward: $L(w - 1)$ in all."""
    return n_layers * (window - 1)


def check_2_receptive_field(fn) -> None:
    """Compose the window mask layer by layer (boolean matrix products) and measure how far back
    the last position's output can depend on the input."""
    for n_layers, window in [(1, 4), (2, 4), (3, 5), (4, 2), (2, 1)]:
        t = n_layers * window + 5
        step = visible_mask(t, window).double()
        reach = torch.eye(t, dtype=torch.float64)
        for _ in range(n_layers):
            reach = ((step @ reach) > 0).double()  # (T, T): output i depends on input j
        want = t - 1 - int(reach[-1].nonzero().min())
        got = fn(n_layers, window)
        assert got == want, (
            f"L={n_layers}, w={window}: got {got}, the composed masks reach {want} positions back"
        )


def solution_3_cache_bytes(
    n_layers: int,
    n_kv_heads: int,
    head_dim: int,
    seq_len: int,
    window: int,
    n_sink: int,
    global_every: int | None,
    bytes_per_value: int,
) -> int:
    r"""Each layer stores $\min(T, s + w)$ positions if local, $T$ if global (every
    `global_every`-th), times $2 H_{kv} D$ values."""
    total = 0
    for layer in range(n_layers):
        is_global = global_every is not None and (layer + 1) % global_every == 0
        stored = seq_len if is_global else min(seq_len, n_sink + window)
        total += stored * 2 * n_kv_heads * head_dim * bytes_per_value
    return total


def check_3_cache_bytes(fn) -> None:
    """Compare with the chapter's `kv_cache_bytes` for windowed and local/global configurations."""
    base = LMConfig.llama(d_model=64, n_layers=6, n_heads=4, n_kv_heads=2)
    cases = [(512, 64, 4, None, 2), (512, 64, 0, 2, 4), (40, 64, 4, 3, 2), (1000, 16, 8, 6, 1)]
    for seq_len, window, n_sink, every, nbytes in cases:
        cfg = replace(base, sliding_window=window, global_every=every)
        want = kv_cache_bytes(cfg, seq_len, n_sink=n_sink, bytes_per_value=nbytes)
        got = fn(6, 2, 16, seq_len, window, n_sink, every, nbytes)
        assert got == want, (
            f"T={seq_len}, w={window}, s={n_sink}, global_every={every}: got {got}, want {want}"
        )
