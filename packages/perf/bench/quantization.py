"""Size, error and forward latency of llm's model at the capstone's size under three int8 schemes.

    uv run python packages/perf/bench/quantization.py [--batch 1] [--seq 64] [--repeat 7]

fp32 (the reference), deploy's from-scratch weight-only int8 (`Int8Linear`), PyTorch's dynamic
int8 (`torch.ao.quantization.quantize_dynamic`, per channel), and weight-only int8 with the fused
`torch._weight_int8pack_mm` kernel (deploy's Q and scales). Embeddings stay fp32 in all three.
Rounds are interleaved so that every variant sees the same machine load.
"""

import argparse
import copy
import statistics

import torch

from masterclass.deploy.quantization import quantize_int8, quantize_weight
from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.perf.profiling import time_step
from masterclass.perf.quantization import (
    Int8PackLinear,
    dynamic_int8,
    relative_error,
    serialized_bytes,
    swap_linears,
)


def capstone_config() -> LMConfig:
    try:
        from masterclass.capstone.config import DEFAULT_PRESET, model_config, preset

        run = preset(DEFAULT_PRESET)
        return model_config(run, run.tokenizer.vocab_size)
    except (ImportError, AttributeError, TypeError):
        return LMConfig.llama(vocab_size=4096, d_model=192, n_layers=4, n_heads=6, max_seq_len=256)


def _pack(linear: torch.nn.Linear) -> Int8PackLinear:
    q, scale = quantize_weight(linear.weight, bits=8)
    return Int8PackLinear(q, scale, linear.bias)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    cfg = capstone_config()
    torch.manual_seed(0)
    model = LanguageModel(cfg).eval()
    idx = torch.randint(0, cfg.vocab_size, (args.batch, args.seq))
    variants = {
        "fp32": model,
        "deploy Int8Linear": quantize_int8(copy.deepcopy(model), embeddings=False),
        "torch dynamic int8": dynamic_int8(model),
        "torch int8pack_mm": swap_linears(copy.deepcopy(model), _pack),
    }
    print(
        f"model d_model={cfg.d_model} n_layers={cfg.n_layers} V={cfg.vocab_size}; B={args.batch} T={args.seq}"
    )
    times = {name: [] for name in variants}
    with torch.no_grad():
        ref = model(idx)
        errors = {name: relative_error(m(idx), ref) for name, m in variants.items()}
        for _ in range(args.repeat):
            for name, m in variants.items():
                times[name].append(time_step(lambda m=m: m(idx), warmup=1, repeat=1))
    base_t, base_b = statistics.median(times["fp32"]), serialized_bytes(model)
    for name, m in variants.items():
        t, b = statistics.median(times[name]), serialized_bytes(m)
        print(
            f"{name:20s} size {b / 2**20:6.2f} MiB ({b / base_b:.3f}x)  rel. error {errors[name]:.1e}"
            f"  forward {t * 1e3:7.2f} ms  speedup {base_t / t:5.2f}x"
        )


if __name__ == "__main__":
    main()
