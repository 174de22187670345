"""What each training-throughput change buys, on the capstone's default model.

One optimizer step of the default preset's model (width 192, 4 layers, vocabulary 4096, 16
windows of 256 tokens) is timed under each variant, and the ratio to the capstone's default is
printed. Two clocks: wall time, which is what the time budget pays, and the process's CPU time,
which a busy neighbour disturbs less (it still shares caches). Every variant uses the loop's own
loss (`training.loop`'s cross-entropy in float32) and gradient clipping.

- `default`: what `capstone run` trains with (fused activations, bf16 autocast, the library's AdamW,
  the intra-op threads torch chose);
- `formula activations`: Module 3's SiLU written from its formula instead of torch's fused kernel;
- `fp32`: no autocast;
- `1 thread`: `torch.set_num_threads(1)`.

    uv run python capstone/bench/throughput.py [--steps 12]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.loop import _loss, clip_grad_norm
from masterclass.training.optim import AdamW, param_groups_for_weight_decay
from masterclass.transformer.feedforward import ACTIVATIONS


def _step_seconds(variant: str, steps: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = LanguageModel(LMConfig.llama(vocab_size=4096, d_model=192, n_layers=4, n_heads=6))
    if variant == "formula activations":
        for block in model.blocks:
            block.ffn.act = ACTIVATIONS["silu"]
    opt = AdamW(param_groups_for_weight_decay(model, 0.1), lr=1e-3, betas=(0.9, 0.95))
    autocast = (
        contextlib.nullcontext
        if variant == "fp32"
        else lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    )
    g = torch.Generator().manual_seed(0)
    walls, cpus = [], []
    for _ in range(steps):
        w = torch.randint(0, 4096, (16, 257), generator=g)
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = _loss(model, w[:, :-1], w[:, 1:])
        loss.backward()
        float(clip_grad_norm(model.parameters(), 1.0))
        opt.step()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    # The first steps allocate and let oneDNN pick its kernels: medians of the rest.
    walls, cpus = sorted(walls[3:]), sorted(cpus[3:])
    return walls[len(walls) // 2], cpus[len(cpus) // 2]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=12)
    args = p.parse_args()
    threads = torch.get_num_threads()
    rows = {}
    for variant in ("default", "formula activations", "fp32", "1 thread"):
        torch.set_num_threads(1 if variant == "1 thread" else threads)
        rows[variant] = _step_seconds(variant, args.steps)
    wall0, cpu0 = rows["default"]
    print(f"threads {threads}; seconds per step (wall, cpu) and ratio to default")
    for variant, (wall, cpu) in rows.items():
        print(
            f"{variant:<20} wall {wall:.3f} s ({wall / wall0:.2f}x)  cpu {cpu:.3f} s ({cpu / cpu0:.2f}x)"
        )


if __name__ == "__main__":
    main()
