"""Forward latency of llm's model at the capstone's size: dense, L1-masked, and FFN channels removed.

    uv run python packages/perf/bench/pruning.py [--batch 4] [--repeat 7]

Unstructured pruning (50% of every linear weight zeroed by `prune.l1_unstructured`) leaves dense
matrices of the same size; removing half of every FFN's hidden units makes them smaller. Each
variant's logits are compared with the matching dense model before timing, rounds interleaved.
"""

import argparse
import copy
import statistics

import torch
from torch.nn.utils import prune

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.perf.profiling import time_step
from masterclass.perf.pruning import remove_ffn_channels


def capstone_config() -> LMConfig:
    try:
        from masterclass.capstone.config import DEFAULT_PRESET, model_config, preset

        run = preset(DEFAULT_PRESET)
        return model_config(run, run.tokenizer.vocab_size)
    except (ImportError, AttributeError, TypeError):
        return LMConfig.llama(vocab_size=4096, d_model=192, n_layers=4, n_heads=6, max_seq_len=256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    cfg = capstone_config()
    torch.manual_seed(0)
    dense = LanguageModel(cfg).eval()
    idx = torch.randint(0, cfg.vocab_size, (args.batch, cfg.max_seq_len))

    masked = copy.deepcopy(dense)
    for m in masked.modules():
        if isinstance(m, torch.nn.Linear):
            prune.l1_unstructured(m, "weight", amount=0.5)
            prune.remove(m, "weight")

    zeroed, removed = copy.deepcopy(dense), copy.deepcopy(dense)
    for block, small in zip(zeroed.blocks, removed.blocks, strict=True):
        prune.ln_structured(block.ffn.up, "weight", amount=0.5, n=2, dim=0)
        keep = block.ffn.up.weight_mask[:, 0].nonzero().flatten()
        prune.remove(block.ffn.up, "weight")
        remove_ffn_channels(small.ffn, keep)
    with torch.no_grad():
        diff = (removed(idx) - zeroed(idx)).abs().max().item()
    print(
        f"model d_model={cfg.d_model} n_layers={cfg.n_layers} d_ff={cfg.d_ff}; B={args.batch} T={cfg.max_seq_len}"
    )
    print(f"channels removed vs channels zeroed: max |logit diff| = {diff:.1e}")
    assert diff < 1e-4

    variants = {"dense": dense, "L1 unstructured 50%": masked, "FFN channels removed 50%": removed}
    times = {name: [] for name in variants}
    with torch.no_grad():
        for _ in range(args.repeat):
            for name, model in variants.items():
                times[name].append(time_step(lambda model=model: model(idx), warmup=1, repeat=1))
    base = statistics.median(times["dense"])
    for name, t in times.items():
        n = sum(p.numel() for p in variants[name].parameters())
        sec = statistics.median(t)
        print(f"{name:26s} params {n:>9,}  forward {sec * 1e3:7.1f} ms  speedup {base / sec:5.2f}x")


if __name__ == "__main__":
    main()
