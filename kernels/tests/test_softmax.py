"""The fused softmax kernel against torch.softmax over shapes and dtypes (interpreter on CPU)."""

import pytest
import torch

from masterclass.kernels.softmax import softmax, softmax_reference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize("shape", [(1, 1), (4, 37), (2, 3, 64)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_matches_torch(shape, dtype):
    x = (3 * torch.randn(shape, generator=torch.Generator().manual_seed(0))).to(DEVICE, dtype)
    want = torch.softmax(x.double(), dim=-1)
    # float32 arithmetic inside: ~1e-7 relative; float16 storage rounds to 2^-11 relative.
    tol = 1e-6 if dtype == torch.float32 else 1e-3
    torch.testing.assert_close(softmax(x).double(), want, rtol=tol, atol=tol)
    torch.testing.assert_close(softmax_reference(x).double(), want, rtol=tol, atol=tol)


def test_large_inputs_do_not_overflow():
    x = torch.tensor([[1000.0, 1001.0, 999.0]], device=DEVICE)
    assert torch.isfinite(softmax(x)).all()


def test_bad_input():
    with pytest.raises(ValueError, match="non-empty last axis"):
        softmax(torch.ones(()))
