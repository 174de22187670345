r"""# Exercises: Stage 6 · Quantization: int8 weights, and what they cost in loss

Per-channel int8 quantization of a matrix and its round-trip error bound, then the bound that
error puts on a linear layer's output, checked against numpy and `deploy`'s quantizer."""

import numpy as np
import torch

from masterclass.deploy.quantization import dequantize_weight, quantize_weight


def solution_1_quantize_rows(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`(q, scale)`: int8 `q` (C_out, C_in) in [-127, 127] and float32 `scale` (C_out,)."""
    scale = w.abs().amax(dim=1) / 127  # (C_out,)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.clamp(torch.round(w / scale[:, None]), -127, 127).to(torch.int8)  # (C_out, C_in)
    return q, scale


def _matrices(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = [torch.randn(c_out, c_in, generator=g) * 0.02 for c_out, c_in in [(8, 16), (5, 3)]]
    out.append(torch.randn(6, 10, generator=g) * torch.logspace(-3, 1, 6)[:, None])  # mixed rows
    heavy = torch.randn(4, 32, generator=g)
    heavy[0, 3] = 40.0  # one outlier: its row's scale is large, its other weights coarse
    return [*out, heavy]


def check_1_quantize_rows(fn) -> None:
    """Against numpy: |scale * q - w| <= scale / 2 for every weight, scale = row max / 127."""
    for w in _matrices(0):
        q, scale = fn(w.clone())
        q, scale = torch.as_tensor(q), torch.as_tensor(scale).reshape(-1)
        wn = w.numpy().astype(np.float64)
        want_scale = np.abs(wn).max(axis=1) / 127  # (C_out,)
        assert scale.shape == (w.shape[0],), f"one scale per row: shape {tuple(scale.shape)}"
        # float32 scales against float64 ones: a few ulps.
        assert np.allclose(scale.double().numpy(), want_scale, rtol=1e-6, atol=0), (
            f"scales {scale.tolist()} should be each row's max |w| / 127: {want_scale.tolist()}"
        )
        qn = q.numpy().astype(np.int64)
        assert q.shape == w.shape and qn.min() >= -127 and qn.max() <= 127, (
            "q must have w's shape and lie in [-127, 127]"
        )
        assert (np.abs(qn).max(axis=1) == 127).all(), "each row's largest |w| maps to +-127"
        error = np.abs(want_scale[:, None] * qn - wn)  # (C_out, C_in)
        # Rounding to the nearest level: at most half a step (plus float32 rounding of w / s).
        bound = want_scale[:, None] / 2 * (1 + 1e-5)
        assert (error <= bound).all(), (
            f"round-trip error {error.max():.3g} exceeds half a step ({want_scale.max() / 2:.3g}): "
            "round w / scale to the nearest integer"
        )
        ref, _ = quantize_weight(w)
        assert torch.equal(q.to(torch.int8), ref), "q differs from deploy's quantize_weight"


def solution_2_output_error_bound(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bound on |W_hat x - W x| per output (C_out,): half a step per weight, times sum |x_i|."""
    scale = w.abs().amax(dim=1) / 127  # (C_out,)
    return scale / 2 * x.abs().sum()


def check_2_output_error_bound(fn) -> None:
    """The bound must hold for int8 weights and be the triangle inequality's, in float64."""
    g = torch.Generator().manual_seed(1)
    for w in _matrices(2):
        for _ in range(3):
            x = torch.randn(w.shape[1], generator=g, dtype=torch.float64)  # (C_in,)
            got = torch.as_tensor(fn(w.double(), x)).double().reshape(-1)  # (C_out,)
            q, s = quantize_weight(w)
            w_hat = dequantize_weight(q, s).double()
            actual = ((w_hat - w.double()) @ x).abs()  # (C_out,)
            assert (actual <= got * (1 + 1e-6) + 1e-12).all(), (
                f"the output error {actual.max():.3g} exceeds the bound {got.tolist()}"
            )
            want = np.abs(w.double().numpy()).max(1) / 254 * np.abs(x.numpy()).sum()
            assert np.allclose(got.numpy(), want, rtol=1e-6), (
                f"bound {got.tolist()}, expected (max_i |W_ji| / 127) / 2 * sum_i |x_i| = "
                f"{want.tolist()}"
            )
