r"""# Figure: KV-cache memory of each attention pattern as a stream is decoded

Lines: `kv_cache_bytes` (the formula) for every length up to 1024 tokens. Dots: the bytes the
caches really hold after decoding 128 tokens through the capstone-size model
(`measure_cache_memory`; its vocabulary cut to 256, on which the cache does not depend), labelled
with their KiB, computed when the site is built."""

from dataclasses import replace

import matplotlib.figure

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.memory_patterns import kv_cache_bytes, measure_cache_memory

WINDOW, SINKS, MEASURED_AT = 64, 4, 128


def figure() -> matplotlib.figure.Figure:
    """Cache KiB against tokens decoded, formula and measurement, for four patterns."""
    config = LMConfig.llama(
        vocab_size=256,
        d_model=192,
        n_layers=4,
        n_heads=6,
        n_kv_heads=2,
        sliding_window=WINDOW,
        global_every=2,
    )
    model = LanguageModel(config).eval()
    measured = measure_cache_memory(model, MEASURED_AT, n_sink=SINKS, window=WINDOW)
    # The formula's configuration for each pattern (float32: 4 bytes per value).
    patterns = {
        "full": (replace(config, sliding_window=None, global_every=None), 0),
        "sliding window": (replace(config, global_every=None), 0),
        "sinks + window": (replace(config, global_every=None), SINKS),
        "model pattern": (config, 0),
    }
    labels = {"model pattern": "local/global, 1:1"}
    lengths = list(range(1, 1025, 8))
    fig = matplotlib.figure.Figure(figsize=(7, 3.8))
    ax = fig.add_subplot()
    notes = []
    for name, (cfg, sinks) in patterns.items():
        kib = [kv_cache_bytes(cfg, t, n_sink=sinks, bytes_per_value=4) / 1024 for t in lengths]
        (line,) = ax.plot(lengths, kib, label=labels.get(name, name))
        got = measured[name] / 1024
        ax.plot([MEASURED_AT], [got], "o", color=line.get_color())
        notes.append(f"{labels.get(name, name)}: {got:g} KiB")
    # The measured numbers as text (the dots sit too close together to label one by one).
    ax.text(
        0.02,
        0.6,
        f"measured after {MEASURED_AT} tokens:\n" + "\n".join(notes),
        transform=ax.transAxes,
        fontsize=8,
        va="top",
    )
    ax.set_xlabel("tokens decoded")
    ax.set_ylabel("KiB of keys and values")
    ax.set_title(
        f"4 layers, 2 KV heads of 32 dims, fp32; window {WINDOW}, {SINKS} sinks "
        f"(dots: measured at {MEASURED_AT})",
        fontsize=9,
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
