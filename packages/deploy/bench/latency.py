"""TTFT and inter-token latency against batching policy, prefix caching, threads and backend.

Run: `python packages/deploy/bench/latency.py [--run RUN_DIR] [--requests 16] [--tokens 16]`.
A burst of requests (half of them sharing a 128-token system prompt) is driven through the
engine with the wall clock (`latency.measure_latency`); every row is measured in the same run,
and the ratios are against the first row (max_batch 1, no prefix caching, default threads).
The last rows run the same engine on onnxruntime (`llm_export.OnnxRaggedForward`, the server's
`--backend onnx`) with its graph optimization level and intra-op threads varied.
"""

import argparse
import tempfile
from pathlib import Path

import torch

from masterclass.deploy.batching import Engine
from masterclass.deploy.latency import measure_latency
from masterclass.deploy.llm_export import OnnxRaggedForward, export_ragged_onnx
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
    # (label, max_batch, prefix caching, threads, backend: None = PyTorch, else (ORT level))
    rows = [
        ("max_batch=1", 1, False, default_threads, None),
        ("max_batch=8", 8, False, default_threads, None),
        ("max_batch=32", 32, False, default_threads, None),
        ("max_batch=32 + prefix cache", 32, True, default_threads, None),
        ("max_batch=32 + prefix, 1 thread", 32, True, 1, None),
        ("ORT all opts, 1 thread", 32, True, 1, "all"),
        ("ORT all opts, default threads", 32, True, default_threads, "all"),
        ("ORT basic opts, 1 thread", 32, True, 1, "basic"),
        ("ORT no opts, 1 thread", 32, True, 1, "disable"),
    ]
    print(f"{a.requests} requests x {a.tokens} tokens, burst arrival; ms; ratios vs the first row")
    print(
        f"{'policy':<34}{'TTFT p50':>10}{'TTFT p99':>10}{'ITL p50':>10}{'ITL p99':>10}"
        f"{'tok/s':>8}{'TTFT x':>8}"
    )
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        graph = export_ragged_onnx(model, Path(tmp) / "step.onnx")  # once, for every ORT row
        for label, batch, prefix, threads, level in rows:
            torch.set_num_threads(threads)
            forward = None
            if level is not None:
                forward = OnnxRaggedForward(graph, threads=threads, optimization=level)
            engine = Engine(
                model,
                num_blocks=1024,
                block_size=16,
                max_batch=batch,
                prefix_caching=prefix,
                forward=forward,
            )
            measure_latency(engine, prompts[:2], 2)  # warm-up
            s = measure_latency(engine, prompts, a.tokens).summary()
            first = first or s
            print(
                f"{label:<34}{s['ttft_p50'] * 1e3:>10.1f}{s['ttft_p99'] * 1e3:>10.1f}"
                f"{s['itl_p50'] * 1e3:>10.1f}{s['itl_p99'] * 1e3:>10.1f}"
                f"{s['tokens_per_time']:>8.0f}{first['ttft_p50'] / s['ttft_p50']:>8.2f}",
                flush=True,
            )
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
