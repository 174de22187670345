r"""# Exercises: Linformer

Attention over projected keys and values, and the segment-mean projection that makes it exact
for piecewise-constant sequences."""

import torch
import torch.nn.functional as F

from masterclass.transformer.linformer import linformer_attention, segment_mean_projection


def solution_1_linformer(q, k, v, E, Fp) -> torch.Tensor:
    r"""$\mathrm{softmax}(q (E k)^\top / \sqrt D)\, F v$: $r$ keys instead of $S$."""
    scores = q @ (E @ k).transpose(-2, -1) / q.shape[-1] ** 0.5  # (B, H, T, r)
    return scores.softmax(-1) @ (Fp @ v)


def check_1_linformer(fn) -> None:
    """Compare with the chapter's `linformer_attention`, and with exact attention when the
    projections are the identity ($r = S$)."""
    g = torch.Generator().manual_seed(0)
    for B, H, T, S, D, r in [(1, 1, 4, 4, 2, 2), (2, 3, 5, 8, 4, 3), (1, 2, 6, 6, 8, 6)]:
        q = torch.randn(B, H, T, D, generator=g, dtype=torch.float64)
        k = torch.randn(B, H, S, D, generator=g, dtype=torch.float64)
        v = torch.randn(B, H, S, D, generator=g, dtype=torch.float64)
        E = torch.randn(r, S, generator=g, dtype=torch.float64)
        Fp = torch.randn(r, S, generator=g, dtype=torch.float64)
        got, want = fn(q, k, v, E, Fp), linformer_attention(q, k, v, E, Fp)
        assert torch.allclose(got, want, atol=1e-10), (
            f"(T, S, r) = {(T, S, r)}: max error {(got - want).abs().max().item():.2e}"
        )
        eye = torch.eye(S, dtype=torch.float64)
        exact = F.scaled_dot_product_attention(q, k, v)
        assert torch.allclose(fn(q, k, v, eye, eye), exact, atol=1e-10), (
            "with E = F = I the result must be exact attention"
        )


def solution_2_segment_mean(r: int, S: int) -> torch.Tensor:
    """Row `i` averages positions `i S/r .. (i+1) S/r - 1`."""
    E = torch.zeros(r, S, dtype=torch.float64)
    n = S // r
    for i in range(r):
        E[i, i * n : (i + 1) * n] = 1.0 / n
    return E


def check_2_segment_mean(fn) -> None:
    """Compare with the chapter's `segment_mean_projection`."""
    for r, S in [(1, 4), (2, 4), (4, 4), (3, 12), (8, 64)]:
        got, want = torch.as_tensor(fn(r, S)).double(), segment_mean_projection(r, S)
        assert got.shape == want.shape, f"shape {tuple(got.shape)}, want {(r, S)}"
        assert torch.allclose(got, want, atol=1e-15), f"r={r}, S={S}: rows must average segments"
