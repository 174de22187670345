"""TTFT and inter-token latency against batching policy, prefix caching and threads.

Run: `python packages/deploy/bench/latency.py [--run RUN_DIR] [--requests 16] [--tokens 16]`.
A burst of requests (half of them sharing a 128-token system prompt) is driven through the
engine with the wall clock (`latency.measure_latency`); every row is measured in the same run,
and the ratios are against the first row (max_batch 1, no prefix caching, default threads).
"""

import argparse

import torch

from masterclass.deploy.batching import Engine
from masterclass.deploy.latency import measure_latency
from masterclass.deploy.server import load_run
from masterclass.llm import LanguageModel, LMConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=None)
    p.add_argument("--requests", type=int, default=16)
    p.add_argument("--tokens", type=int, default=16)
    a = p.parse_args()
    if a.run:
        model = load_run(a.run)[0]
    else:
        torch.manual_seed(0)
        cfg = LMConfig.llama(vocab_size=4096, d_model=192, n_layers=4, n_heads=6, max_seq_len=512)
        model = LanguageModel(cfg).eval()
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    system = torch.randint(0, V, (128,), generator=g).tolist()
    prompts = [
        (system if i % 2 else []) + torch.randint(0, V, (16,), generator=g).tolist()
        for i in range(a.requests)
    ]
    default_threads = torch.get_num_threads()
    rows = [
        ("max_batch=1", 1, False, default_threads),
        ("max_batch=8", 8, False, default_threads),
        ("max_batch=32", 32, False, default_threads),
        ("max_batch=32 + prefix cache", 32, True, default_threads),
        ("max_batch=32 + prefix, 1 thread", 32, True, 1),
    ]
    print(f"{a.requests} requests x {a.tokens} tokens, burst arrival; ms; ratios vs the first row")
    print(
        f"{'policy':<34}{'TTFT p50':>10}{'TTFT p99':>10}{'ITL p50':>10}{'ITL p99':>10}"
        f"{'tok/s':>8}{'TTFT x':>8}"
    )
    first = None
    for label, batch, prefix, threads in rows:
        torch.set_num_threads(threads)
        engine = Engine(
            model, num_blocks=1024, block_size=16, max_batch=batch, prefix_caching=prefix
        )
        measure_latency(engine, prompts[:2], 2)  # warm-up
        s = measure_latency(engine, prompts, a.tokens).summary()
        first = first or s
        print(
            f"{label:<34}{s['ttft_p50'] * 1e3:>10.1f}{s['ttft_p99'] * 1e3:>10.1f}"
            f"{s['itl_p50'] * 1e3:>10.1f}{s['itl_p99'] * 1e3:>10.1f}{s['tokens_per_time']:>8.0f}"
            f"{first['ttft_p50'] / s['ttft_p50']:>8.2f}"
        )
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
