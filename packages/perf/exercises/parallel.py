r"""# Exercises: Parallel processing on one machine: threads, processes, vectors

Replacing a loop by tensor operations, and dividing a loop among threads."""

import torch


def solution_1_softmax_rows_vectorized(x: torch.Tensor) -> torch.Tensor:
    z = x - x.max(dim=1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=1, keepdim=True)


def check_1_softmax_rows_vectorized(fn) -> None:
    g = torch.Generator().manual_seed(0)
    for x in (torch.randn(5, 7, generator=g), 1000 * torch.randn(3, 4, generator=g)):
        got, want = fn(x), torch.softmax(x, dim=1)
        assert torch.isfinite(got).all(), "softmax_rows_vectorized overflowed on large inputs"
        assert torch.allclose(got, want, atol=1e-6), (
            "softmax_rows_vectorized differs from torch.softmax"
        )


def solution_2_chunk_ranges(n: int, k: int) -> list[tuple[int, int]]:
    base, extra = divmod(n, k)
    out, start = [], 0
    for i in range(k):
        stop = start + base + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def check_2_chunk_ranges(fn) -> None:
    for n, k in [(10, 3), (7, 7), (5, 2), (100, 8), (3, 5)]:
        got = list(fn(n, k))
        assert len(got) == k, f"chunk_ranges({n}, {k}) gave {len(got)} pieces, expected {k}"
        covered = [i for a, b in got for i in range(a, b)]
        assert covered == list(range(n)), (
            f"chunk_ranges({n}, {k}) = {got} does not cover range({n}) in order"
        )
        sizes = [b - a for a, b in got]
        assert max(sizes) - min(sizes) <= 1, (
            f"chunk_ranges({n}, {k}) sizes {sizes} differ by more than one"
        )
