"""Muon against AdamW on the capstone's default model, at the same number of steps.

Trains the default preset's model (width 192, 4 layers, vocabulary 4096, 16 windows of 256
tokens, bf16 autocast, clipping at 1.0) twice from the same initial weights and the same batches:
once with AdamW for every parameter, once with Muon for the hidden matrices and AdamW for the rest
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

from masterclass.infra.shards import TokenShards
from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.loop import TrainConfig, clip_grad_norm, make_optimizer


def _windows(data: np.ndarray, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    starts = rng.integers(0, len(data) - 257, n)
    w = torch.from_numpy(np.stack([data[i : i + 257] for i in starts]).astype(np.int64))
    return w[:, :-1], w[:, 1:]


def _loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return F.cross_entropy(model(x).float().reshape(-1, 4096), y.reshape(-1))


def run(optimizer: str, train: np.ndarray, held: np.ndarray, steps: int) -> float:
    torch.manual_seed(1337)
    model = LanguageModel(LMConfig.llama(vocab_size=4096, d_model=192, n_layers=4, n_heads=6))
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
        _loss(model, x, y).backward()
        clip_grad_norm(model.parameters(), 1.0)
        opt.step()
    rng = np.random.default_rng(1)
    with torch.no_grad():
        return float(np.mean([_loss(model, *_windows(held, 16, rng)).item() for _ in range(20)]))


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
    losses = {}
    for name in args.optimizers:
        losses[name] = loss = run(name, train, held, args.steps)
        bpb = loss / math.log(2) / bytes_per_token
        print(f"{name:<6} {args.steps} steps: held-out {loss:.4f} nats/token, {bpb:.3f} bits/byte")
    if {"adamw", "muon"} <= losses.keys():
        print(f"muon - adamw: {losses['muon'] - losses['adamw']:+.4f} nats/token")


if __name__ == "__main__":
    main()
