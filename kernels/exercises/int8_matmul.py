r"""# Exercises: Int8 dequantize-matmul: weight-only quantization in the kernel

The PyTorch ground truth of the int8 kernel, and the per-row quantization that feeds it."""

import numpy as np
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


def solution_2_quantize_per_row(w):
    scale = w.abs().amax(dim=1) / 127
    return torch.round(w / scale[:, None]).to(torch.int8), scale


def check_2_quantize_per_row(fn) -> None:
    """Against a numpy quantizer in float64: `q` exactly, `scale` to rounding (1e-12 relative)."""
    rng = np.random.default_rng(0)
    for shape, spread in [((4, 16), 1.0), ((7, 5), 0.01), ((1, 64), 30.0)]:
        w = rng.standard_normal(shape) * spread * rng.uniform(0.5, 2.0, size=(shape[0], 1))
        want_scale = np.abs(w).max(axis=1) / 127
        want_q = np.clip(np.rint(w / want_scale[:, None]), -127, 127).astype(np.int8)
        q, scale = fn(torch.from_numpy(w))
        assert q.dtype == torch.int8, f"q must be torch.int8, got {q.dtype}"
        assert tuple(q.shape) == shape, f"q has shape {tuple(q.shape)}, want {shape}"
        got_scale = np.asarray(scale, dtype=np.float64)
        assert np.allclose(got_scale, want_scale, rtol=1e-12, atol=0), (
            f"scale {got_scale} differs from max|w| / 127 per row {want_scale}"
        )
        assert np.array_equal(q.numpy(), want_q), (
            f"q differs from round(w / scale) in {(q.numpy() != want_q).sum()} of {w.size} places"
        )
        err = np.abs(got_scale[:, None] * q.numpy() - w).max(axis=1)
        assert (err <= got_scale / 2 * (1 + 1e-9)).all(), "a weight is further than scale/2 away"
