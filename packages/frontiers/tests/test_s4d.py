"""Reference tests for S4D: ZOH against scipy, kernel routes, convolution against recurrence."""

import numpy as np
import pytest
import scipy.signal
import torch

from masterclass.frontiers.s4d import S4D, causal_fft_conv, kernel_fft, kernel_vandermonde, zoh


def _layer(H=3, N=8, seed=0):
    torch.manual_seed(seed)
    return S4D(H, N, seed=seed, dtype=torch.float64)


def test_zoh_matches_scipy_cont2discrete():
    layer = _layer()
    A, B, C, dt = layer.params()
    Abar, Bbar = zoh(A, B, dt)
    for h in range(A.shape[0]):
        # scipy builds the block matrix [[A, B], [0, 0]] and takes its matrix exponential: an
        # independent route to the same numbers. float64 throughout; 1e-12 leaves room for expm.
        a = np.diag(A[h].detach().numpy())
        b = B[h].detach().numpy()[:, None]
        c = C[h].detach().numpy()[None, :]
        Ad, Bd, *_ = scipy.signal.cont2discrete(
            (a, b, c, np.zeros((1, 1))), float(dt[h].detach()), "zoh"
        )
        np.testing.assert_allclose(np.diag(Ad), Abar[h].detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(Bd[:, 0], Bbar[h].detach().numpy(), atol=1e-12)


def test_kernel_equals_matrix_powers_and_fft_route():
    layer = _layer()
    A, B, C, dt = layer.params()
    L = 50
    K = kernel_vandermonde(A, B, C, dt, L)
    # Reference: $K_l = 2 \mathrm{Re}(C \bar A^l \bar B)$ with numpy's matrix power of the scipy
    # discretisation (a dense product, not our exponential of l dt A).
    for h in range(A.shape[0]):
        a = np.diag(A[h].detach().numpy())
        b = B[h].detach().numpy()[:, None]
        Ad, Bd, *_ = scipy.signal.cont2discrete(
            (a, b, a[:1], np.zeros((1, 1))), float(dt[h].detach())
        )
        c = C[h].detach().numpy()
        ref = [2 * (c @ np.linalg.matrix_power(Ad, l) @ Bd).real.item() for l in range(L)]
        np.testing.assert_allclose(K[h].detach().numpy(), ref, atol=1e-10)
    torch.testing.assert_close(kernel_fft(A, B, C, dt, L), K, atol=1e-10, rtol=0)


def test_fft_conv_equals_direct_causal_conv():
    g = torch.Generator().manual_seed(1)
    u = torch.randn(2, 40, 3, generator=g, dtype=torch.float64)
    K = torch.randn(3, 40, generator=g, dtype=torch.float64)
    y = causal_fft_conv(u, K)
    ref = np.stack(
        [[np.convolve(u[b, :, h].numpy(), K[h].numpy())[:40] for h in range(3)] for b in range(2)]
    ).transpose(0, 2, 1)
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-10)


def test_convolution_mode_equals_recurrent_mode_value_and_gradient():
    layer = _layer(H=4, N=16)
    u = torch.randn(2, 64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    u1, u2 = u.clone().requires_grad_(), u.clone().requires_grad_()
    y_conv, y_rec = layer(u1), layer.recurrent(u2)
    # float64: the FFT route and the T-step recurrence differ by rounding only (~1e-13); the spec's
    # 1e-5 is the float32 bound, checked below.
    torch.testing.assert_close(y_conv, y_rec, atol=1e-10, rtol=0)
    w = torch.randn_like(y_conv)
    g_conv = torch.autograd.grad((y_conv * w).sum(), [u1, *layer.parameters()])
    g_rec = torch.autograd.grad((y_rec * w).sum(), [u2, *layer.parameters()])
    for a, b in zip(g_conv, g_rec, strict=True):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)


def test_float32_modes_agree_to_1e_5():
    layer = S4D(4, 16, seed=3)
    u = torch.randn(2, 128, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        # float32 FFT of length 256 against 128 float32 steps: errors ~1e-6 relative to O(1) outputs.
        torch.testing.assert_close(layer(u), layer.recurrent(u), atol=1e-5, rtol=1e-5)


def test_bad_input():
    layer = S4D(2, 4)
    with pytest.raises(ValueError, match=r"u must have shape \(B, T, H=2\)"):
        layer(torch.zeros(1, 5, 3))
    with pytest.raises(TypeError, match="complex"):
        zoh(torch.ones(2), torch.ones(2), torch.ones(1))
    with pytest.raises(ValueError, match="dt_min"):
        S4D(2, 4, dt_min=0.5, dt_max=0.1)
