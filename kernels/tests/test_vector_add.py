"""Vector add against torch over sizes that are and are not multiples of the tile (interpreter on CPU)."""

import pytest
import torch

from masterclass.kernels.vector_add import vector_add, vector_add_reference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize("n", [1, 100, 128, 1000])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_matches_torch(n, dtype):
    g = torch.Generator().manual_seed(n)
    x, y = (torch.randn(n, generator=g).to(DEVICE, dtype) for _ in range(2))
    # One rounded addition, the same IEEE operation in both: bitwise equal.
    assert torch.equal(vector_add(x, y, block=128), vector_add_reference(x, y))


def test_bad_input():
    with pytest.raises(ValueError, match="same shape, dtype and device"):
        vector_add(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="block must be a power of two"):
        vector_add(torch.ones(3), torch.ones(3), block=100)
