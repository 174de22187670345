r"""# Exercises: Sharded checkpoints and resharding

Which global rows a rank owns, checked against the padding layout the shards are saved in."""

import torch

from masterclass.infra.sharding import pad_rows


def solution_1_owned_rows(d0: int, world: int, rank: int) -> tuple[int, int]:
    c = -(-d0 // world)
    return min(rank * c, d0), min((rank + 1) * c, d0)


def check_1_owned_rows(fn) -> None:
    for d0, world in [(10, 4), (3, 2), (8, 8), (5, 1), (2, 4)]:
        rows = torch.arange(float(d0))
        chunks = pad_rows(rows, world)  # padding rows are zeros; real rows are 0..d0-1
        for r in range(world):
            start, stop = fn(d0, world, r)
            real = [int(v) for v in chunks[r][: max(stop - start, 0)]]
            assert list(range(start, stop)) == real and stop - start <= chunks.shape[1], (
                f"owned_rows({d0}, {world}, {r}) = {(start, stop)}, the shard holds rows {real}"
            )
        assert sum(fn(d0, world, r)[1] - fn(d0, world, r)[0] for r in range(world)) == d0
