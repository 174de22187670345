r"""# Exercises: State space models: S4D

Discretising a diagonal state space model two ways, and reading its kernel off an impulse."""

import numpy as np
import scipy.signal
import torch

from masterclass.frontiers.s4d import kernel_vandermonde, zoh


def _system(seed: int, n: int = 6):
    rng = np.random.default_rng(seed)
    A = -rng.uniform(0.1, 1.0, n) + 1j * np.pi * np.arange(n)
    B = rng.normal(size=n) + 1j * rng.normal(size=n)
    C = rng.normal(size=n) + 1j * rng.normal(size=n)
    return A, B, C, float(rng.uniform(1e-3, 1e-1))


def solution_1_zoh(A, B, dt):
    Abar = np.exp(dt * A)
    return Abar, (Abar - 1) / A * B


def check_1_zoh(fn) -> None:
    for seed in range(3):
        A, B, _, dt = _system(seed)
        got_A, got_B = fn(A, B, dt)
        want_A, want_B = zoh(
            torch.from_numpy(A), torch.from_numpy(B), torch.tensor(dt, dtype=torch.float64)
        )
        assert np.allclose(got_A, want_A.numpy(), atol=1e-12), f"Abar wrong for dt={dt}"
        assert np.allclose(got_B, want_B.numpy(), atol=1e-12), f"Bbar wrong for dt={dt}"


def solution_2_bilinear(A, B, dt):
    inv = 1 / (1 - dt * A / 2)
    return inv * (1 + dt * A / 2), inv * dt * B


def check_2_bilinear(fn) -> None:
    for seed in range(3):
        A, B, C, dt = _system(seed)
        sys = (np.diag(A), B[:, None], C[None, :], np.zeros((1, 1)))
        Ad, Bd, *_ = scipy.signal.cont2discrete(sys, dt, method="bilinear")
        got_A, got_B = fn(A, B, dt)
        assert np.allclose(got_A, np.diag(Ad), atol=1e-12), "Abar differs from scipy's bilinear"
        assert np.allclose(got_B, Bd[:, 0], atol=1e-12), "Bbar differs from scipy's bilinear"


def solution_3_kernel_by_powers(Abar, Bbar, C, L):
    x = np.zeros_like(Abar)
    K = []
    for k in range(L):
        x = Abar * x + Bbar * (1.0 if k == 0 else 0.0)
        K.append(2 * (C * x).sum().real)
    return np.array(K)


def check_3_kernel_by_powers(fn) -> None:
    for seed in range(3):
        A, B, C, dt = _system(seed)
        Abar, Bbar = solution_1_zoh(A, B, dt)
        t = [torch.from_numpy(v)[None] for v in (A, B, C)]
        want = kernel_vandermonde(*t, torch.tensor([[dt]], dtype=torch.float64), 40)[0].numpy()
        got = np.asarray(fn(Abar, Bbar, C, 40))
        assert got.shape == (40,), f"kernel must have shape (40,), got {got.shape}"
        assert np.allclose(got, want, atol=1e-10), "kernel differs from the Vandermonde kernel"
