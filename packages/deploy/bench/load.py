"""Load test on loopback: N requests at concurrency C, mixed streaming and not, against the server.

Run: `python packages/deploy/bench/load.py [--run RUN_DIR] [--requests 1000] [--concurrency 32]`.
Starts the server in this process on a free 127.0.0.1 port (a tiny random model unless `--run`),
fires the requests with httpx's async client, and prints errors, p50/p99 latency, time to first
token of the streamed ones, throughput, and the KV blocks still held afterwards (must be 0).
"""

import argparse
import asyncio
import random
import time

import httpx
import numpy as np
import torch

from masterclass.deploy.server import build_slots, create_app, load_run, server_in_thread
from masterclass.llm import LanguageModel, LMConfig
from masterclass.nlp.bpe import BPETokenizer


async def _one(client, url, i, tokens, rng) -> tuple[bool, float, float | None, bool]:
    stream = i % 2 == 0
    body = {
        "model": "capstone",
        "prompt": f"request {i}: " + "abc " * rng.randint(1, 20),
        "max_tokens": tokens,
        "temperature": 0 if i % 3 else 0.8,
        "stream": stream,
    }
    t0 = time.perf_counter()
    ttft = None
    try:
        if stream:
            async with client.stream("POST", url + "/v1/completions", json=body) as r:
                ok = r.status_code == 200
                done = False
                async for line in r.aiter_lines():
                    if line.startswith("data: ") and ttft is None:
                        ttft = time.perf_counter() - t0
                    done = done or line == "data: [DONE]"
                ok = ok and done
        else:
            r = await client.post(url + "/v1/completions", json=body)
            ok = r.status_code == 200 and "choices" in r.json()
    except httpx.HTTPError:
        ok = False
    return ok, time.perf_counter() - t0, ttft, stream


async def _run(url, n, concurrency, tokens) -> tuple[list, float]:
    sem = asyncio.Semaphore(concurrency)
    rng = random.Random(0)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def guarded(i):
            async with sem:
                return await _one(client, url, i, tokens, rng)

        t = time.perf_counter()
        results = await asyncio.gather(*(guarded(i) for i in range(n)))
        return results, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=None, help="a finished capstone run folder")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--tokens", type=int, default=16)
    a = p.parse_args()
    if a.run:
        model, tok = load_run(a.run)
    else:
        torch.manual_seed(0)
        tok = BPETokenizer([bytes([i]) for i in range(256)], {"<|endoftext|>": 256})
        cfg = LMConfig.llama(vocab_size=257, d_model=64, n_layers=2, n_heads=4, max_seq_len=512)
        model = LanguageModel(cfg).eval()
    slots = build_slots({"capstone": (model, tok)}, num_blocks=512, block_size=16, max_batch=32)
    app = create_app(slots)
    with server_in_thread(app) as url:
        results, wall = asyncio.run(_run(url, a.requests, a.concurrency, a.tokens))
        engine = slots["capstone"].engine
        time.sleep(0.5)
        held = engine.blocks.report().used_blocks
        steps, gen = engine.steps, engine.tokens_generated
    lat = np.array([r[1] for r in results])
    ttft = np.array([r[2] for r in results if r[2] is not None])
    errors = sum(not r[0] for r in results)
    print(
        f"{a.requests} requests, concurrency {a.concurrency}, {a.tokens} max tokens, "
        f"half streamed; model {model.num_parameters() / 1e6:.2f} M parameters"
    )
    print(f"errors: {errors}")
    print(
        f"latency p50 {np.percentile(lat, 50) * 1e3:.1f} ms, p99 {np.percentile(lat, 99) * 1e3:.1f} ms"
    )
    print(
        f"time to first token (streamed) p50 {np.percentile(ttft, 50) * 1e3:.1f} ms, "
        f"p99 {np.percentile(ttft, 99) * 1e3:.1f} ms"
    )
    print(
        f"throughput {a.requests / wall:.1f} requests/s, {gen / wall:.0f} generated tokens/s "
        f"({gen / max(steps, 1):.1f} tokens per engine step)"
    )
    print(f"KV blocks held after the run: {held}")


if __name__ == "__main__":
    main()
