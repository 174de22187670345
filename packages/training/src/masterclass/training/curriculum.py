r"""# Curriculum learning: ordering by difficulty, and sequence-length warm-up

People learn easy things first. **Curriculum learning** (Bengio et al., 2009,
[*Curriculum Learning*](https://dl.acm.org/doi/10.1145/1553374.1553380)) presents training
examples in order of difficulty instead of at random, hoping for faster or better convergence.
Two ingredients define a curriculum: a **difficulty score** per example and a **pacing
function** that says how much of the sorted data is available at step $t$.

**Difficulty.** Two common scores: the *length* of the example (short sequences have fewer
dependencies), and the *loss under a small reference model* (examples a weak model already
predicts well are easy; Xu et al., 2020). Both are computed once, before training.

**Pacing by competence** (Platanios et al., 2019, *Competence-based Curriculum Learning for
NMT*, [arXiv:1903.09848](https://arxiv.org/abs/1903.09848)): at step $t$ of $T_c$ the model
may sample from the easiest fraction

$$ c(t) = \min\Big(1,\ \sqrt{t\,\frac{1 - c_0^2}{T_c} + c_0^2}\Big) $$

of the data (square-root pacing: the pool grows fast at first, when each new example is a large
share of it), starting from $c_0$; after $T_c$ steps sampling is uniform over everything.

**Sequence-length warm-up** (Li et al., 2022, *The Stability-Efficiency Dilemma*,
[arXiv:2108.06084](https://arxiv.org/abs/2108.06084)) is a curriculum on the *context*: early
steps train on truncated sequences, $T(t)$ rising linearly from $T_0$ to $T_{\max}$ over the
warm-up, rounded down to a multiple of 8. Short early sequences give smaller gradient variance
when the learning rate is large, and cost less.

**Does it help?** Often not much for language-model pretraining, where random order is hard to
beat at scale (Wu et al., 2021, *When Do Curricula Work?*). `bench/curriculum.py` runs a seeded
CPU experiment, digit-addition strings of 1 to 4 digits, the same budget of steps, curriculum
by length versus random order, and prints held-out loss per difficulty. Its committed output,
`bench/results/curriculum.txt`, is rendered as the table below (measured, never typed): on
this toy the curriculum is within a few percent of random order, better on the short
problems it saw first and no better on the long ones.

![held-out loss by number of digits, curriculum vs random order](figures/curriculum_table.png)

Left out: self-paced learning (difficulty re-scored during training), anti-curricula, and
data-mixture schedules over domains (see `token_distribution` for static mixing).

## Exercises

1. Write `competence(t, total, c0)`, the square-root pacing function. Check it:
   `uv run pytest --exercise training.curriculum`
2. Write `warmup_len(step, start, end, steps)` returning the warm-up sequence length rounded
   down to a multiple of 8 (and never below 8). Check it:
   `uv run pytest --exercise training.curriculum`
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from masterclass.training.losses import IGNORE_INDEX

__all__ = [
    "CurriculumSampler",
    "competence",
    "length_difficulty",
    "loss_difficulty",
    "pad_batch",
    "seq_len_warmup",
]


# ## Difficulty scores


def length_difficulty(examples: Sequence[Sequence[int]]) -> np.ndarray:
    """The number of tokens of each example, `(N,)`."""
    return np.array([len(e) for e in examples], dtype=np.float64)


@torch.no_grad()
def loss_difficulty(model: nn.Module, examples: Sequence[Sequence[int]]) -> np.ndarray:
    """Mean next-token loss of each example under `model` (a small reference LM), `(N,)`."""
    model.eval()
    out = []
    for i, ex in enumerate(examples):
        if len(ex) < 2:
            raise ValueError(f"examples[{i}] has {len(ex)} tokens; a loss needs at least 2")
        ids = torch.tensor([list(ex)])  # (1, T)
        logits = model(ids)[0, :-1].float()  # (T-1, V)
        out.append(torch.nn.functional.cross_entropy(logits, ids[0, 1:]).item())
    return np.array(out)


# ## Pacing


def competence(t: int, total: int, c0: float = 0.1) -> float:
    """Square-root competence $c(t)$: the easiest fraction of the data available at step `t`.

    >>> [round(competence(t, 100, 0.1), 3) for t in (0, 25, 100, 200)]
    [0.1, 0.507, 1.0, 1.0]
    """
    if total < 1 or not 0 < c0 <= 1:
        raise ValueError(f"need total >= 1 and c0 in (0, 1], got total={total}, c0={c0}")
    return min(1.0, math.sqrt(t * (1 - c0**2) / total + c0**2))


# Sequence-length warmup is the same idea for length: short sequences first, growing linearly.
# Rounding down to a multiple keeps the number of distinct shapes small.
def seq_len_warmup(step: int, start: int, end: int, warmup_steps: int, multiple: int = 8) -> int:
    """Sequence length at `step`: linear from `start` to `end`, rounded down to `multiple`.

    >>> [seq_len_warmup(s, 16, 128, 10) for s in (0, 5, 10, 50)]
    [16, 72, 128, 128]
    """
    if not 0 < start <= end or warmup_steps < 1:
        raise ValueError(
            f"need 0 < start <= end and warmup_steps >= 1, got {start}, {end}, {warmup_steps}"
        )
    frac = min(1.0, step / warmup_steps)
    length = start + frac * (end - start)
    return max(multiple, int(length) // multiple * multiple) if length >= multiple else int(length)


# ## The sampler
#
# Examples are sorted once by difficulty (stable sort, ties in data order). At each step the
# batch is drawn uniformly, with a seeded generator, from the first $\lceil c(t) N\rceil$ of
# them. With `curriculum=False` it draws from everything: the random-order baseline with the
# same generator, so the two differ only in the order.


class CurriculumSampler:
    """Batches of example indices paced by competence over a difficulty order."""

    def __init__(
        self,
        difficulty: Sequence[float] | np.ndarray,
        total_steps: int,
        *,
        c0: float = 0.1,
        curriculum: bool = True,
        seed: int = 0,
    ) -> None:
        d = np.asarray(difficulty, dtype=np.float64)
        if d.ndim != 1 or d.size == 0:
            raise ValueError(f"difficulty must be a non-empty 1-D array, got shape {d.shape}")
        self.order = np.argsort(d, kind="stable")  # easiest first
        self.total_steps, self.c0, self.curriculum = total_steps, c0, curriculum
        self.rng = np.random.default_rng(seed)

    # At `step`, only the easiest `competence(step) * n` examples (at least one) are eligible, and
    # the batch is drawn uniformly from them; with `curriculum=False` every example is eligible.
    def batch(self, step: int, batch_size: int) -> np.ndarray:
        """Indices `(batch_size,)` of the examples for `step`."""
        n = len(self.order)
        if self.curriculum:
            n = max(1, math.ceil(competence(step, self.total_steps, self.c0) * n))
        return self.order[self.rng.integers(0, n, size=batch_size)]


# Padding for the curriculum's batches: labels are the ids themselves (`next_token_loss` shifts
# them), and padding positions are ignored by the loss.
def pad_batch(examples: Sequence[Sequence[int]], max_len: int | None = None):
    """Right-padded ids and next-token labels (-100 on padding) for a list of id lists."""
    T = max(len(e) for e in examples) if max_len is None else max_len
    ids = torch.zeros(len(examples), T, dtype=torch.long)
    labels = torch.full((len(examples), T), IGNORE_INDEX, dtype=torch.long)
    for b, e in enumerate(examples):
        e = list(e)[:T]
        ids[b, : len(e)] = torch.tensor(e)
        labels[b, : len(e)] = torch.tensor(e)
    return ids, labels
