"""Measured effect of EDA on a small bag-of-words sentiment classifier.

Training sentences use only the head word of each sentiment group of the lexicon ("good",
"bad", ...); test sentences use their synonyms ("great", "awful", ...). Without augmentation
the classifier never sees a test word; EDA's synonym replacement and insertion show it some.
The ratio printed is accuracy with EDA over accuracy without, each the mean of 5 seeds, in the
same run.

    uv run python packages/infra/bench/augmentation.py
"""

import random

import torch
from torch import nn

from masterclass.infra.augmentation import eda, load_lexicon

POS = ["good", "happy", "love", "beautiful", "smart", "funny", "strong"]
NEG = ["bad", "sad", "hate", "ugly", "boring", "weak"]
FILLER = [
    "the",
    "a",
    "this",
    "that",
    "it",
    "was",
    "is",
    "movie",
    "book",
    "story",
    "very",
    "really",
    "quite",
    "and",
    "but",
    "so",
]


def sentences(words_pos, words_neg, n, rng):
    out = []
    for _ in range(n):
        label = rng.random() < 0.5
        pool = words_pos if label else words_neg
        words = [rng.choice(FILLER) for _ in range(6)] + [rng.choice(pool) for _ in range(2)]
        rng.shuffle(words)
        out.append((" ".join(words), int(label)))
    return out


def accuracy(train, test, seed):
    vocab = {w: i for i, w in enumerate(sorted({w for s, _ in train + test for w in s.split()}))}

    def bow(data):
        x = torch.zeros(len(data), len(vocab))
        for i, (s, _) in enumerate(data):
            for w in s.split():
                x[i, vocab[w]] += 1
        return x, torch.tensor([y for _, y in data])

    xtr, ytr = bow(train)
    xte, yte = bow(test)
    torch.manual_seed(seed)
    model = nn.Linear(len(vocab), 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.01)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xtr), ytr).backward()
        opt.step()
    return (model(xte).argmax(-1) == yte).float().mean().item()


def main():
    lex = load_lexicon()
    syn_pos = [s for w in POS for s in lex[w] if s not in POS + NEG]
    syn_neg = [s for w in NEG for s in lex[w] if s not in POS + NEG]
    base, aug = [], []
    for seed in range(5):
        rng = random.Random(seed)
        train = sentences(POS, NEG, 40, rng)
        test = sentences(syn_pos, syn_neg, 400, rng)
        augmented = train + [
            (a, y) for k, (s, y) in enumerate(train) for a in eda(s, 0.2, 4, seed=seed * 1000 + k)
        ]
        base.append(accuracy(train, test, seed))
        aug.append(accuracy(augmented, test, seed))
    b, a = sum(base) / 5, sum(aug) / 5
    print("40 training sentences (head words only), 400 test sentences (synonyms only), 5 seeds")
    print(f"accuracy without augmentation: {b:.3f}")
    print(f"accuracy with EDA (4 copies, alpha 0.2): {a:.3f}")
    print(f"ratio with / without: {a / b:.2f}")


if __name__ == "__main__":
    main()
