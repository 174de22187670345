"""Saved bytes, peak RSS and step time of the capstone's model, plain against checkpointed.

    uv run python packages/perf/bench/memory.py [--batch 8]

Builds llm's model at the capstone's default size, runs one forward+backward with and without
per-block checkpointing, and prints the ratios measured in this run.
"""

import argparse
import copy
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg = capstone_config()
    T = cfg.max_seq_len
    plain = LanguageModel(cfg)
    ckpt = copy.deepcopy(plain)
    for i, block in enumerate(ckpt.blocks):
        ckpt.blocks[i] = checkpoint_module(block)
    idx = torch.randint(0, cfg.vocab_size, (args.batch, T))
    y = torch.randint(0, cfg.vocab_size, (args.batch, T))
    formula = decoder_saved_bytes(cfg, args.batch, T)
    print(
        f"model: d_model={cfg.d_model} n_layers={cfg.n_layers} V={cfg.vocab_size}, B={args.batch}, T={T}"
    )
    rows = {}
    for name, model in (("plain", plain), ("checkpointed", ckpt)):

        def step(model=model):
            with SavedTensorCounter(model.parameters()) as counter:
                _, loss = model(idx, y)
            loss.backward()
            model.zero_grad(set_to_none=True)
            return counter.bytes

        step()  # warm-up: allocator pools and first-call costs
        peak, saved = peak_rss_during(step)
        t0 = time.perf_counter()
        for _ in range(3):
            step()
        rows[name] = (saved, peak, (time.perf_counter() - t0) / 3)
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
