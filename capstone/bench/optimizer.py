"""Muon against AdamW on the capstone's default model, at the same number of steps.

Trains the model of the given run folder's config (the default preset: `capstone --help`; 16
windows of 256 tokens, clipping at 1.0, in the precision the capstone's config picks for this
machine: bf16 autocast on a CPU with bf16 instructions, fp32 elsewhere, where bf16 is emulated
and a step is some twenty times slower) twice from the same initial weights and the
same batches: once with AdamW for every parameter, once with Muon for the hidden matrices and AdamW for the rest
(`training.optim.Muon`, the capstone's default), both at the default learning rate 3e-3 with a
warmup of 30 steps and a linear decay over the last 20%. It prints the held-out loss of each (20
batches, nats per token and bits per byte at the run's bytes per token). The losses do not depend
on the clock, so a busy machine only makes the script slower.

    uv run capstone run --until data --out runs/bench
    uv run python capstone/bench/optimizer.py runs/bench [--steps 300] [--optimizers adamw muon]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from masterclass.capstone.config import from_dict, loop_config, model_config
from masterclass.capstone.run_folder import RunFolder
from masterclass.infra.shards import TokenShards
from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.loop import TrainConfig, clip_grad_norm, make_optimizer


def _windows(data: np.ndarray, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    starts = rng.integers(0, len(data) - 257, n)
    w = torch.from_numpy(np.stack([data[i : i + 257] for i in starts]).astype(np.int64))
    return w[:, :-1], w[:, 1:]


def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(x).float()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def run(
    optimizer: str, shape: LMConfig, train: np.ndarray, held: np.ndarray, steps: int, bf16: bool
) -> float:
    torch.manual_seed(1337)
    model = LanguageModel(shape)
    config = TrainConfig(steps=steps, warmup=0, lr=3e-3, weight_decay=0.1, optimizer=optimizer)
    opt = make_optimizer(model, config)
    base = [g["lr"] for g in opt.param_groups]
    warmup, decay = 30, int(0.2 * steps)
    rng = np.random.default_rng(0)
    for step in range(steps):
        f = (
            min(1, (step + 1) / warmup)
            if step < steps - decay
            else max(0.1, (steps - step) / decay)
        )
        for g, lr in zip(opt.param_groups, base, strict=True):
            g["lr"] = lr * f
        x, y = _windows(train, 16, rng)
        opt.zero_grad(set_to_none=True)
        _loss(model, x, y, bf16).backward()
        clip_grad_norm(model.parameters(), 1.0)
        opt.step()
    rng = np.random.default_rng(1)
    with torch.no_grad():
        return float(
            np.mean([_loss(model, *_windows(held, 16, rng), bf16).item() for _ in range(20)])
        )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run", type=Path, help="a run folder with its data stage done")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--optimizers", nargs="+", default=["adamw", "muon"])
    args = p.parse_args()
    train = TokenShards(args.run / "data" / "train").to_numpy()
    held = TokenShards(args.run / "data" / "heldout").to_numpy()
    tok = json.loads((args.run / "tokenizer" / "metrics.json").read_text())
    bytes_per_token = tok["bytes_per_token_heldout"]
    # The run's own model size, from the config its folder was made with.
    run_folder = RunFolder.open(args.run)
    cfg = from_dict(run_folder.config)
    config = model_config(cfg, run_folder.load_tokenizer().vocab_size)
    bf16 = loop_config(cfg).autocast == "bf16"
    print(
        f"width {config.d_model}, {config.n_layers} layers, vocabulary {config.vocab_size}, "
        f"{'bf16 autocast' if bf16 else 'fp32'}"
    )
    losses = {}
    for name in args.optimizers:
        losses[name] = loss = run(name, config, train, held, args.steps, bf16)
        bpb = loss / math.log(2) / bytes_per_token
        print(f"{name:<6} {args.steps} steps: held-out {loss:.4f} nats/token, {bpb:.3f} bits/byte")
    if {"adamw", "muon"} <= losses.keys():
        print(f"muon - adamw: {losses['muon'] - losses['adamw']:+.4f} nats/token")


if __name__ == "__main__":
    main()
