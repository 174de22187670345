r"""# Exercises: BERT

The masked-language-model corruption, and the share of positions each of its three cases takes."""

import torch

from masterclass.transformer.bert import mask_tokens


def solution_1_mask(
    input_ids: torch.Tensor,
    target: torch.Tensor,
    to_mask: torch.Tensor,
    to_random: torch.Tensor,
    random_ids: torch.Tensor,
    mask_id: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Given the random draws (booleans `(B, T)` and random ids), build `(inputs, labels)`:
    targets keep their id as label (`-100` elsewhere); among them `[MASK]`, a random id, or kept."""
    labels = torch.where(target, input_ids, torch.full_like(input_ids, -100))
    masked = target & to_mask
    randomised = target & ~to_mask & to_random
    inputs = torch.where(masked, torch.full_like(input_ids, mask_id), input_ids)
    return torch.where(randomised, random_ids, inputs), labels


def check_1_mask(fn) -> None:
    """Replay the chapter's `mask_tokens` draws (same seeded generator, same order: targets,
    80% mask, 50% random of the rest, random ids) and compare."""
    for seed, (B, T, V) in enumerate([(1, 10, 30), (4, 16, 100), (2, 64, 1000)]):
        ids = torch.randint(5, V, (B, T), generator=torch.Generator().manual_seed(99))
        want = mask_tokens(ids, 3, V, 0.15, generator=torch.Generator().manual_seed(seed))
        g = torch.Generator().manual_seed(seed)
        target = torch.rand(ids.shape, generator=g) < 0.15
        to_mask = torch.rand(ids.shape, generator=g) < 0.8
        to_random = torch.rand(ids.shape, generator=g) < 0.5
        random_ids = torch.randint(V, ids.shape, generator=g)
        got = fn(ids, target, to_mask, to_random, random_ids, 3)
        assert torch.equal(got[1], want[1]), "labels differ: targets keep their id, -100 elsewhere"
        assert torch.equal(got[0], want[0]), "inputs differ: [MASK] / random id / kept, 80/10/10"


def solution_2_case_shares(p: float) -> tuple[float, float, float, float]:
    """Shares of all positions: `[MASK]`, random id, kept target, not a target."""
    return 0.8 * p, 0.1 * p, 0.1 * p, 1 - p


def check_2_case_shares(fn) -> None:
    """Count the cases in 200,000 positions corrupted by `mask_tokens`; each share must be
    within 5 standard errors."""
    n, V = 200_000, 1000
    ids = torch.randint(5, V, (1, n), generator=torch.Generator().manual_seed(0))
    for p in (0.15, 0.4):
        inputs, labels = mask_tokens(ids, 3, V, p, generator=torch.Generator().manual_seed(1))
        target = labels != -100
        counted = (
            float((target & (inputs == 3)).float().mean()),
            float((target & (inputs != 3) & (inputs != ids)).float().mean()),
            float((target & (inputs == ids)).float().mean()),
            float((~target).float().mean()),
        )
        for name, got, seen in zip(("mask", "random", "kept", "untouched"), fn(p), counted):
            se = (got * (1 - got) / n) ** 0.5 if 0 < got < 1 else 1e-3
            # A random replacement equals the original with probability 1/V: it counts as kept.
            assert abs(got - seen) <= 5 * se + p / V, (
                f"p={p}, {name}: you predict {got:.4f}, the corruption gives {seen:.4f}"
            )
