r"""# Exercises: Convolution by im2col, and pooling

A convolution with loops, straight from its definition, and the receptive field of a stack."""

import torch
import torch.nn.functional as F


def solution_1_conv2d_loops(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride: int, padding: int
) -> torch.Tensor:
    r"""$y_{b,o,i,j} = \beta_o + \sum_{c,u,v} w_{o,c,u,v}\, x_{b,c,si+u-p,sj+v-p}$, by loops."""
    B, _, H, W = x.shape
    O, _, kh, kw = weight.shape
    xp = F.pad(x, (padding,) * 4)
    Ho, Wo = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    y = torch.zeros(B, O, Ho, Wo, dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            y[:, :, i, j] = torch.einsum("bcuv,ocuv->bo", patch, weight) + bias
    return y


def check_1_conv2d_loops(fn) -> None:
    """Compare with `torch.nn.functional.conv2d` on seeded shapes, strides and paddings."""
    g = torch.Generator().manual_seed(0)
    for (B, C, H, W), (O, k), s, p in [
        ((2, 3, 5, 6), (4, 3), 1, 0),
        ((1, 2, 7, 7), (3, 3), 2, 1),
        ((2, 1, 4, 5), (2, 2), 1, 2),
        ((1, 3, 6, 4), (1, 1), 3, 0),
    ]:
        x = torch.randn(B, C, H, W, generator=g, dtype=torch.float64)
        w = torch.randn(O, C, k, k, generator=g, dtype=torch.float64)
        b = torch.randn(O, generator=g, dtype=torch.float64)
        want = F.conv2d(x, w, b, stride=s, padding=p)
        got = fn(x.clone(), w.clone(), b.clone(), s, p)
        assert got.shape == want.shape, (
            f"x {(B, C, H, W)}, kernel {k}, stride {s}, padding {p}: shape {tuple(got.shape)}, "
            f"want {tuple(want.shape)} (H_out = floor((H + 2p - k) / s) + 1)"
        )
        # float64; sums of a few dozen products in another order differ by rounding only.
        assert torch.allclose(got, want, atol=1e-12), (
            f"x {(B, C, H, W)}, kernel {k}, stride {s}, padding {p}: off by "
            f"{(got - want).abs().max():.2e} (no filter flip: it is a cross-correlation)"
        )


def solution_2_receptive_field(layers: list[tuple[int, int, int]]) -> int:
    r"""$r = 1 + \sum_\ell d_\ell (k_\ell - 1) \prod_{j < \ell} s_j$ for layers `(k, s, d)`."""
    r, jump = 1, 1
    for k, s, d in layers:
        r += d * (k - 1) * jump
        jump *= s
    return r


def check_2_receptive_field(fn) -> None:
    """Measure it: the input pixels one output pixel's gradient reaches, through a real stack."""
    for layers in [
        [(3, 1, 1)],
        [(3, 1, 1), (3, 1, 1)],
        [(3, 2, 1), (3, 2, 1), (3, 1, 1)],
        [(5, 1, 2), (2, 2, 1)],
        [(7, 2, 1), (3, 2, 1), (3, 1, 3)],
    ]:
        x = torch.ones(1, 1, 1, 160, dtype=torch.float64, requires_grad=True)
        y = x
        for k, s, d in layers:
            y = F.conv2d(
                y, torch.ones(1, 1, 1, k, dtype=torch.float64), stride=(1, s), dilation=(1, d)
            )
        (grad,) = torch.autograd.grad(y[0, 0, 0, y.shape[-1] // 2], x)
        nz = grad[0, 0, 0].nonzero().flatten()
        want = int(nz.max() - nz.min() + 1)
        got = fn(list(layers))
        assert got == want, (
            f"layers (k, s, d) {layers}: got {got}, the gradient reaches {want} input pixels; each "
            "layer adds d (k - 1) times the product of the strides before it"
        )
