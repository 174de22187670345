r"""# Induction heads: a circuit a two-layer attention-only model grows

Show a language model `... A B ... A` and it predicts `B`: it copies what followed the previous
occurrence of the current token. Olsson et al. (2022) found the circuit that does it, the
**induction head**, and found that it forms suddenly during training, at the same moment in-context
learning appears. It needs two heads in two layers:

1. a **previous-token head** in layer 0 attends from position $j$ to $j - 1$ and writes "the token
   before me was $A$" into position $j$ (which holds $B$);
2. the **induction head** in layer 1, at a later position holding $A$, uses a query "$A$" against
   keys "the token before me was $A$" (this is *K-composition*: its keys read what layer 0 wrote),
   so it attends to the position of $B$, and its OV circuit copies $B$ to the output.

One layer cannot do it: a single layer's keys only know their own token and position, not the
previous one. On sequences of random tokens repeated twice, $r_1 \dots r_n r_1 \dots r_n$, the
second half is predictable *only* by induction, so a small attention-only model trained on them
must grow the circuit. We measure it with the **induction score** of a head: its mean attention,
over positions $i$ of the second half, to the token after the earlier copy, position $i - n + 1$.
A perfect induction head scores 1; a uniform causal head scores about $1/i$.

The model here has no MLPs and no norms (Elhage et al., 2021 study exactly this family), so its
logits are a sum of paths through at most two heads.

## References

- C. Olsson et al., *In-context Learning and Induction Heads*, 2022, [transformer-circuits.pub](https://transformer-circuits.pub/2022/in-context-learning-and-induction-heads/index.html).
- N. Elhage et al., *A Mathematical Framework for Transformer Circuits*, 2021, [transformer-circuits.pub](https://transformer-circuits.pub/2021/framework/index.html).

Left out: the phase-change plots over training, the QK/OV circuit eigenvalue analysis, and
fuzzy/translation induction in larger models.

>>> model = AttentionOnlyTransformer(AttentionOnlyConfig(vocab_size=10, seq_len=8))
>>> logits, patterns = model(repeated_random_tokens(2, 4, 10, torch.Generator().manual_seed(0)))
>>> logits.shape, patterns.shape
(torch.Size([2, 8, 10]), torch.Size([2, 2, 1, 8, 8]))

## Exercises

1. Write `solution_1_previous_token_score(patterns)`: given attention patterns `(B, T, T)` of one
   head, the mean attention from position $i \ge 1$ to $i - 1$. Check it:
   `uv run pytest --exercise safety.induction_heads`.
2. Write `solution_2_induction_score(patterns, n)`: the induction score `(L, H)` by an explicit
   loop over the query positions, and compare it with `induction_scores`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F


@dataclass
class AttentionOnlyConfig:
    """A tiny attention-only transformer."""

    # Number of token ids (more than seq_len, so that a sequence can hold distinct tokens).
    vocab_size: int = 64
    # Longest sequence (learned positions).
    seq_len: int = 24
    # Residual width.
    d_model: int = 64
    # Attention heads per layer (one forces the two roles onto the two layers).
    n_heads: int = 1
    # Number of attention layers (2 is the smallest that can hold an induction head).
    n_layers: int = 2

    def __post_init__(self) -> None:
        """Reject widths the heads cannot split and vocabularies too small for distinct tokens."""
        if self.vocab_size <= self.seq_len:
            raise ValueError(
                f"vocab_size ({self.vocab_size}) must exceed seq_len ({self.seq_len}): training "
                "sequences hold seq_len + 1 distinct tokens"
            )
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )


# ## The model
#
# Each layer is causal multi-head attention added to the stream; there is no MLP and no norm. The
# forward pass returns the attention patterns too, `(B, L, H, T, T)`, because they are what we
# inspect.


class _Attention(nn.Module):
    def __init__(self, cfg: AttentionOnlyConfig) -> None:
        super().__init__()
        self.h, self.d = cfg.n_heads, cfg.d_model // cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    # Plain scaled dot-product attention, written out so the pattern (the softmax of the masked
    # scores) can be returned; `F.scaled_dot_product_attention` would hide it.
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b, t, c = x.shape
        q, k, v = (
            self.qkv(x).view(b, t, 3, self.h, self.d).permute(2, 0, 3, 1, 4)
        )  # (B, H, T, D) each
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d)  # (B, H, T, T)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        pattern = scores.masked_fill(~causal, float("-inf")).softmax(-1)  # (B, H, T, T)
        y = (pattern @ v).transpose(1, 2).reshape(b, t, c)  # (B, T, C)
        return self.out(y), pattern


# Learned absolute positions: an induction head needs a previous-token head, which reads them.
class AttentionOnlyTransformer(nn.Module):
    """Embedding, learned positions, `n_layers` attention layers, unembedding."""

    def __init__(self, cfg: AttentionOnlyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.layers = nn.ModuleList(_Attention(cfg) for _ in range(cfg.n_layers))
        self.unembed = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Logits `(B, T, V)` and attention patterns `(B, L, H, T, T)` for ids `idx` `(B, T)`."""
        t = idx.shape[1]
        if t > self.cfg.seq_len:
            raise ValueError(f"sequence length {t} exceeds seq_len={self.cfg.seq_len}")
        # Each layer reads the whole stream and adds its output to it; the patterns are stacked
        # layer by layer.
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))  # (B, T, C)
        patterns = []
        for layer in self.layers:
            y, p = layer(x)
            x = x + y
            patterns.append(p)
        return self.unembed(x), torch.stack(patterns, dim=1)


# ## Data and the score
#
# Random tokens repeated twice. Only the second half can
# be predicted better than chance, and only by induction, so the loss is taken there. One trap: with a *fixed* period $n$ a
# single layer can cheat, attending by position alone to $i - n + 1$. Training therefore draws the
# period of each sequence at random and pads the front with random tokens, so that only the
# content ("where did my token occur before?") locates the answer.


def repeated_random_tokens(
    batch: int, n: int, vocab_size: int, generator: torch.Generator
) -> Tensor:
    """`(batch, 2n)` ids: `n` distinct random tokens, then the same `n` again.

    Distinct tokens give every token of the second half exactly one earlier occurrence, so a
    perfect induction head can score exactly 1.
    """
    if n > vocab_size:
        raise ValueError(f"n ({n}) distinct tokens need vocab_size >= n, got {vocab_size}")
    keys = torch.rand(batch, vocab_size, generator=generator)  # (B, V)
    half = keys.argsort(dim=1)[:, :n]  # (B, n) a random permutation's first n entries
    return torch.cat([half, half], dim=1)


def _shifted_repeats(
    batch: int, seq_len: int, vocab_size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    # Ids (B, T) whose last n tokens repeat the n before them, n random in [T/4, T/2], and the
    # (B, T) mask of the repeated positions, the only ones worth a loss.
    # Distinct tokens (a random permutation's prefix) leave no ambiguity about the earlier copy.
    ids = torch.rand(batch, vocab_size, generator=generator).argsort(1)[:, :seq_len]  # (B, T)
    repeated = torch.zeros(batch, seq_len, dtype=torch.bool)  # (B, T)
    periods = torch.randint(seq_len // 4, seq_len // 2 + 1, (batch,), generator=generator)  # (B,)
    for row, n in enumerate(periods.tolist()):
        ids[row, seq_len - n :] = ids[row, seq_len - 2 * n : seq_len - n]
        repeated[row, seq_len - n :] = True
    return ids, repeated


# An induction head at position i attends to the token just after the earlier copy of token i,
# position $i - n + 1$, whose value is the token to predict next.
def induction_scores(patterns: Tensor, n: int) -> Tensor:
    r"""Mean attention from position $i \in [n, 2n)$ to $i - n + 1$ for each layer and head, `(L, H)`.

    `patterns` `(B, L, H, 2n, 2n)` of a repeated sequence with period `n`.
    """
    i = torch.arange(n, 2 * n)  # (n,) queries of the second half
    return patterns[..., i, i - n + 1].mean(dim=(0, -1))  # (L, H)


def train_induction_model(
    cfg: AttentionOnlyConfig, *, steps: int = 500, batch: int = 64, lr: float = 1e-2, seed: int = 0
) -> tuple[AttentionOnlyTransformer, list[float]]:
    """Train on repeated random tokens of random period; return the model and the losses."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = AttentionOnlyTransformer(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    # The learning rate decays linearly to 0: the last steps sharpen the attention patterns.
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * (1 - step / steps)
        # One token more than seq_len, so that the inputs use every position, the last one too.
        ids, repeated = _shifted_repeats(
            batch, cfg.seq_len + 1, cfg.vocab_size, g
        )  # (B, T + 1) each
        targets = ids[:, 1:].masked_fill(~repeated[:, 1:], -100)  # (B, T - 1) loss on repeats only
        logits, _ = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), targets.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model.eval(), losses
