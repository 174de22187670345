r"""# Exercises: Positional encodings

The sinusoidal table, the rotation that shifts it by $k$ positions, and the clipped relative
index of Shaw et al."""

import math

import torch

from masterclass.nlp.positional import relative_position_index, sinusoidal_positions


def solution_1_sinusoidal(n_positions: int, d_model: int, base: float) -> torch.Tensor:
    r"""$PE_{t, 2i} = \sin(t\,\omega_i)$, $PE_{t, 2i+1} = \cos(t\,\omega_i)$,
    $\omega_i = b^{-2i/C}$."""
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    for t in range(n_positions):
        for c in range(d_model):
            omega = base ** (-(c - c % 2) / d_model)
            pe[t, c] = math.sin(t * omega) if c % 2 == 0 else math.cos(t * omega)
    return pe


def check_1_sinusoidal(fn) -> None:
    """Compare with the chapter's `sinusoidal_positions` (float32: 1e-6)."""
    for T, C, base in [(4, 6, 10000.0), (16, 8, 10000.0), (10, 5, 100.0)]:
        got = torch.as_tensor(fn(T, C, base)).double()
        want = sinusoidal_positions(T, C, base).double()
        assert got.shape == want.shape, f"shape {tuple(got.shape)}, want {(T, C)}"
        assert torch.allclose(got, want, atol=1e-6), (
            f"T={T}, C={C}, b={base}: max error {(got - want).abs().max().item():.2e} "
            "(sin on even channels, cos on odd, one frequency per pair)"
        )


def solution_2_shift_matrix(k: int, d_model: int, base: float) -> torch.Tensor:
    r"""Block-diagonal: pair $i$ is rotated by $k\omega_i$, since
    $\sin((t+k)\omega) = \sin t\omega \cos k\omega + \cos t\omega \sin k\omega$ and
    $\cos((t+k)\omega) = \cos t\omega \cos k\omega - \sin t\omega \sin k\omega$."""
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    for i in range(0, d_model, 2):
        a = k * base ** (-i / d_model)
        c, s = math.cos(a), math.sin(a)
        m[i, i], m[i, i + 1], m[i + 1, i], m[i + 1, i + 1] = c, s, -s, c
    return m


def check_2_shift_matrix(fn) -> None:
    r"""`PE[t + k] = M @ PE[t]` for every row of the chapter's table: a fixed linear map, the
    same for every $t$, which is why attention can learn relative offsets from these positions."""
    for k, C, base in [(1, 4, 10000.0), (3, 8, 10000.0), (5, 6, 100.0)]:
        pe = sinusoidal_positions(20 + k, C, base).double()
        m = torch.as_tensor(fn(k, C, base)).double()
        shifted = pe[:20] @ m.T  # (20, C)
        err = (shifted - pe[k : k + 20]).abs().max().item()
        # float32 table: 1e-5.
        assert err < 1e-5, f"k={k}, C={C}: max |M PE[t] - PE[t+k]| = {err:.2e}"


def solution_3_relative_index(t_q: int, t_k: int, max_distance: int) -> torch.Tensor:
    """`clip(j - i, -k, k) + k`, an index into the `2k + 1` relative embeddings."""
    out = torch.zeros(t_q, t_k, dtype=torch.long)
    for i in range(t_q):
        for j in range(t_k):
            out[i, j] = max(-max_distance, min(max_distance, j - i)) + max_distance
    return out


def check_3_relative_index(fn) -> None:
    """Compare with the chapter's `relative_position_index`."""
    for t_q, t_k, k in [(3, 3, 1), (4, 6, 2), (5, 2, 0), (6, 6, 10)]:
        got = torch.as_tensor(fn(t_q, t_k, k))
        want = relative_position_index(t_q, t_k, k)
        assert torch.equal(got.long(), want), (
            f"T_q={t_q}, T_k={t_k}, k={k}: got\n{got}\nwant\n{want}"
        )
