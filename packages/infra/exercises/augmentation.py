r"""# Exercises: Data augmentation for text: EDA, token noise and mixup

The invariant every swap keeps, and mixup's soft targets, checked against the chapter's functions."""

import random
from collections import Counter

import torch

from masterclass.infra.augmentation import mixup, random_swap


def solution_1_swap_preserves(words: list[str], swapped: list[str]) -> bool:
    return Counter(words) == Counter(swapped)


def check_1_swap_preserves(fn) -> None:
    words = ["a", "b", "c", "d", "e", "e"]
    for seed in range(5):
        assert fn(words, random_swap(words, 3, random.Random(seed))), "a random swap was rejected"
    for bad in (["a", "b", "c", "d", "e"], ["a", "b", "c", "d", "e", "f"], [*words, "a"]):
        assert not fn(words, bad), f"swap_preserves accepted {bad}, which is not a reordering"


def solution_2_mixup_targets(y_a: torch.Tensor, y_b: torch.Tensor, lam: float) -> torch.Tensor:
    return lam * y_a + (1 - lam) * y_b


def check_2_mixup_targets(fn) -> None:
    y = torch.eye(5, dtype=torch.float64)[[0, 3, 1, 4, 2, 2]]
    for seed in range(3):
        _, soft, lam = mixup(torch.zeros(6, 1), y, 0.5, seed=seed)
        perm = torch.randperm(6, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(fn(y, y[perm], lam), soft, msg=f"seed {seed}, lambda {lam}")
