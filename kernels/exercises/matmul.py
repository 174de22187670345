r"""# Exercises: Tiled matrix multiplication

The grouped ordering of tiles, written in plain Python."""


def solution_1_tile_of(pid: int, m_tiles: int, n_tiles: int, group_m: int) -> tuple[int, int]:
    per_group = group_m * n_tiles
    first_m = (pid // per_group) * group_m
    size = min(m_tiles - first_m, group_m)
    return first_m + (pid % per_group) % size, (pid % per_group) // size


def check_1_tile_of(fn) -> None:
    for m_tiles, n_tiles, group_m in [(4, 3, 2), (5, 4, 2), (3, 3, 8), (6, 2, 1)]:
        tiles = [fn(pid, m_tiles, n_tiles, group_m) for pid in range(m_tiles * n_tiles)]
        assert sorted(tiles) == [(i, j) for i in range(m_tiles) for j in range(n_tiles)], (
            f"tile_of does not visit every tile exactly once for {m_tiles}x{n_tiles}, group {group_m}"
        )
        want = [
            solution_1_tile_of(pid, m_tiles, n_tiles, group_m) for pid in range(m_tiles * n_tiles)
        ]
        assert tiles == want, (
            f"tile_of's order differs from the grouped ordering for {m_tiles}x{n_tiles}"
        )
    # group_m = 1 is plain row-major order: an independent check of the formula.
    assert [fn(p, 2, 3, 1) for p in range(6)] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
