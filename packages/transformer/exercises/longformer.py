r"""# Exercises: Longformer

The sliding-window-plus-global mask, and the attention it allows compared with full attention."""

import torch

from masterclass.transformer.longformer import sliding_window_mask


def solution_1_window_mask(T: int, window: int, global_tokens: list[int]) -> torch.Tensor:
    """Query `i` sees key `j` when `|i - j| <= window`, or when either is a global token."""
    m = torch.zeros(T, T, dtype=torch.bool)
    for i in range(T):
        for j in range(T):
            m[i, j] = abs(i - j) <= window or i in global_tokens or j in global_tokens
    return m


def check_1_window_mask(fn) -> None:
    """Compare with the chapter's `sliding_window_mask`."""
    for T, w, g in [(5, 1, []), (8, 2, [0]), (10, 0, [3, 9]), (6, 6, [])]:
        got = torch.as_tensor(fn(T, w, g)).bool()
        want = sliding_window_mask(T, w, g)
        assert torch.equal(got, want), (
            f"T={T}, w={w}, global {g}: got\n{got.int()}\nwant\n{want.int()}"
        )


def solution_2_allowed_scores(T: int, window: int, n_global: int) -> int:
    r"""Everything is allowed except the pairs of two non-global tokens farther apart than $w$.
    The $n = T - n_g$ non-global tokens are contiguous, and $n + 2\sum_{d=1}^{\min(w, n-1)}(n - d)$
    of their $n^2$ pairs lie within the band."""
    n = T - n_global
    near = n + 2 * sum(n - d for d in range(1, min(window, n - 1) + 1))
    return T * T - (n * n - near)


def check_2_allowed_scores(fn) -> None:
    """Count the allowed entries of the chapter's mask (global tokens at positions
    `0 .. n_global - 1`)."""
    for T, w, n_g in [(5, 1, 0), (16, 2, 1), (32, 4, 3), (10, 9, 2), (12, 0, 2)]:
        want = int(sliding_window_mask(T, w, list(range(n_g))).sum())
        got = fn(T, w, n_g)
        assert got == want, f"T={T}, w={w}, {n_g} global: got {got}, the mask allows {want}"
