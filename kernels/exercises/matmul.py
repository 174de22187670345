r"""# Exercises: Tiled matrix multiplication

The grouped ordering of tiles, the kernel's loop nest and the traffic it saves, in plain Python."""

import numpy as np
import torch


def solution_1_tile_of(pid: int, m_tiles: int, n_tiles: int, group_m: int) -> tuple[int, int]:
    per_group = group_m * n_tiles
    first_m = (pid // per_group) * group_m
    size = min(m_tiles - first_m, group_m)
    return first_m + (pid % per_group) % size, (pid % per_group) // size


def _grouped_order(m_tiles: int, n_tiles: int, group_m: int) -> list[tuple[int, int]]:
    # The ordering by its definition, enumerated: bands of `group_m` tile rows (the last band may
    # be shorter), each band walked column by column, top to bottom within a column.
    order = []
    for first in range(0, m_tiles, group_m):
        band = range(first, min(first + group_m, m_tiles))
        order += [(row, col) for col in range(n_tiles) for row in band]
    return order


def check_1_tile_of(fn) -> None:
    """Against the grouped ordering enumerated from its definition, short last bands included."""
    for m_tiles, n_tiles, group_m in [(4, 3, 2), (5, 4, 2), (3, 3, 8), (6, 2, 1), (7, 3, 3)]:
        tiles = [tuple(fn(pid, m_tiles, n_tiles, group_m)) for pid in range(m_tiles * n_tiles)]
        assert sorted(tiles) == [(i, j) for i in range(m_tiles) for j in range(n_tiles)], (
            f"tile_of does not visit every tile exactly once for {m_tiles}x{n_tiles}, group {group_m}"
        )
        want = _grouped_order(m_tiles, n_tiles, group_m)
        for pid, (got, expected) in enumerate(zip(tiles, want, strict=True)):
            assert got == expected, (
                f"tile_of({pid}, {m_tiles}, {n_tiles}, {group_m}) = {got}, the grouped ordering "
                f"gives {expected}"
            )


def solution_2_tiled_matmul(a, b, block_m: int, block_n: int, block_k: int):
    m, k = a.shape
    n = b.shape[1]
    c = torch.zeros(m, n, dtype=a.dtype)
    for i in range(0, m, block_m):
        for j in range(0, n, block_n):
            acc = torch.zeros(min(block_m, m - i), min(block_n, n - j), dtype=a.dtype)
            for k0 in range(0, k, block_k):
                acc += a[i : i + block_m, k0 : k0 + block_k] @ b[k0 : k0 + block_k, j : j + block_n]
            c[i : i + block_m, j : j + block_n] = acc
    return c


def check_2_tiled_matmul(fn) -> None:
    """Against numpy's product in float64 (rounding only: 1e-10), sizes not multiples of blocks."""
    rng = np.random.default_rng(0)
    for (m, k, n), (bm, bn, bk) in [
        ((8, 8, 8), (4, 4, 4)),
        ((7, 13, 5), (4, 2, 4)),
        ((17, 9, 11), (8, 8, 8)),
        ((3, 20, 2), (16, 16, 6)),
    ]:
        a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        got = fn(torch.from_numpy(a), torch.from_numpy(b), bm, bn, bk)
        assert tuple(got.shape) == (m, n), f"got shape {tuple(got.shape)}, want {(m, n)}"
        err = np.abs(np.asarray(got) - a @ b).max()
        assert err < 1e-10, (
            f"tiled_matmul differs from a @ b by {err:.2e} for ({m}, {k}) @ ({k}, {n}) with "
            f"blocks ({bm}, {bn}, {bk}): are the last, partial tiles along M, N and K included?"
        )


def solution_3_global_loads(m: int, n: int, k: int, block_m: int, block_n: int) -> int:
    # Program (i, j) reads its rows of A (rows_i x K) and its columns of B (K x cols_j); summed
    # over the n_tiles columns of tiles and the m_tiles rows of tiles.
    m_tiles, n_tiles = -(-m // block_m), -(-n // block_n)
    return k * (n_tiles * m + m_tiles * n)


def _simulated_loads(m, n, k, block_m, block_n, block_k) -> int:
    # The kernel's loops, counting the lanes its masks leave on.
    total = 0
    for pid_m in range(-(-m // block_m)):
        for pid_n in range(-(-n // block_n)):
            offs_m = pid_m * block_m + torch.arange(block_m)
            offs_n = pid_n * block_n + torch.arange(block_n)
            for k0 in range(0, k, block_k):
                ks = k0 + torch.arange(block_k)
                total += int(((offs_m[:, None] < m) & (ks[None, :] < k)).sum())
                total += int(((ks[:, None] < k) & (offs_n[None, :] < n)).sum())
    return total


def check_3_global_loads(fn) -> None:
    """Against a simulation of the kernel's masked loads, with two different BLOCK_K."""
    for m, n, k, bm, bn in [(64, 64, 32, 16, 16), (50, 30, 17, 16, 8), (5, 70, 9, 32, 32)]:
        for bk in (4, 16):
            want = _simulated_loads(m, n, k, bm, bn, bk)
            got = fn(m, n, k, bm, bn)
            assert got == want, (
                f"global_loads({m}, {n}, {k}, {bm}, {bn}) = {got}, the kernel loads {want} "
                f"elements (with BLOCK_K = {bk})"
            )
