"""Vectorised code against loops and NumPy's own routines; stride views against NumPy's."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.autograd.numpy_fundamentals import (
    einsum,
    pairwise_sq_distances,
    pairwise_sq_distances_loop,
    sliding_windows,
)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), d=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_vectorised_distances_match_the_loop(n, m, d, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d))
    # The expansion |x|^2+|y|^2-2x.y loses ~1e-15 relative to the terms (cancellation), hence
    # an absolute tolerance scaled to the squared norms (~d) rather than a relative one.
    np.testing.assert_allclose(
        pairwise_sq_distances(x, y), pairwise_sq_distances_loop(x, y), rtol=0, atol=1e-12 * d
    )


def test_distances_reject_mismatched_widths():
    with pytest.raises(ValueError, match=r"got \(2, 3\) and \(2, 4\)"):
        pairwise_sq_distances(np.ones((2, 3)), np.ones((2, 4)))


@pytest.mark.parametrize("window", [1, 3, 7])
def test_sliding_windows_match_numpy_and_share_memory(window):
    x = np.arange(7.0)[::1]
    ours = sliding_windows(x, window)
    ref = np.lib.stride_tricks.sliding_window_view(x, window)
    np.testing.assert_array_equal(ours, ref)  # integers in float64: exact
    assert np.shares_memory(ours, x) and ours.strides == (8, 8)


SPECS = {
    "ij,jk->ik": [(3, 4), (4, 2)],
    "bij,bjk->bik": [(2, 3, 4), (2, 4, 5)],
    "bhqd,bhkd->bhqk": [(2, 2, 3, 4), (2, 2, 5, 4)],
    "ii->": [(4, 4)],
    "ii->i": [(3, 3)],
    "ij->ji": [(2, 3)],
    "i,j->ij": [(3,), (4,)],
    "ij,ij->": [(3, 3), (3, 3)],
    "ij,jk": [(2, 3), (3, 2)],
    "bii->b": [(2, 3, 3)],
    "ijk,jl,kl->il": [(2, 3, 4), (3, 5), (4, 5)],
}


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_einsum_matches_numpy(spec):
    rng = np.random.default_rng(0)
    ops = [rng.standard_normal(s) for s in SPECS[spec]]
    # Same products summed in a different order: a few ulps.
    np.testing.assert_allclose(einsum(spec, *ops), np.einsum(spec, *ops), rtol=1e-12, atol=1e-12)


def test_einsum_errors_name_the_problem():
    with pytest.raises(ValueError, match="letter 'j' has sizes 3 and 4"):
        einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="names 2 operands, got 1"):
        einsum("ij,jk->ik", np.ones((2, 3)))
