r"""# Exercises: GPTQ, AWQ, SmoothQuant and packed int4

Nibble packing, the Hessian form of a layer's output error, and SmoothQuant's migration scales."""

import numpy as np
import torch

from masterclass.deploy.gptq_awq import unpack_int4


def solution_1_pack(q: torch.Tensor) -> torch.Tensor:
    u = (q.to(torch.int16) + 8).to(torch.uint8)
    return u[:, 0::2] | (u[:, 1::2] << 4)


def check_1_pack(fn) -> None:
    # Against the chapter's unpack (the inverse) and a per-byte hand computation.
    g = torch.Generator().manual_seed(0)
    for shape in [(2, 4), (3, 16), (1, 2)]:
        q = torch.randint(-8, 8, shape, generator=g, dtype=torch.int8)
        p = fn(q)
        assert p.dtype == torch.uint8, f"packed dtype must be uint8, got {p.dtype}"
        assert p.shape == (shape[0], shape[1] // 2), f"packed shape {tuple(p.shape)} for {shape}"
        assert torch.equal(unpack_int4(p), q), f"unpacking your bytes does not give q for {shape}"
        assert int(p[0, 0]) == (int(q[0, 0]) + 8) | ((int(q[0, 1]) + 8) << 4), "nibble order"


def solution_2_output_error(w: torch.Tensor, w_hat: torch.Tensor, x: torch.Tensor) -> float:
    H = x.double().T @ x.double()
    d = w.double() - w_hat.double()
    return float(torch.trace(d @ H @ d.T))


def check_2_output_error(fn) -> None:
    # Against the direct numpy computation ||x w^T - x ŵ^T||_F^2 (relative 1e-9: float64 sums).
    rng = np.random.default_rng(1)
    for n, c_in, c_out in [(20, 6, 3), (5, 8, 4)]:
        w, w_hat, x = (
            rng.normal(size=(c_out, c_in)),
            rng.normal(size=(c_out, c_in)),
            rng.normal(size=(n, c_in)),
        )
        want = float(((x @ w.T - x @ w_hat.T) ** 2).sum())
        got = fn(torch.tensor(w), torch.tensor(w_hat), torch.tensor(x))
        assert abs(got - want) <= 1e-9 * want, f"output error {got}, expected {want}"


def solution_3_smooth_scales(act_max: torch.Tensor, w: torch.Tensor, alpha: float) -> torch.Tensor:
    return act_max**alpha / w.abs().amax(0) ** (1 - alpha)


def check_3_smooth_scales(fn) -> None:
    # Against numpy's formula; and at alpha = 0.5 the smoothed ranges of x and w must be equal.
    rng = np.random.default_rng(2)
    a = np.abs(rng.normal(size=8)) + 0.1
    w = rng.normal(size=(4, 8))
    for alpha in (0.0, 0.5, 0.8):
        want = a**alpha / np.abs(w).max(0) ** (1 - alpha)
        got = fn(torch.tensor(a), torch.tensor(w), alpha).numpy()
        assert np.allclose(got, want, rtol=1e-12), f"scales at alpha={alpha}: {got} vs {want}"
    s = fn(torch.tensor(a), torch.tensor(w), 0.5).numpy()
    assert np.allclose(a / s, np.abs(w * s).max(0)), "at alpha 0.5 max|x/s| must equal max|w s|"
