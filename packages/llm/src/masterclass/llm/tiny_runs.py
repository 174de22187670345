"""# Tiny training runs: the experiment harness of the study chapters

The chapters on scaling laws, architecture choices, activations, context length and conditional
compute all ask the same question: *what loss does this model reach on this budget?* This file
answers it the smallest honest way: byte-level language modelling (vocabulary 256, no tokenizer to
confound the comparison) of the Python standard library's own source, the course's default corpus
(`masterclass.transformer.mlm_pretraining.stdlib_corpus`), with AdamW, a linear warm-up and cosine
decay, and a held-out split taken from a different part of the library.

Every run is seeded, so a result is reproducible on the same machine; the numbers tabled in the
chapters come from `packages/llm/bench/studies.py`, which calls these functions with a larger
budget than the tests do. The full training loop of the course (checkpointing, gradient
accumulation, mixed precision, distributed data) is Module 8's; this one is ten lines on purpose.

A batch is a set of random windows of the byte stream, each target the input shifted by one
byte (here on the stand-in stream 100, 101, ..., 119):

>>> g = torch.Generator().manual_seed(0)
>>> x, y = random_batch(torch.arange(100, 120), 2, 5, g)
>>> x.tolist(), y.tolist()
([[114, 115, 116, 117, 118], [109, 110, 111, 112, 113]], [[115, 116, 117, 118, 119], [110, 111, 112, 113, 114]])

## Exercises

1. Write `lr_at(step, steps, peak)`: the schedule of every study run, a linear warm-up over the
   first tenth of the steps, then cosine decay to a tenth of the peak. Check it:
   `uv run pytest --exercise llm.tiny_runs`.
2. Write `batch(data, batch_size, seq_len, generator)`: random windows of the data as inputs and
   next-byte targets `(B, T)` each. What is the largest valid start of a window? Check it:
   `uv run pytest --exercise llm.tiny_runs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.transformer.mlm_pretraining import stdlib_corpus

BYTE_VOCAB = 256


# The data: two disjoint stretches of standard-library bytes, for training and validation.
def byte_data(n_train: int = 400_000, n_val: int = 50_000) -> tuple[Tensor, Tensor]:
    """Train and validation byte tensors (int64) from two disjoint stretches of the stdlib source."""
    train = torch.frombuffer(bytearray(stdlib_corpus(n_train)), dtype=torch.uint8).long()
    val = torch.frombuffer(
        bytearray(stdlib_corpus(n_val, skip_bytes=2_000_000)), dtype=torch.uint8
    ).long()
    return train, val


def random_batch(
    data: Tensor, batch_size: int, seq_len: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """`batch_size` random windows of `seq_len + 1` bytes, as inputs and next-byte targets `(B, T)`."""
    # A window needs `seq_len + 1` bytes, so the last valid start is `numel - seq_len - 1`;
    # `randint`'s upper bound is exclusive, hence `numel - seq_len`.
    if data.numel() < seq_len + 1:
        raise ValueError(
            f"data has {data.numel()} bytes, fewer than seq_len + 1 = {seq_len + 1}: "
            "pass more data or a shorter seq_len"
        )
    starts = torch.randint(0, data.numel() - seq_len, (batch_size,), generator=generator)
    windows = torch.stack([data[s : s + seq_len + 1] for s in starts.tolist()])  # (B, T + 1)
    return windows[:, :-1], windows[:, 1:]


# The held-out loss: a mean over evenly spaced windows, so every call scores the same text.
@torch.no_grad()
def evaluate(model: LanguageModel, data: Tensor, seq_len: int, n_windows: int = 16) -> float:
    """Mean next-byte cross-entropy (nats) over `n_windows` evenly spaced windows of `data`."""
    model.eval()
    step = (data.numel() - seq_len - 1) // n_windows
    losses = []
    for i in range(n_windows):
        window = data[i * step : i * step + seq_len + 1]
        losses.append(model(window[None, :-1], window[None, 1:])[1].item())
    return sum(losses) / len(losses)


@dataclass
class RunResult:
    """Outcome of `train_tiny`."""

    # The trained model (eval mode).
    model: LanguageModel
    # Validation loss (nats per byte) at the end.
    val_loss: float
    # Training loss of every step.
    train_losses: list[float]
    # Non-embedding parameter count N.
    n_params: int
    # Training tokens D = steps x batch x sequence length.
    n_tokens: int


def train_tiny(
    config: LMConfig,
    data: tuple[Tensor, Tensor],
    *,
    steps: int = 200,
    batch_size: int = 16,
    seq_len: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> RunResult:
    """Train `LanguageModel(config)` on `data = (train, val)` bytes; the vocabulary must be 256."""
    if config.vocab_size != BYTE_VOCAB:
        raise ValueError(f"tiny runs are byte-level: set vocab_size=256, got {config.vocab_size}")
    # One seed fixes the weights and the batches; AdamW with GPT-3's betas and weight decay.
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = LanguageModel(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1, betas=(0.9, 0.95))
    warmup = max(1, steps // 10)

    # Linear warm-up over the first 10% of steps, then cosine decay to 10% of the peak rate.
    def lr_at(step: int) -> float:
        if step < warmup:
            return lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    losses = []
    model.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        x, y = random_batch(data[0], batch_size, seq_len, g)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    # One held-out evaluation at the end; N counts the non-embedding parameters, D the tokens seen.
    val = evaluate(model, data[1], seq_len)
    return RunResult(
        model.eval(),
        val,
        losses,
        model.num_parameters(non_embedding=True),
        steps * batch_size * seq_len,
    )
