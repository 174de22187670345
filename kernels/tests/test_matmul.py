"""The tiled matmul kernel against torch over shapes, strides and dtypes (interpreter on CPU)."""

import pytest
import torch

from masterclass.kernels.matmul import matmul, matmul_reference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
BLOCKS = dict(block_m=16, block_n=16, block_k=16, group_m=2)


# Shapes below, at and above a tile, and K not a multiple of BLOCK_K.
@pytest.mark.parametrize("mnk", [(16, 16, 16), (37, 29, 50), (5, 70, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_matches_torch(mnk, dtype):
    M, N, K = mnk
    g = torch.Generator().manual_seed(0)
    a = torch.randn(M, K, generator=g).to(DEVICE, dtype)
    b = torch.randn(K, N, generator=g).to(DEVICE, dtype)
    want = a.double() @ b.double()
    # float32 accumulation over K <= 50 unit products: ~1e-5; float16 output rounding of values
    # up to ~20: 2^-11 relative, 1e-2 absolute.
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == torch.float32 else dict(rtol=2e-3, atol=2e-2)
    torch.testing.assert_close(matmul(a, b, **BLOCKS).double(), want, **tol)
    torch.testing.assert_close(matmul_reference(a, b).double(), want, **tol)


def test_default_blocks():
    # The launcher's own tiling (64, 64, 32), group 8: ragged in every dimension.
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(70, 40, generator=g).to(DEVICE), torch.randn(40, 130, generator=g).to(DEVICE)
    torch.testing.assert_close(matmul(a, b).double(), a.double() @ b.double(), rtol=1e-5, atol=1e-4)


def test_transposed_operands():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(20, 33, generator=g).to(DEVICE).T  # (33, 20), column-major strides
    b = torch.randn(18, 20, generator=g).to(DEVICE).T  # (20, 18)
    torch.testing.assert_close(matmul(a, b, **BLOCKS), a @ b, rtol=1e-5, atol=1e-4)


def test_bad_input():
    with pytest.raises(ValueError, match=r"need a \(M, K\) and b \(K, N\)"):
        matmul(torch.ones(2, 3), torch.ones(4, 2))
    with pytest.raises(ValueError, match="precision must be 'ieee' or 'tf32'"):
        matmul(torch.ones(2, 3), torch.ones(3, 2), precision="fp16")


# On a GPU, TF32 rounds each float32 input to 10 mantissa bits: over K = 512 unit products its
# error against float64 is ~1e-2 absolute (sqrt(512) * 2^-11 * O(1) per input pair, twice), far
# above float32's ~1e-5, and still far below the values' O(20) size.
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tf32_products_err_more_than_ieee():
    g = torch.Generator().manual_seed(2)
    a, b = (torch.randn(256, 512, generator=g).cuda(), torch.randn(512, 256, generator=g).cuda())
    want = a.double() @ b.double()
    ieee = (matmul(a, b, precision="ieee").double() - want).abs().max().item()
    tf32 = (matmul(a, b, precision="tf32").double() - want).abs().max().item()
    assert ieee < 1e-3 and 3e-3 < tf32 < 0.5, (ieee, tf32)
