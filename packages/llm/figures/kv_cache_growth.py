r"""# Figure: KV cache memory during decoding, static vs paged

Eight sequences with different final lengths decoded together; memory measured from the caches."""

import matplotlib.figure

from masterclass.llm.kv_cache import PagedKVCache, StaticKVCache


def figure() -> matplotlib.figure.Figure:
    """Bytes held at each step: the static cache's reservation vs the paged cache's blocks."""
    L, H, D, max_len, block = 2, 2, 16, 256, 16
    finals = [40, 64, 90, 120, 150, 180, 220, 256]  # the length at which each sequence stops
    static = StaticKVCache(L, len(finals), H, max_len, D).memory_bytes()
    # One paged cache per sequence (each may stop on its own); memory is the sum of held blocks.
    caches = [
        PagedKVCache(L, 1, H, D, num_blocks=max_len // block, block_size=block) for _ in finals
    ]
    import torch

    steps, paged, live = [], [], []
    for t in range(1, max_len + 1):
        for cache, final in zip(caches, finals):
            if t <= final:
                k = torch.zeros(1, H, 1, D)
                for layer in range(L):
                    cache.update(layer, k, k)
                cache.advance(1)
            elif t == final + 1:
                cache.free()
        steps.append(t)
        paged.append(sum(c.memory_bytes() for c in caches) / 1024)
        live.append(sum(min(t, f) if t <= f else 0 for f in finals) * 2 * L * H * D * 4 / 1024)
    fig = matplotlib.figure.Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    ax.plot(steps, [static / 1024] * len(steps), label="static: reserved up front")
    ax.plot(steps, paged, label=f"paged: blocks of {block} held")
    ax.plot(steps, live, "--", label="keys and values of live tokens")
    ax.set_xlabel("decoding step")
    ax.set_ylabel("KiB")
    ax.set_title("KV cache memory, 8 sequences, 2 layers, 2 KV heads, D = 16, fp32")
    ax.legend()
    fig.tight_layout()
    return fig
