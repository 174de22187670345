r"""# Exercises: Model merging: linear, SLERP, task arithmetic, TIES and DARE

SLERP's coefficients, TIES's sign election and trim, checked against the chapter and numpy."""

import math

import numpy as np
import torch

from masterclass.deploy.merging import slerp


def solution_1_slerp_coefficients(t: float, cos_omega: float) -> tuple[float, float]:
    if abs(cos_omega) > 0.9995:
        return 1 - t, t
    omega = math.acos(cos_omega)
    return math.sin((1 - t) * omega) / math.sin(omega), math.sin(t * omega) / math.sin(omega)


def check_1_slerp_coefficients(fn) -> None:
    # Against the chapter's slerp on unit vectors at a chosen angle: slerp(t, a, b) = c0 a + c1 b,
    # and a and b are independent, so the coefficients are read off exactly (1e-9: acos rounding).
    for cos_omega in (0.3, -0.6, 0.0, 0.99, 0.9999):
        a = torch.tensor([1.0, 0.0], dtype=torch.float64)
        b = torch.tensor([cos_omega, math.sqrt(1 - cos_omega**2)], dtype=torch.float64)
        for t in (0.0, 0.3, 0.5, 1.0):
            s = slerp(t, a, b)
            c1 = float(s[1] / b[1])
            c0 = float(s[0] - c1 * b[0])
            got = fn(t, cos_omega)
            assert abs(got[0] - c0) < 1e-9 and abs(got[1] - c1) < 1e-9, (
                f"t={t}, cos={cos_omega}: got {got}, want ({c0}, {c1})"
            )


def solution_2_elect_sign(deltas: torch.Tensor) -> torch.Tensor:
    gamma = torch.where(deltas.sum(0) >= 0, 1.0, -1.0).to(deltas.dtype)
    return deltas.sign() == gamma


def check_2_elect_sign(fn) -> None:
    # Against numpy, entry by entry; zeros never agree, a zero column sum elects +.
    rng = np.random.default_rng(0)
    d = rng.normal(size=(3, 6, 5))
    d[0, 0, 0], d[:, 1, 1] = 0.0, [1.0, -1.0, 0.0]
    got = fn(torch.tensor(d))
    total = d.sum(0)
    gamma = np.where(total >= 0, 1.0, -1.0)
    want = np.sign(d) == gamma
    assert got.dtype == torch.bool and got.shape == d.shape, "a bool mask of the input's shape"
    assert (got.numpy() == want).all(), f"{int((got.numpy() != want).sum())} entries wrong"


def solution_3_trim(delta: torch.Tensor, density: float) -> torch.Tensor:
    k = max(1, int(density * delta.numel()))
    keep = delta.abs().flatten().argsort(descending=True)[:k]
    mask = torch.zeros(delta.numel(), dtype=delta.dtype)
    mask[keep] = 1
    return delta * mask.view_as(delta)


def check_3_trim(fn) -> None:
    # Against numpy: the k largest magnitudes survive unchanged, everything else is zero.
    rng = np.random.default_rng(1)
    for shape, density in [((4, 5), 0.3), ((10,), 0.05), ((3, 3), 1.0)]:
        d = rng.normal(size=shape)
        k = max(1, int(density * d.size))
        want = np.zeros(d.size)
        idx = np.argsort(-np.abs(d).ravel())[:k]
        want[idx] = d.ravel()[idx]
        got = fn(torch.tensor(d), density).numpy()
        assert got.shape == d.shape, f"shape {got.shape}, want {d.shape}"
        assert np.array_equal(got.ravel(), want), f"density {density}: wrong entries kept"
