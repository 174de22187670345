"""Loops against vectorised NumPy: pairwise distances and einsum against matmul.

Run: `.venv/bin/python packages/autograd/bench/vectorisation.py`
Prints times and ratios measured in the same run (best of several repeats).
"""

import timeit

import numpy as np

from masterclass.autograd.numpy_fundamentals import (
    einsum,
    pairwise_sq_distances,
    pairwise_sq_distances_loop,
)


def best(fn, repeat=5, number=3):
    """Best time per call in seconds over `repeat` rounds of `number` calls."""
    return min(timeit.repeat(fn, repeat=repeat, number=number)) / number


def main() -> None:
    rng = np.random.default_rng(0)
    for n, d in [(50, 8), (100, 16)]:
        x, y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
        t_loop = best(lambda x=x, y=y: pairwise_sq_distances_loop(x, y), repeat=2, number=1)
        t_vec = best(lambda x=x, y=y: pairwise_sq_distances(x, y))
        print(
            f"pairwise distances n={n} d={d}: loop {t_loop * 1e3:8.2f} ms   "
            f"vectorised {t_vec * 1e3:8.3f} ms   speed-up {t_loop / t_vec:7.0f}x"
        )
    a, b = rng.standard_normal((8, 64, 64)), rng.standard_normal((8, 64, 64))
    t_ours = best(lambda: einsum("bij,bjk->bik", a, b))
    t_np = best(lambda: np.einsum("bij,bjk->bik", a, b, optimize=True))
    t_mm = best(lambda: a @ b)
    print(
        f"batched matmul (8,64,64): our broadcast einsum {t_ours * 1e3:.3f} ms, "
        f"np.einsum {t_np * 1e3:.3f} ms, matmul {t_mm * 1e3:.3f} ms "
        f"(ours / matmul = {t_ours / t_mm:.0f}x: it materialises the (b,i,j,k) product)"
    )


if __name__ == "__main__":
    main()
