r"""# Exercises: Tensor operations in PyTorch: layout, views, dtypes and in-place ops

The address formula $\text{offset} + \sum_k i_k\,\text{stride}_k$ used three ways: to read a
tensor out of its flat storage, to predict the layout of a slice, and to decide whether `view`
can reshape without copying. Each is checked against what PyTorch itself reports."""

import numpy as np
import torch


def solution_1_gather(
    storage: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...], offset: int
) -> np.ndarray:
    """The tensor `(shape, strides, offset)` describes, read out of a flat 1-D `storage`."""
    grids = np.indices(shape)  # (ndim, *shape): each element's index along each dim
    address = offset + sum(g * s for g, s in zip(grids, strides, strict=True))
    return storage[address]


def check_1_gather(fn) -> None:
    """Compare with `torch.as_strided` over the same storage (overlapping and zero strides too)."""
    storage = np.arange(40.0)
    cases = [
        ((3, 4), (4, 1), 0),  # row-major
        ((4, 3), (1, 4), 0),  # its transpose
        ((2, 3, 2), (12, 1, 3), 5),  # permuted, with an offset
        ((5, 3), (1, 1), 2),  # overlapping windows
        ((3, 4), (0, 2), 7),  # a stride-0 (expanded) dim
        ((2, 2, 2), (20, 10, 1), 3),
    ]
    base = torch.from_numpy(storage)
    for shape, strides, offset in cases:
        want = torch.as_strided(base, shape, strides, offset).numpy()
        got = np.asarray(fn(storage.copy(), shape, strides, offset))
        where = f"shape {shape}, strides {strides}, offset {offset}"
        assert got.shape == want.shape, f"{where}: shape {got.shape}, want {want.shape}"
        # Values are the storage's own (0.0, 1.0, ...): reading them is exact.
        assert np.array_equal(got, want), (
            f"{where}: got\n{got}\nwant\n{want}\n(element i lives at offset + sum_k i_k stride_k)"
        )


def solution_2_slice_layout(
    shape: tuple[int, ...], strides: tuple[int, ...], offset: int, index: tuple[int | slice, ...]
) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """`(shape, strides, storage offset)` of `t[index]` for basic indexing with positive steps.

    `index` holds one int or slice per leading dim; an int removes its dim, a slice
    `start:stop:step` keeps it with `len(range(start, stop, step))` elements and stride
    `step * stride`. Dims after the index are kept as they are.
    """
    new_shape, new_strides = [], []
    for k, n in enumerate(shape):
        if k >= len(index):
            new_shape.append(n)
            new_strides.append(strides[k])
            continue
        item = index[k]
        if isinstance(item, slice):
            start, stop, step = item.indices(n)
            new_shape.append(len(range(start, stop, step)))
            new_strides.append(step * strides[k])
            offset += start * strides[k]
        else:
            offset += (item % n) * strides[k]
    return tuple(new_shape), tuple(new_strides), offset


def check_2_slice_layout(fn) -> None:
    """Compare with the `shape`, `stride()` and `storage_offset()` of PyTorch's own slice."""
    base = torch.arange(200.0)
    cases = [
        ((4, 5), (5, 1), 0, (slice(1, 3),)),
        ((4, 5), (5, 1), 0, (slice(None), slice(1, None, 2))),
        ((4, 5), (5, 1), 0, (2,)),
        ((4, 5), (5, 1), 0, (-1, slice(None, None, 3))),
        ((3, 4, 5), (20, 5, 1), 10, (slice(1, None), 2, slice(0, 5, 2))),
        ((5, 4), (1, 5), 3, (slice(-3, None), slice(1, 3))),  # a transposed layout
        ((6, 6), (6, 1), 0, (slice(2, 100, 4), -2)),  # a stop beyond the end is clipped
    ]
    for shape, strides, offset, index in cases:
        view = torch.as_strided(base, shape, strides, offset)[index]
        want = (tuple(view.shape), tuple(view.stride()), view.storage_offset())
        got = fn(shape, strides, offset, index)
        got = (tuple(got[0]), tuple(got[1]), int(got[2]))
        assert got == want, (
            f"t of shape {shape}, strides {strides}, offset {offset}, indexed by {index}: got "
            f"(shape, strides, offset) = {got}, PyTorch reports {want}"
        )


def solution_3_view_strides(
    shape: tuple[int, ...], strides: tuple[int, ...], new_shape: tuple[int, ...]
) -> tuple[int, ...] | None:
    """Strides of `t.view(new_shape)`, or None where `view` must refuse (a copy would be needed).

    Walk the old dims from the last; dims whose strides chain (`stride[k - 1] == size[k] *
    stride[k]`) form one contiguous chunk that the new shape may split or merge freely. Each chunk
    must be covered exactly by consecutive new dims, whose strides then follow row-major inside it.
    """
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_stride = strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[d]
        chunk_ends = d == 0 or (shape[d - 1] != 1 and strides[d - 1] != tensor_numel * chunk_stride)
        if chunk_ends:
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                chunk_stride = strides[d - 1]
                tensor_numel = view_numel = 1
    return tuple(new_strides) if view_d == -1 else None


def check_3_view_strides(fn) -> None:
    """Compare with `torch.Tensor.view`: the same strides where it succeeds, None where it raises.

    The stride of a size-1 dim is never used to address anything, so only the others are compared.
    """
    base = torch.arange(720.0)
    cases = [
        ((2, 3, 4), (12, 4, 1), (6, 4)),
        ((2, 3, 4), (12, 4, 1), (4, 3, 2)),
        ((2, 3, 4), (12, 4, 1), (24,)),
        ((3, 2), (1, 3), (6,)),  # a transpose cannot be flattened
        ((3, 2), (1, 3), (3, 2, 1)),  # but a size-1 dim can be added
        ((4, 3, 2), (1, 4, 12), (4, 6)),  # permuted: the last two dims chain, the first does not
        ((4, 3, 2), (1, 4, 12), (2, 2, 3, 2)),  # splitting the dim that stands alone
        ((4, 3, 2), (1, 4, 12), (12, 2)),
        ((2, 3, 4), (24, 4, 1), (2, 12)),  # step-sliced rows: the last two dims still chain
        ((2, 3, 4), (24, 4, 1), (6, 4)),
        ((5, 1, 4), (4, 99, 1), (20,)),  # a size-1 dim with an odd stride does not break a chunk
        ((6, 4), (4, 1), (2, 3, 2, 2)),
    ]
    for shape, strides, new_shape in cases:
        t = torch.as_strided(base, shape, strides)
        try:
            want = tuple(t.view(new_shape).stride())
        except RuntimeError:
            want = None
        got = fn(shape, strides, new_shape)
        where = f"view {new_shape} of shape {shape}, strides {strides}"
        if want is None:
            assert got is None, f"{where}: PyTorch refuses (it would need a copy), you gave {got}"
            continue
        assert got is not None, f"{where}: PyTorch gives strides {want}, you said it must copy"
        used = [k for k, n in enumerate(new_shape) if n != 1]
        assert [got[k] for k in used] == [want[k] for k in used], (
            f"{where}: strides {tuple(got)}, PyTorch gives {want}"
        )
