r"""# Exercises: Vector add: the first Triton kernel

What one program of a 1-D launch computes: its offsets, its mask, and the grid size."""

import torch


def solution_1_tile_offsets(pid: int, block: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    offs = pid * block + torch.arange(block)
    return offs, offs < n


def check_1_tile_offsets(fn) -> None:
    for pid, block, n in [(0, 8, 20), (2, 8, 20), (3, 4, 13), (0, 16, 3)]:
        offs, mask = fn(pid, block, n)
        want = [pid * block + i for i in range(block)]
        assert offs.tolist() == want, (
            f"tile_offsets({pid}, {block}, {n}) offsets {offs.tolist()} != {want}"
        )
        assert mask.tolist() == [o < n for o in want], (
            f"tile_offsets({pid}, {block}, {n}): wrong mask"
        )


def solution_2_num_programs(n: int, block: int) -> int:
    return -(-n // block)


def check_2_num_programs(fn) -> None:
    for n, block in [(1, 128), (128, 128), (129, 128), (1000, 256), (0, 64)]:
        got = fn(n, block)
        # Independent count: the smallest grid whose tiles cover every element.
        want = next(g for g in range(n + 1) if g * block >= n)
        assert got == want, f"num_programs({n}, {block}) = {got}, expected {want}"
