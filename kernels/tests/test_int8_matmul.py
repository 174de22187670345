"""The int8 dequantize-matmul kernel against the float product with the dequantized weight."""

import pytest
import torch

from masterclass.kernels.int8_matmul import int8_matmul, int8_matmul_reference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
BLOCKS = dict(block_m=16, block_n=16, block_k=16)


def _weights(n, k, seed=0):
    # Symmetric per-row int8, the format of masterclass.deploy.quantization.
    w = torch.randn(n, k, generator=torch.Generator().manual_seed(seed))
    scale = w.abs().amax(1) / 127
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q.to(DEVICE), scale.to(DEVICE)


@pytest.mark.parametrize("mnk", [(1, 16, 16), (5, 33, 70), (17, 8, 40)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_matches_the_dequantized_product(mnk, dtype):
    if dtype == torch.bfloat16 and DEVICE == "cpu":
        # Seen with Triton 3.9: the interpreter's tl.dot returns garbage (~1e9) for bfloat16
        # tiles; numpy, which it runs on, has no bfloat16.
        pytest.skip("Triton's interpreter has no bfloat16 tl.dot; the GPU runs this case")
    M, N, K = mnk
    q, scale = _weights(N, K)
    x = torch.randn(M, K, generator=torch.Generator().manual_seed(1)).to(DEVICE, dtype)
    # Reference independent of both: float64 product with the dequantized weight.
    want = x.double() @ (q.double() * scale.double()[:, None]).T
    # Output rounding: float32 ~1e-7, float16 2^-11 and bfloat16 2^-8 relative, of values O(5).
    tol = {
        torch.float32: dict(rtol=1e-5, atol=1e-5),
        torch.float16: dict(rtol=2e-3, atol=2e-2),
        torch.bfloat16: dict(rtol=8e-3, atol=2e-2),
    }[dtype]
    torch.testing.assert_close(int8_matmul(x, q, scale, **BLOCKS).double(), want, **tol)
    torch.testing.assert_close(int8_matmul_reference(x, q, scale).double(), want, **tol)


def test_default_blocks():
    # The launcher's own tiling (32, 64, 64): ragged in every dimension.
    q, scale = _weights(70, 100)
    x = torch.randn(33, 100, generator=torch.Generator().manual_seed(2)).to(DEVICE)
    want = x.double() @ (q.double() * scale.double()[:, None]).T
    torch.testing.assert_close(int8_matmul(x, q, scale).double(), want, rtol=1e-5, atol=1e-5)


def test_bad_input():
    q, scale = _weights(4, 8)
    with pytest.raises(ValueError, match="int8 q"):
        int8_matmul(torch.ones(2, 8, device=DEVICE), q.float(), scale)
    with pytest.raises(ValueError, match=r"scale must have shape \(4,\)"):
        int8_matmul(torch.ones(2, 8, device=DEVICE), q, scale[:2])
    with pytest.raises(ValueError, match="x must be float32, float16 or bfloat16"):
        int8_matmul(torch.ones(2, 8, device=DEVICE, dtype=torch.float64), q, scale)
