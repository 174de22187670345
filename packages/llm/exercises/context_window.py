r"""# Exercises: Context window mechanics: stretching RoPE past the training length

NTK-aware scaling's new base, YaRN's turning point of a pair, and YaRN's blended frequencies."""

import math

import torch

from masterclass.llm.context_window import scaled_rope_inv_freq
from masterclass.llm.rope import rope_inv_freq


def solution_1_ntk_base(base: float, factor: float, head_dim: int) -> float:
    r"""The slowest pair has $\theta = b^{-(D-2)/D}$; dividing it by $s$ means
    $b'^{-(D-2)/D} = b^{-(D-2)/D} / s$, so $b' = b\, s^{D/(D-2)}$."""
    return base * factor ** (head_dim / (head_dim - 2))


def check_1_ntk_base(fn) -> None:
    """The frequencies of the new base must be the chapter's NTK-aware ones: the fastest pair kept,
    the slowest divided by exactly s."""
    for base, factor, D in [(10000.0, 2.0, 8), (10000.0, 4.0, 64), (500000.0, 8.0, 128)]:
        new_base = fn(base, factor, D)
        got = rope_inv_freq(D, new_base).double()
        want, _ = scaled_rope_inv_freq(D, base, "ntk", factor)
        # float32 frequencies: 1e-5 relative.
        assert torch.allclose(got, want.double(), rtol=1e-5), (
            f"b={base}, s={factor}, D={D}: base {new_base} gives {got[-1].item():.3e} for the "
            f"slowest pair, want {want[-1].item():.3e} (the original divided by s)"
        )


def solution_2_turning_dim(n_rotations: float, head_dim: int, base: float, train_len: int) -> float:
    r"""Solve $L\, b^{-2i/D} / 2\pi = \beta$ for $i$: $i = D \ln(L / 2\pi\beta) / (2 \ln b)$."""
    return head_dim * math.log(train_len / (n_rotations * 2 * math.pi)) / (2 * math.log(base))


def check_2_turning_dim(fn) -> None:
    r"""At the returned (fractional) pair index $i$, a pair of frequency $b^{-2i/D}$ must turn
    exactly $\beta$ times over the training length $L$."""
    for beta, D, base, L in [
        (32.0, 64, 10000.0, 2048),
        (1.0, 64, 10000.0, 2048),
        (4.0, 16, 500.0, 64),
    ]:
        i = fn(beta, D, base, L)
        turns = L * base ** (-2 * i / D) / (2 * math.pi)
        assert math.isclose(turns, beta, rel_tol=1e-9), (
            f"beta={beta}, D={D}, b={base}, L={L}: pair {i:.4f} turns {turns:.4f} times, not {beta}"
        )


def solution_3_yarn_inv_freq(
    head_dim: int, base: float, factor: float, train_len: int
) -> tuple[torch.Tensor, float]:
    r"""Keep pairs below $i(\beta = 32)$, interpolate those above $i(\beta = 1)$ by $s$, a linear
    ramp in between; the attention factor is $0.1 \ln s + 1$."""
    low = max(math.floor(solution_2_turning_dim(32.0, head_dim, base, train_len)), 0)
    high = min(math.ceil(solution_2_turning_dim(1.0, head_dim, base, train_len)), head_dim - 1)
    if low == high:
        high += 0.001
    theta = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ramp = ((torch.arange(head_dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
    inv_freq = theta * (1 - ramp) + theta / factor * ramp
    return inv_freq, 0.1 * math.log(factor) + 1.0


def check_3_yarn_inv_freq(fn) -> None:
    """Compare with the chapter's `scaled_rope_inv_freq(..., "yarn")`, itself checked against
    Hugging Face's `ROPE_INIT_FUNCTIONS["yarn"]` by the chapter's tests."""
    for D, base, factor, L in [
        (64, 10000.0, 4.0, 2048),
        (128, 500000.0, 8.0, 8192),
        (16, 10000.0, 2.0, 64),
    ]:
        got, got_att = fn(D, base, factor, L)
        want, want_att = scaled_rope_inv_freq(D, base, "yarn", factor, original_max_len=L)
        # float32 reference: 1e-5 relative.
        assert torch.allclose(torch.as_tensor(got).double(), want.double(), rtol=1e-5), (
            f"D={D}, b={base}, s={factor}, L={L}: frequencies differ; max relative error "
            f"{((torch.as_tensor(got).double() - want.double()).abs() / want.double()).max():.2e}"
        )
        assert math.isclose(got_att, want_att, rel_tol=1e-9), (
            f"attention factor {got_att}, want {want_att} (0.1 ln s + 1)"
        )
