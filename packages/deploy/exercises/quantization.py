r"""# Exercises: Weight-only integer quantization, from scratch

Symmetric per-row quantization, the integer product with the scales factored out, and the
worst-case error bound of a quantized linear layer, checked against the chapter's code and numpy."""

import numpy as np
import torch

from masterclass.deploy.quantization import Int8Linear, quantize_weight


def solution_1_quantize_rows(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    qmax = 2 ** (bits - 1) - 1
    scale = w.abs().amax(dim=1, keepdim=True) / qmax  # (C_out, 1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.clamp(torch.round(w / scale), -qmax, qmax).to(torch.int8)
    return q, scale


def _weights(seed: int) -> torch.Tensor:
    # Rows of very different scales (as trained layers have), one outlier, one all-zero row.
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(6, 16, generator=g) * torch.logspace(-2, 1, 6)[:, None]
    w[1, 3] = 40.0
    w[4] = 0.0
    return w


def check_1_quantize_rows(fn) -> None:
    # Against the chapter's `quantize_weight` (per row: group_size=None), and the rounding bound
    # |w - s q| <= s / 2 that round-to-nearest guarantees. Scales to float32 precision (1e-6).
    for seed, bits in [(0, 8), (1, 4), (2, 3), (3, 8)]:
        w = _weights(seed)
        q, scale = fn(w, bits)
        want_q, want_s = quantize_weight(w, bits=bits)
        assert torch.is_tensor(q) and q.dtype == torch.int8, f"q must be int8, got {q.dtype}"
        assert tuple(scale.shape) == (6, 1), f"scale must be (C_out, 1), got {tuple(scale.shape)}"
        torch.testing.assert_close(scale.float(), want_s, rtol=1e-6, atol=0)
        assert torch.equal(q, want_q), f"bits={bits}: q differs in {(q != want_q).sum()} entries"
        err = (w - scale * q.float()).abs()
        assert (err <= scale / 2 + 1e-6).all(), "an entry is off by more than half a step"


def solution_2_integer_matmul(
    q: torch.Tensor, scale: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    # y = diag(s) Q x: the product on integers (exact in int64), then one multiply per output.
    acc = x.to(torch.int64) @ q.to(torch.int64).T  # (B, C_out)
    return acc.double() * scale[:, 0].double()


def check_2_integer_matmul(fn) -> None:
    # Integer inputs (int8 activations, as an int8 kernel gets them): the result must equal the
    # float64 product with the dequantized weight, (s q) x, to float64 rounding (1e-12 relative).
    g = np.random.default_rng(0)
    for c_out, c_in, batch in [(5, 8, 3), (16, 64, 1), (7, 33, 4)]:
        q = torch.tensor(g.integers(-127, 128, (c_out, c_in)), dtype=torch.int8)
        scale = torch.tensor(g.uniform(1e-3, 1e-1, (c_out, 1)))
        x = torch.tensor(g.integers(-127, 128, (batch, c_in)), dtype=torch.int8)
        want = x.numpy().astype(np.float64) @ (scale.numpy() * q.numpy().astype(np.float64)).T
        got = fn(q, scale, x)
        assert tuple(got.shape) == (batch, c_out), (
            f"shape {tuple(got.shape)}, want {(batch, c_out)}"
        )
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=1e-12, atol=0)


def solution_3_error_bound(scale: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # |y_j - yhat_j| <= sum_i |w_ji - what_ji| |x_i| <= (s_j / 2) ||x||_1
    return scale[:, 0] / 2 * x.abs().sum()


def check_3_error_bound(fn) -> None:
    # The bound for each output of an int8 layer (C_out,), for one input vector x (C_in,):
    # equal to the formula in float64 (1e-12) and never below the error of the chapter's
    # Int8Linear on that input.
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        linear = torch.nn.Linear(24, 5, bias=False).double()
        with torch.no_grad():
            linear.weight.copy_(torch.randn(5, 24, generator=g, dtype=torch.float64))
        layer = Int8Linear.from_linear(linear, bits=4)
        scale = layer.scale.double()  # (C_out, 1)
        x = torch.randn(24, generator=g, dtype=torch.float64)
        bound = torch.as_tensor(fn(scale, x), dtype=torch.float64)
        want = scale[:, 0].numpy() / 2 * np.abs(x.numpy()).sum()
        np.testing.assert_allclose(bound.numpy(), want, rtol=1e-12, atol=0)
        with torch.no_grad():
            err = (linear(x) - layer(x)).abs()
        assert (err <= bound + 1e-12).all(), f"the error {err} exceeds the bound {bound}"
