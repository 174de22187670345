r"""# Exercises: Int8 dequantize-matmul: weight-only quantization in the kernel

The PyTorch ground truth of the int8 kernel."""

import torch


def solution_1_dequant_matmul_reference(x, q, scale):
    return x.float() @ (q.float() * scale[:, None]).T


def check_1_dequant_matmul_reference(fn) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 8, generator=g, dtype=torch.float64)
    q = torch.randint(-127, 128, (5, 8), generator=g, dtype=torch.int8)
    scale = torch.rand(5, generator=g, dtype=torch.float64)
    want = torch.stack([x @ (scale[n] * q[n].double()) for n in range(5)], dim=1)  # (3, 5)
    got = fn(x.float(), q, scale.float())
    assert got.shape == (3, 5), f"expected shape (3, 5), got {tuple(got.shape)}"
    assert torch.allclose(got.double(), want, atol=1e-4), "dequant_matmul_reference is wrong"
