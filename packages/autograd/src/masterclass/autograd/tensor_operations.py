r"""# Tensor operations in PyTorch: layout, views, dtypes and in-place ops

A `torch.Tensor` is a *view* onto a flat block of memory (its storage): a shape, a stride per
dimension (how many elements to skip to move one step along it) and a storage offset. Element
$(i_0, \dots, i_{n-1})$ lives at

$$\text{offset} + \sum_k i_k \, \text{stride}_k .$$

Everything in this chapter follows from that formula, and each function below computes one piece
of it by hand so the tests can hold it against what PyTorch reports:

- **Contiguity.** A fresh tensor is row-major: $\text{stride}_k = \prod_{j > k} n_j$
  (`contiguous_strides`). `transpose`, `permute`, `expand` and step slicing only change strides, so
  they are free, but the result is no longer contiguous, and `view` (which never copies) refuses
  shapes that the strides cannot express; `reshape` copies when it must, `.contiguous()` always
  produces the row-major copy. `is_contiguous` reimplements PyTorch's test, which ignores the
  stride of any size-1 dimension.
- **Broadcasting.** Shapes are aligned from the right; each pair of sizes must be equal or contain a
  1 (`broadcast_shape`). An expanded dimension gets stride 0, so the same memory is read
  repeatedly and nothing is copied (`expanded_strides`).
- **Views vs copies.** Two tensors share memory if they use the same storage
  (`shares_storage`): a view writes through to its base, a copy does not.
- **dtype and device.** `describe` reports the layout facts together with `dtype` and `device`;
  moving between them (`.to(torch.float64)`, `.to("cuda")`) is always a copy.
- **In-place ops and the version counter.** Every in-place op (`add_`, `x[0] = 1`, `relu_`)
  increments a counter shared by a tensor and all its views. Autograd records the counter of each
  tensor it saves for backward and refuses to run backward if it changed: the saved value would be
  wrong. `version_bumps` measures this counter.

Left out: sparse, quantized and nested layouts; the `channels_last` memory format (Module 4).
Strides on NumPy arrays, in bytes rather than elements, are in
[NumPy for ML](numpy_fundamentals.md).

## Exercises

1. Write `gather(storage, shape, strides, offset)`: read the tensor that `(shape, strides,
   offset)` describes out of a flat numpy `storage` with the address formula, for any strides
   (transposed, overlapping, zero). Check it (against `torch.as_strided`):
   `uv run pytest --exercise autograd.tensor_operations`.
2. Write `slice_layout(shape, strides, offset, index)`: the `(shape, strides, storage offset)`
   of `t[index]`, where `index` holds an int or a positive-step slice per leading dim. Check it:
   `uv run pytest --exercise autograd.tensor_operations`.
3. Write `view_strides(shape, strides, new_shape)`: the strides of `t.view(new_shape)`, or `None`
   where `view` refuses because the strides cannot express the new shape without a copy (group
   the old dims into chunks whose strides chain, $\text{stride}_{k-1} = n_k\,\text{stride}_k$;
   each chunk must be split or merged by new dims on its own). Check it:
   `uv run pytest --exercise autograd.tensor_operations`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


# Row-major strides: the last dimension steps by one element, each earlier one by the product of
# the sizes after it.
def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Row-major strides (in elements) of a tensor of `shape`.

    >>> contiguous_strides((2, 3, 4))
    (12, 4, 1)
    """
    strides, step = [], 1
    for n in reversed(tuple(shape)):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


# Contiguity compares against those strides from the last dim inward; a size-1 dim may have any
# stride, since it is never stepped over.
def is_contiguous(shape: Sequence[int], strides: Sequence[int]) -> bool:
    """Whether `(shape, strides)` is row-major, ignoring size-1 dims as PyTorch does.

    An empty tensor (a zero in the shape) is contiguous whatever its strides.
    """
    if 0 in shape:
        return True
    expected = 1
    for n, s in zip(reversed(tuple(shape)), reversed(tuple(strides)), strict=True):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


# Broadcasting aligns shapes on the right; in each dimension the sizes must agree or be 1.
def broadcast_shape(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape that `shapes` broadcast to, or a ValueError naming the clash.

    >>> broadcast_shape((3, 1), (4,))
    (3, 4)
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(ndim):
        sizes = {s[len(s) - ndim + k] for s in shapes if len(s) - ndim + k >= 0}
        big = sizes - {1}
        if len(big) > 1:
            raise ValueError(
                f"broadcast_shape: shapes {[tuple(s) for s in shapes]} clash at dim {k - ndim} "
                f"(sizes {sorted(sizes)})"
            )
        out.append(big.pop() if big else 1)
    return tuple(out)


# Expanding never copies: a stretched dimension gets stride 0, so every index along it reads the
# same memory.
def expanded_strides(
    shape: Sequence[int], strides: Sequence[int], target: Sequence[int]
) -> tuple[int, ...]:
    """Strides of `tensor.expand(target)` for a tensor with `shape` and `strides`.

    A stretched dimension (size 1 → n) gets stride 0: the same memory is read n times. A new
    leading dimension gets stride 0 too, unless its size is 1, where the stride is never used and
    PyTorch fills in the row-major value (size × stride of the dimension to its right).
    """
    broadcast_shape(shape, target)
    lead = len(target) - len(shape)
    out = [0] * len(target)
    for i in reversed(range(len(target))):
        if i >= lead:
            n, s = shape[i - lead], strides[i - lead]
            out[i] = s if n == target[i] else 0
        elif target[i] == 1:
            out[i] = target[i + 1] * out[i + 1] if i + 1 < len(target) else 0
    return tuple(out)


# Two tensors share memory when their storages start at the same address.
def shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    """True if `a` and `b` are views of the same memory (so writes to one show in the other)."""
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


# The layout facts of a tensor, collected in one record.
@dataclass
class Layout:
    """What `describe` reports about a tensor."""

    shape: tuple[int, ...]
    strides: tuple[int, ...]  # in elements
    storage_offset: int  # in elements
    contiguous: bool
    dtype: torch.dtype
    device: torch.device
    bytes_per_element: int


# The facts read off a torch tensor, with contiguity by the rule above rather than torch's flag.
def describe(t: torch.Tensor) -> Layout:
    """The layout facts of `t`, the contiguity computed by `is_contiguous`."""
    return Layout(
        tuple(t.shape),
        tuple(t.stride()),
        t.storage_offset(),
        is_contiguous(t.shape, t.stride()),
        t.dtype,
        t.device,
        t.element_size(),
    )


# The version counter counts in-place writes; autograd refuses a saved tensor whose count moved.
def version_bumps(t: torch.Tensor, fn: Callable[[torch.Tensor], object]) -> int:
    """How many times `fn(t)` incremented `t`'s version counter (0 for out-of-place code)."""
    before = t._version
    fn(t)
    return t._version - before
