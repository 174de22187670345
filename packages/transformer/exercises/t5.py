r"""# Exercises: T5

The relative-position buckets (exact near, logarithmic far), and the right shift that turns
labels into decoder inputs."""

import math

import torch

from masterclass.transformer.t5 import relative_position_bucket, shift_right


def solution_1_bucket(offset: int, n_buckets: int, max_distance: int) -> int:
    r"""Bidirectional: half the buckets per sign (positive offsets in the upper half); within a
    half, distances below $n/2$ get their own bucket and larger ones
    $n/2 + \lfloor \log(d / (n/2)) / \log(M / (n/2)) \cdot n/2 \rfloor$, capped at the last."""
    half = n_buckets // 2
    base = half if offset > 0 else 0
    d = abs(offset)
    exact = half // 2
    if d < exact:
        return base + d
    far = exact + int(math.log(d / exact) / math.log(max_distance / exact) * (half - exact))
    return base + min(far, half - 1)


def check_1_bucket(fn) -> None:
    """Compare with the chapter's `relative_position_bucket` (itself checked against Hugging
    Face's T5 by the chapter's tests) for every offset in a range."""
    for n_buckets, max_distance in [(32, 128), (8, 20), (16, 64)]:
        offsets = torch.arange(-200, 201)
        want = relative_position_bucket(offsets, True, n_buckets, max_distance).tolist()
        got = [fn(int(o), n_buckets, max_distance) for o in offsets]
        bad = [(int(o), g, w) for o, g, w in zip(offsets, got, want) if g != w]
        assert not bad, (
            f"{n_buckets} buckets, max distance {max_distance}: (offset, got, want) {bad[:5]}"
        )


def solution_2_shift_right(labels: torch.Tensor, start_id: int, pad_id: int) -> torch.Tensor:
    """`[start] + labels[:-1]` per row, with the loss's `-100` replaced by padding."""
    out = torch.cat([torch.full_like(labels[:, :1], start_id), labels[:, :-1]], dim=1)
    return torch.where(out == -100, torch.full_like(out, pad_id), out)


def check_2_shift_right(fn) -> None:
    """Compare with the chapter's `shift_right`."""
    g = torch.Generator().manual_seed(0)
    for B, T in [(1, 1), (2, 5), (3, 8)]:
        labels = torch.randint(1, 50, (B, T), generator=g)
        labels[:, -2:] = -100  # ignored positions at the end
        for start, pad in [(0, 0), (2, 1)]:
            got, want = fn(labels.clone(), start, pad), shift_right(labels, start, pad)
            assert torch.equal(got, want), (
                f"labels {labels.tolist()}: got {got.tolist()}, want {want.tolist()}"
            )
