"""Saved bytes, peak RSS and step time of the capstone's model, plain against checkpointed.

    uv run python packages/perf/bench/memory.py [--batch 8]

Builds llm's model at the capstone's default size, runs one forward+backward with and without
per-block checkpointing, and prints the ratios measured in this run.

Each variant is measured in a fresh process of its own (Linux, glibc), after its free memory
is handed back to the system: memory a step freed may stay resident in the C allocator's pools,
so a later step, or a second variant measured in the same process, reuses those pages and its
resident size hardly grows (a peak of +0 MiB for the checkpointed model, measured so).
"""

import argparse
import ctypes
import ctypes.util
import multiprocessing as mp
import time

import torch

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.perf.memory import (
    SavedTensorCounter,
    checkpoint_module,
    decoder_saved_bytes,
    peak_rss_during,
)


def capstone_config() -> LMConfig:
    try:
        from masterclass.capstone.config import DEFAULT_PRESET, model_config, preset

        run = preset(DEFAULT_PRESET)
        return model_config(run, run.tokenizer.vocab_size)
    except (ImportError, AttributeError, TypeError):
        return LMConfig.llama(vocab_size=2048, d_model=128, n_layers=4, n_heads=2, max_seq_len=256)


def measure(name: str, batch: int) -> tuple[int, int, float]:
    """(bytes saved for backward, peak RSS growth, median seconds of 5 steps) of one variant."""
    torch.manual_seed(0)
    cfg = capstone_config()
    model = LanguageModel(cfg)
    if name == "checkpointed":
        for i, block in enumerate(model.blocks):
            model.blocks[i] = checkpoint_module(block)
    idx = torch.randint(0, cfg.vocab_size, (batch, cfg.max_seq_len))
    y = torch.randint(0, cfg.vocab_size, (batch, cfg.max_seq_len))

    def step():
        with SavedTensorCounter(model.parameters()) as counter:
            _, loss = model(idx, y)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return counter.bytes

    # After the warm-up the C allocator keeps some freed pages resident and returns others, as
    # it sees fit, so the next step's growth would depend on that history: glibc's
    # `malloc_trim(0)` hands every free page back first, and the step's growth is then what it
    # needs. (Without it, or measured on the first step, the numbers move between runs.)
    step()  # warm-up: first-call costs (kernel choices, caches), the gradients' own memory
    ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
    peak, saved = peak_rss_during(step)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return saved, peak, sorted(times)[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    cfg = capstone_config()
    T = cfg.max_seq_len
    formula = decoder_saved_bytes(cfg, args.batch, T)
    print(
        f"model: d_model={cfg.d_model} n_layers={cfg.n_layers} V={cfg.vocab_size}, B={args.batch}, T={T}"
    )
    rows = {}
    with mp.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        for name in ("plain", "checkpointed"):
            rows[name] = pool.apply(measure, (name, args.batch))
    print(f"formula: total {formula['total']:,} B, checkpointed {formula['checkpointed']:,} B")
    for name, (saved, peak, sec) in rows.items():
        print(
            f"{name:13s} saved {saved / 2**20:8.2f} MiB  peak RSS +{peak / 2**20:8.2f} MiB  step {sec * 1e3:7.1f} ms"
        )
    (s0, p0, t0), (s1, p1, t1) = rows["plain"], rows["checkpointed"]
    print(
        f"checkpointed / plain: saved bytes {s1 / s0:.3f}, peak RSS {p1 / p0:.3f}, step time {t1 / t0:.3f}"
    )


if __name__ == "__main__":
    main()
