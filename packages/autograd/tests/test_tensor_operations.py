"""Strides, contiguity, broadcasting, views and the version counter: our arithmetic against what
PyTorch reports for the same tensors. These are exact integer facts, so comparisons are exact."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.autograd.tensor_operations import (
    broadcast_shape,
    contiguous_strides,
    describe,
    expanded_strides,
    is_contiguous,
    shares_storage,
    version_bumps,
)

shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)
SETTINGS = settings(max_examples=25, deadline=None)


@SETTINGS
@given(shape=shapes)
def test_contiguous_strides_match_torch(shape):
    assert contiguous_strides(shape) == torch.empty(shape).stride()


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple), data=st.data())
def test_is_contiguous_matches_torch_after_permute_and_slicing(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    step = data.draw(st.integers(1, 2))
    t = torch.empty(shape).permute(*perm)[..., ::step]
    assert is_contiguous(t.shape, t.stride()) == t.is_contiguous()
    assert describe(t).contiguous == t.is_contiguous()


@SETTINGS
@given(data=st.data())
def test_broadcast_shape_and_expand_strides_match_torch(data):
    target = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple))
    keep = data.draw(st.integers(0, len(target)))
    shape = tuple(n if data.draw(st.booleans()) else 1 for n in target[len(target) - keep :])
    assert broadcast_shape(shape, target) == torch.broadcast_shapes(shape, target)
    t = torch.empty(shape)
    expanded = t.expand(target)
    assert expanded_strides(shape, t.stride(), target) == expanded.stride()
    assert shares_storage(t, expanded)  # expand never copies


def test_broadcast_clash_names_the_shapes():
    with pytest.raises(ValueError, match=r"\[\(2, 3\), \(4,\)\] clash at dim -1"):
        broadcast_shape((2, 3), (4,))
    with pytest.raises(RuntimeError):  # and torch agrees that these do not broadcast
        torch.broadcast_shapes((2, 3), (4,))


def test_views_share_memory_copies_do_not():
    x = torch.arange(12.0).reshape(3, 4)
    for view in (x.T, x[1], x[:, ::2], x.view(4, 3), x.unsqueeze(0), x.expand(2, 3, 4)):
        assert shares_storage(x, view)
    t = x.T
    assert not t.is_contiguous() and not describe(t).contiguous
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.view(12)  # strides (1, 4) cannot be flattened without a copy
    flat = t.reshape(12)  # reshape falls back to a copy
    assert not shares_storage(x, flat) and not shares_storage(x, t.contiguous())
    x[0, 0] = 100.0
    assert t[0, 0] == 100.0 and flat[0] == 0.0  # the view sees the write, the copy does not
    assert describe(x[1:, 1:]).storage_offset == 5  # row 1, col 1 of a (3, 4) row-major block


def test_dtype_and_device_conversions_copy():
    x = torch.ones(3, dtype=torch.float32)
    y = x.to(torch.float64)
    assert describe(y).dtype == torch.float64 and describe(y).bytes_per_element == 8
    assert not shares_storage(x, y) and describe(x).device == torch.device("cpu")
    assert x.to(torch.float32) is x  # a no-op conversion returns the tensor itself
    assert (torch.ones(2, dtype=torch.int64) + 0.5).dtype == torch.get_default_dtype()


def test_version_counter_counts_inplace_ops_and_guards_backward():
    x = torch.ones(4)
    assert version_bumps(x, lambda t: t.add_(1)) == 1
    assert version_bumps(x, lambda t: t + 1) == 0
    view = x[:2]
    assert version_bumps(x, lambda t: view.mul_(2)) == 1  # views share the counter
    a = torch.ones(3, requires_grad=True)
    h = a.exp()  # exp saves its output for backward
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        h.sum().backward()
