r"""# Exercises: Continuous batching over a paged KV cache, with prefix caching

The ragged attention mask and the step count of static batching, each checked by direct counting."""

import torch


def solution_1_ragged_mask(cached: list[int], new: list[int]) -> torch.Tensor:
    n, t = torch.tensor(cached), torch.tensor(new)
    T, K = int(t.max()), int((n + t).max())
    q = n[:, None] + torch.arange(T)  # (B, T)
    k = torch.arange(K)
    return (k[None, None] <= q[:, :, None]) & (k[None, None] < (n + t)[:, None, None])


def check_1_ragged_mask(fn) -> None:
    # Against the rule written as loops: query i of row b sees key j iff j <= n_b + i < ... and
    # j < n_b + T_b.
    for cached, new in [([0, 3, 5], [4, 1, 1]), ([2], [3]), ([0, 0], [1, 5])]:
        got = fn(cached, new)
        T, K = max(new), max(c + t for c, t in zip(cached, new))
        assert tuple(got.shape) == (len(new), T, K), (
            f"shape {tuple(got.shape)}, want {(len(new), T, K)}"
        )
        for b, (c, t) in enumerate(zip(cached, new)):
            for i in range(T):
                for j in range(K):
                    want = j <= c + i and j < c + t
                    assert bool(got[b, i, j]) == want, f"cached={cached} new={new}: [{b},{i},{j}]"


def solution_2_static_batch_steps(lengths: list[int], batch: int) -> int:
    return sum(max(lengths[i : i + batch]) for i in range(0, len(lengths), batch))


def check_2_static_batch_steps(fn) -> None:
    # Against a step-by-step simulation of static batching.
    for lengths, batch in [([3, 9, 2, 2, 7], 2), ([5] * 4, 4), ([1, 10, 1, 10], 3)]:
        steps, queue = 0, list(lengths)
        while queue:
            group, queue = queue[:batch], queue[batch:]
            left = list(group)
            while any(x > 0 for x in left):
                left = [x - 1 for x in left]
                steps += 1
        got = fn(lengths, batch)
        assert got == steps, f"static_batch_steps({lengths}, {batch}) = {got}, want {steps}"
