"""What each training-throughput change buys, on the capstone's default model.

One optimizer step of the default preset's model and optimizer (`capstone --help` names its size;
Muon for the hidden matrices, 16 windows of 256 tokens) is timed under each variant, and the ratio
to the first is printed. Two clocks: wall time, which is what the time budget pays, and the
process's CPU time, which a busy neighbour disturbs less (it still shares caches). Every variant
uses the loop's own loss (`training.loop`'s cross-entropy in float32) and gradient clipping.

- `bf16`: bf16 autocast with the intra-op threads torch chose (what `capstone run` trains with
  where the time plan finds bf16 faster, as on a CPU with AMX);
- `formula activations`: Module 3's SiLU written from its formula instead of torch's fused kernel;
- `fp32`: no autocast;
- `1 thread, bf16` and `1 thread, fp32`: `torch.set_num_threads(1)`, the time plan's other choice;
- `4 heads of 32, bf16`: the default's width in four narrower heads (torch's fused CPU attention
  is slower in bf16 at head width 32);
- `width 192, vocab 4096`: the default before `bench/preset.py` measured a smaller one, in bf16.

    uv run python capstone/bench/throughput.py [--steps 12]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from masterclass.capstone.config import build_config, loop_config, model_config
from masterclass.llm import LanguageModel
from masterclass.training.loop import _loss, clip_grad_norm, make_optimizer
from masterclass.transformer.feedforward import ACTIVATIONS

# name -> (threads: 0 for torch's count, bf16 autocast?, `--set` overrides of the default preset)
VARIANTS: dict[str, tuple[int, bool, list[str]]] = {
    "bf16": (0, True, []),
    "formula activations": (0, True, []),
    "fp32": (0, False, []),
    "1 thread, bf16": (1, True, []),
    "1 thread, fp32": (1, False, []),
    "4 heads of 32, bf16": (0, True, ["model.n_heads=4"]),
    "width 192, vocab 4096": (
        0,
        True,
        ["model.d_model=192", "model.n_heads=6", "tokenizer.vocab_size=4096"],
    ),
}


def _step_seconds(variant: str, steps: int) -> tuple[float, float]:
    _, bf16, sets = VARIANTS[variant]
    cfg = build_config(sets=sets)
    vocab = cfg.tokenizer.vocab_size
    torch.manual_seed(0)
    model = LanguageModel(model_config(cfg, vocab))
    if variant == "formula activations":
        for block in model.blocks:
            block.ffn.act = ACTIVATIONS["silu"]
    opt = make_optimizer(model, loop_config(cfg))
    autocast = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    )
    g = torch.Generator().manual_seed(0)
    walls, cpus = [], []
    for _ in range(steps):
        w = torch.randint(0, vocab, (cfg.train.batch_size, cfg.model.max_seq_len + 1), generator=g)
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
    for variant, (n, _, _) in VARIANTS.items():
        torch.set_num_threads(n or threads)
        rows[variant] = _step_seconds(variant, args.steps)
    torch.set_num_threads(threads)
    wall0, cpu0 = rows["bf16"]
    print(f"threads {threads}; seconds per step (wall, cpu) and ratio to bf16")
    for variant, (wall, cpu) in rows.items():
        print(
            f"{variant:<22} wall {wall:.3f} s ({wall / wall0:.2f}x)  cpu {cpu:.3f} s ({cpu / cpu0:.2f}x)"
        )


if __name__ == "__main__":
    main()
