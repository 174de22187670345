r"""# Parallel processing on one machine: threads, processes, vectors

A CPU offers three kinds of parallelism, and PyTorch uses each in a different place.

- **SIMD lanes (vectorisation).** One AVX-512 instruction adds 16 floats. PyTorch's kernels are
  written for it; a Python loop over elements is not, and it pays the interpreter's overhead
  (a bytecode dispatch, a boxed float, a tensor created per operation: microseconds each) per
  element. Writing the computation as whole-tensor operations is the first and largest speedup.
  `pairwise_sq_distances` shows it:
  $\lVert x_i - y_j \rVert^2 = \lVert x_i\rVert^2 - 2\,x_i \cdot y_j + \lVert y_j \rVert^2$
  turns a double loop into one matrix product and two broadcasts.
- **Intra-op threads.** One large operator (a matrix product, a reduction) is split across the
  cores by OpenMP; `torch.set_num_threads(n)` sets how many (default: the physical cores).
  Small operators do not benefit: splitting costs microseconds. `num_threads` sets it for a block.
- **Inter-op parallelism.** Independent operators run at the same time on different threads.
  PyTorch's C++ kernels release Python's global interpreter lock (GIL), so plain Python threads
  (`run_concurrently`) do run tensor operations in parallel; the Python code between them does not.
  Two levels at once oversubscribe: with $k$ threads each using $n$ intra-op threads, keep
  $k \cdot n \le$ the core count.
- **Processes.** Work that is Python code (decoding an image, tokenizing a document) holds the
  GIL, so it needs processes: `torch.utils.data.DataLoader(num_workers=k)` forks $k$ workers
  that build batches while the main process trains, and `torch.multiprocessing` shares tensors
  between them through shared memory instead of pickling their bytes. Module 2's
  `masterclass.autograd.DataLoader` rebuilds that loader; the tests check that with two workers
  it yields torch's batches exactly.

`bench/parallel.py` measures each speedup on this machine.

References: PyTorch, [CPU threading and TorchScript
inference](https://pytorch.org/docs/stable/notes/cpu_threading_torchscript_inference.html) and
[Multiprocessing best practices](https://pytorch.org/docs/stable/notes/multiprocessing.html).

Left out: NUMA pinning, `torch.jit.fork` (TorchScript's inter-op tasks), and multi-machine
parallelism (Module 3's `data_parallel`, Module 8).

>>> x, y = torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[3.0, 4.0]])
>>> pairwise_sq_distances(x, y)
tensor([[25.],
        [13.]])

## Exercises

1. Write `softmax_rows_vectorized(x)`: a row-wise softmax of a `(N, C)` tensor without Python
   loops, stable for large inputs (subtract each row's max).
   Check it: `uv run pytest --exercise perf.parallel`
2. Write `chunk_ranges(n, k)`: split `range(n)` into `k` contiguous `(start, stop)` pieces whose
   lengths differ by at most one (how a parallel loop divides work among threads).
   Check it: `uv run pytest --exercise perf.parallel`
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "num_threads",
    "pairwise_sq_distances",
    "pairwise_sq_distances_loop",
    "run_concurrently",
]


# ## Vectorised against looped
#
# The loop is the definition; the vectorised form expands the square. The expansion can go
# slightly negative through cancellation when two points nearly coincide, so it is clamped at 0.
def pairwise_sq_distances_loop(x: Tensor, y: Tensor) -> Tensor:
    r"""$D_{ij} = \sum_c (x_{ic} - y_{jc})^2$ by two Python loops; `x` `(N, C)`, `y` `(M, C)`."""
    _check_pair(x, y)
    out = torch.empty(x.shape[0], y.shape[0], dtype=x.dtype)
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            out[i, j] = ((x[i] - y[j]) ** 2).sum()
    return out


# The vectorised form, clamped at 0 against the cancellation.
def pairwise_sq_distances(x: Tensor, y: Tensor) -> Tensor:
    """The same `(N, M)` matrix as one product and two broadcasts."""
    _check_pair(x, y)
    sq_x = (x * x).sum(1, keepdim=True)  # (N, 1)
    sq_y = (y * y).sum(1)[None, :]  # (1, M)
    return (sq_x - 2 * x @ y.T + sq_y).clamp_min(0)  # (N, M)


def _check_pair(x: Tensor, y: Tensor) -> None:
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must be (N, C) and (M, C) with the same C, got {tuple(x.shape)} and "
            f"{tuple(y.shape)}"
        )


# ## Intra-op threads for a block of code
#
# The setting is process-wide, so the previous value is restored on the way out, even on error.
@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run the block with `torch.set_num_threads(n)`, then restore the previous count."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# ## Inter-op parallelism with Python threads
#
# Each function runs on its own thread; results come back in the order given. This helps only
# when the functions spend their time inside PyTorch's kernels (which release the GIL).
def run_concurrently(fns: Sequence[Callable[[], Any]], *, threads: int | None = None) -> list[Any]:
    """Call every function in `fns` on a pool of `threads` threads (default: one each)."""
    if not all(callable(f) for f in fns):
        raise TypeError("fns must be a sequence of callables taking no arguments")
    if not fns:
        return []
    with ThreadPoolExecutor(max_workers=threads or len(fns)) as pool:
        return [f.result() for f in [pool.submit(fn) for fn in fns]]
