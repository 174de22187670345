"""Curriculum by length versus random order on digit addition, same budget, seeded, on the CPU.

Run: uv run python packages/training/bench/curriculum.py

Prints the held-out answer loss (nats per token) for each number of digits and overall, for
both orders and several seeds, and the ratio curriculum / random (< 1: the curriculum helped).
"""

import random
import sys

import numpy as np
import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.curriculum import CurriculumSampler, length_difficulty, pad_batch
from masterclass.training.losses import IGNORE_INDEX, next_token_loss

PLUS, EQUALS, EOS = 10, 11, 12
STEPS, BATCH, LR = 300, 32, 3e-3


def _digits(n: int) -> list[int]:
    return [int(c) for c in str(n)]


def make_examples(n: int, seed: int) -> list[tuple[list[int], int]]:
    """`n` examples `a+b=c<eos>` with 1-4 digit operands; returns (ids, prompt length)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(1, 4)
        a, b = rng.randrange(10 ** (k - 1), 10**k), rng.randrange(10 ** (k - 1), 10**k)
        prompt = [*_digits(a), PLUS, *_digits(b), EQUALS]
        out.append((prompt + _digits(a + b) + [EOS], len(prompt)))
    return out


def _batch(examples):
    ids, labels = pad_batch([e for e, _ in examples])
    for b, (_, n_prompt) in enumerate(examples):
        labels[b, :n_prompt] = IGNORE_INDEX  # learn the answer only
    return ids, labels


def run(curriculum: bool, seed: int, train, test) -> dict[int, float]:
    torch.manual_seed(seed)
    model = LanguageModel(
        LMConfig(vocab_size=13, d_model=64, n_layers=2, n_heads=4, max_seq_len=16)
    )
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sampler = CurriculumSampler(
        length_difficulty([e for e, _ in train]), STEPS // 2, curriculum=curriculum, seed=seed
    )
    for step in range(STEPS):
        ids, labels = _batch([train[i] for i in sampler.batch(step, BATCH)])
        loss = next_token_loss(model(ids), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    result = {}
    with torch.no_grad():
        for k in (1, 2, 3, 4):
            subset = [e for e in test if (e[1] - 2) // 2 == k]
            ids, labels = _batch(subset)
            result[k] = next_token_loss(model(ids), labels).item()
        ids, labels = _batch(test)
        result[0] = next_token_loss(model(ids), labels).item()
    return result


def main() -> None:
    torch.set_num_threads(1)
    train, test = make_examples(4000, seed=0), make_examples(800, seed=1)
    seeds = [0, 1, 2]
    rows = {
        name: [run(name == "curriculum", s, train, test) for s in seeds]
        for name in ("random", "curriculum")
    }
    print(
        f"# {STEPS} steps x {BATCH} examples, competence pacing over {STEPS // 2} steps, seeds {seeds}"
    )
    print(f"{'order':<12}" + "".join(f"{f'{k} digits':>10}" for k in (1, 2, 3, 4)) + f"{'all':>10}")
    for name, results in rows.items():
        mean = {k: np.mean([r[k] for r in results]) for k in (1, 2, 3, 4, 0)}
        print(f"{name:<12}" + "".join(f"{mean[k]:>10.3f}" for k in (1, 2, 3, 4, 0)))
    ratio = np.mean([c[0] for c in rows["curriculum"]]) / np.mean([r[0] for r in rows["random"]])
    print(f"held-out loss ratio curriculum / random: {ratio:.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
