"""What each training-throughput change buys, on the capstone's default model.

One optimizer step of the default preset's model and optimizer (`capstone --help` names its size;
Muon for the hidden matrices, the preset's batch of 256-token windows) is timed under each variant, and the ratio
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
- `width 192, vocab 4096`: the default before `bench/preset.py` measured a smaller one, in bf16;
- `bf16 + torch.compile` and `1 thread, bf16 + torch.compile`: the loss (the model's forward and
  the cross-entropy, and with it their backward) compiled by Inductor, which fuses the casts and
  element-wise chains into C++ loops; its first step pays the compilation. The first compiled
  variant compiles cold (a fresh Inductor cache, as on a user's first run), the second finds the
  generated code on disk (as a second run would);
- `fp32 + torch.compile` and `1 thread, fp32 + torch.compile`: the same without autocast, what
  the capstone trains with on a CPU without bf16 instructions (most laptops' AVX2), where every
  bf16 row is some twenty times slower: there, time only the fp32 rows with `--variants`;
- `fp32, Newton-Schulz in bf16`: Muon's orthogonalisation in bfloat16 whatever the chip, as
  `torch.optim.Muon` does (`training.optim.Muon` picks bf16 only where `native_bf16` says the
  chip multiplies it fast, float32 elsewhere), the rest as `fp32`.

With `--profile`, each variant's timed steps are followed by one profiled step
(`masterclass.perf.profiling.profile_step`): the operators by self CPU time, with their input
shapes, which is how the Newton-Schulz row was found.

Every row also prints its first step, which holds the one-time costs (allocations, oneDNN's
kernel choices, and for the compiled rows the compilation).

    uv run python capstone/bench/throughput.py [--steps 12] [--variants NAME ...] [--profile]

Ratios are to the first variant timed (`bf16` by default).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time

# A fresh Inductor cache, so the first compiled variant pays what a first run pays.
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")

import torch

from masterclass.capstone.config import build_config, loop_config, model_config
from masterclass.llm import LanguageModel
from masterclass.perf.profiling import profile_step
from masterclass.training.loop import (
    _loss,
    clip_grad_norm,
    compiled_loss,
    make_optimizer,
)
from masterclass.transformer.feedforward import ACTIVATIONS

# name -> (threads: 0 for torch's count, bf16 autocast?, torch.compile?, `--set` overrides of the
# default preset)
VARIANTS: dict[str, tuple[int, bool, bool, list[str]]] = {
    "bf16": (0, True, False, []),
    "formula activations": (0, True, False, []),
    "fp32": (0, False, False, []),
    "1 thread, bf16": (1, True, False, []),
    "1 thread, fp32": (1, False, False, []),
    "4 heads of 32, bf16": (0, True, False, ["model.n_heads=4"]),
    "width 192, vocab 4096": (
        0,
        True,
        False,
        ["model.d_model=192", "model.n_heads=6", "tokenizer.vocab_size=4096"],
    ),
    "bf16 + torch.compile": (0, True, True, []),
    "1 thread, bf16 + torch.compile": (1, True, True, []),
    "fp32 + torch.compile": (0, False, True, []),
    "1 thread, fp32 + torch.compile": (1, False, True, []),
    "fp32, Newton-Schulz in bf16": (0, False, False, []),
}


def _step_seconds(variant: str, steps: int, profile: bool = False) -> tuple[float, float, float]:
    _, bf16, compiled, sets = VARIANTS[variant]
    cfg = build_config(sets=sets)
    vocab = cfg.tokenizer.vocab_size
    torch.manual_seed(0)
    model = LanguageModel(model_config(cfg, vocab))
    if variant == "formula activations":
        for block in model.blocks:
            block.ffn.act = ACTIVATIONS["silu"]
    opt = make_optimizer(model, loop_config(cfg))
    if variant == "fp32, Newton-Schulz in bf16":
        opt.ns_dtype = torch.bfloat16
    autocast = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    )
    loss_fn = _loss
    if compiled:
        # The loop's own compiled loss (`training.loop.compiled_loss`), compiled anew for each
        # compiled variant: `reset` drops the graphs of the last.
        torch._dynamo.reset()
        loss_fn = compiled_loss()
    g = torch.Generator().manual_seed(0)

    def step() -> None:
        w = torch.randint(0, vocab, (cfg.train.batch_size, cfg.model.max_seq_len + 1), generator=g)
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_fn(model, w[:, :-1], w[:, 1:])
        loss.backward()
        float(clip_grad_norm(model.parameters(), 1.0))
        opt.step()

    walls, cpus = [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    if profile:
        prof = profile_step(step, warmup=0, row_limit=8)
        print(
            f"# {variant}: one step profiled, {prof.matmul_flops / 1e9:.1f} GFLOP in matrix"
            f" products, {prof.cpu_time_us / 1e6:.3f} s of CPU; operators by self CPU time"
        )
        print(prof.table)
    # The first steps allocate and let oneDNN pick its kernels (and compile): medians of the rest.
    first = walls[0]
    walls, cpus = sorted(walls[3:]), sorted(cpus[3:])
    return walls[len(walls) // 2], cpus[len(cpus) // 2], first


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=12)
    p.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=[v for v in VARIANTS if not v.startswith(("fp32 +", "1 thread, fp32 +", "fp32,"))],
        metavar="NAME",
        help="rows to time, in this order: " + ", ".join(map(repr, VARIANTS)),
    )
    p.add_argument("--profile", action="store_true", help="profile one step of each variant")
    args = p.parse_args()
    threads = torch.get_num_threads()
    rows = {}
    for variant in args.variants:
        torch.set_num_threads(VARIANTS[variant][0] or threads)
        rows[variant] = _step_seconds(variant, args.steps, args.profile)
    torch.set_num_threads(threads)
    wall0, cpu0, _ = rows[args.variants[0]]
    print(
        f"threads {threads}; seconds per step (wall, cpu) and ratio to {args.variants[0]};"
        " the first step"
    )
    for variant, (wall, cpu, first) in rows.items():
        print(
            f"{variant:<30} wall {wall:.3f} s ({wall / wall0:.2f}x)  cpu {cpu:.3f} s"
            f" ({cpu / cpu0:.2f}x)  first {first:5.1f} s"
        )


if __name__ == "__main__":
    main()
