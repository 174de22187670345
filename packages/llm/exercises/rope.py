r"""# Exercises: Rotary position embeddings

The frequency ladder, the rotation of a vector, and why the score sees only $n - m$."""

import torch

from masterclass.llm.rope import apply_rope, rope_cos_sin, rope_inv_freq


def solution_1_inv_freq(head_dim: int, base: float) -> torch.Tensor:
    r"""$\theta_i = b^{-2i/D}$ for $i = 0, \dots, D/2 - 1$."""
    return base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)


def check_1_inv_freq(fn) -> None:
    """Compare with the chapter's `rope_inv_freq` for several head dims and bases."""
    for head_dim, base in [(2, 10000.0), (8, 10000.0), (64, 10000.0), (16, 500000.0), (6, 7.0)]:
        got = torch.as_tensor(fn(head_dim, base), dtype=torch.float64)
        want = rope_inv_freq(head_dim, base).double()
        assert got.shape == want.shape, f"D={head_dim}: shape {tuple(got.shape)}, want (D/2,)"
        # float32 reference: agree to its precision.
        assert torch.allclose(got, want, rtol=1e-6), (
            f"D={head_dim}, b={base}: got {got.tolist()}, want {want.tolist()} "
            "(theta_i = b ** (-2i / D), starting at 1)"
        )


def solution_2_rotate(x: torch.Tensor, positions: torch.Tensor, base: float) -> torch.Tensor:
    r"""Half-split pairs $(x_i, x_{i+D/2})$ rotated by $m\theta_i$: $x\cos + \mathrm{rot}(x)\sin$."""
    D = x.shape[-1]
    theta = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)  # (D/2,)
    angle = positions.double()[:, None] * theta  # (T, D/2)
    x1, x2 = x[..., : D // 2].double(), x[..., D // 2 :].double()
    c, s = angle.cos(), angle.sin()
    return torch.cat((x1 * c - x2 * s, x2 * c + x1 * s), dim=-1).to(x.dtype)


def check_2_rotate(fn) -> None:
    """Compare with `apply_rope` on seeded `(B, H, T, D)` inputs and arbitrary positions."""
    g = torch.Generator().manual_seed(0)
    for B, H, T, D, base in [(1, 1, 3, 2, 10000.0), (2, 3, 5, 8, 10000.0), (1, 2, 4, 16, 100.0)]:
        x = torch.randn(B, H, T, D, generator=g)
        positions = torch.randint(0, 50, (T,), generator=g)
        cos, sin = rope_cos_sin(positions, rope_inv_freq(D, base))
        want = apply_rope(x, cos, sin)
        got = fn(x, positions, base)
        assert got.shape == want.shape, f"shape {tuple(got.shape)}, want {tuple(want.shape)}"
        # float32 tables in the reference: 1e-5 is a few ulps of angles up to ~50 radians.
        err = (got.float() - want).abs().max().item()
        assert err < 1e-4, (
            f"(B, H, T, D) = {(B, H, T, D)}: max error {err:.2e}; pair i is (x_i, x_(i+D/2)) "
            "rotated by positions * theta_i"
        )


def solution_3_score(q: torch.Tensor, k: torch.Tensor, m: int, n: int, base: float) -> float:
    r"""$\langle R_m q, R_n k\rangle$ for vectors `(D,)`, with the half-split pairing."""
    pos = torch.tensor([m, n])
    rotated = solution_2_rotate(torch.stack([q, k]).double(), pos, base)
    return float(rotated[0] @ rotated[1])


def check_3_score(fn) -> None:
    r"""Against complex numbers: pair $i$ is $z_i = x_i + \mathrm{i}\,x_{i+D/2}$, rotated by
    $e^{\mathrm{i} m\theta_i}$, and the score is $\mathrm{Re} \sum_i z^q_i \overline{z^k_i}
    e^{\mathrm{i}(m - n)\theta_i}$; then shifting both positions must not change it."""
    g = torch.Generator().manual_seed(1)
    for D, m, n, base in [(2, 0, 3, 10000.0), (8, 5, 2, 10000.0), (16, 40, 7, 100.0)]:
        q, k = torch.randn(D, generator=g).double(), torch.randn(D, generator=g).double()
        theta = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
        zq = torch.complex(q[: D // 2], q[D // 2 :])
        zk = torch.complex(k[: D // 2], k[D // 2 :])
        want = (zq * zk.conj() * torch.exp(1j * (m - n) * theta)).sum().real.item()
        got = fn(q, k, m, n, base)
        # float64 throughout: agreement to 1e-9.
        assert abs(got - want) < 1e-9, f"D={D}, m={m}, n={n}: got {got}, want {want}"
        shifted = fn(q, k, m + 11, n + 11, base)
        assert abs(shifted - want) < 1e-9, (
            f"shifting m and n by 11 changed the score ({want} -> {shifted}): RoPE scores "
            "depend only on n - m"
        )
