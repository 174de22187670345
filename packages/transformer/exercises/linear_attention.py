r"""# Exercises: Linear attention

Kernel attention the quadratic way, and the causal version as a recurrence with a constant-size
state, both against the chapter's linear-time `linear_attention`."""

import torch
import torch.nn.functional as F

from masterclass.transformer.linear_attention import linear_attention


def _phi(x: torch.Tensor) -> torch.Tensor:
    return F.elu(x) + 1


def _inputs(seed: int, B=2, H=2, T=6, D=4, D_v=3):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(B, H, T, D, generator=g, dtype=torch.float64),
        torch.randn(B, H, T, D, generator=g, dtype=torch.float64),
        torch.randn(B, H, T, D_v, generator=g, dtype=torch.float64),
    )


def solution_1_quadratic(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Weights $\phi(q_i)^\top \phi(k_j)$ normalised over $j$: the $(T, S)$ matrix that linear
    attention never forms, since $(\phi(Q)\phi(K)^\top) V = \phi(Q) (\phi(K)^\top V)$."""
    w = _phi(q) @ _phi(k).transpose(-2, -1)  # (B, H, T, S)
    return (w / w.sum(-1, keepdim=True)) @ v


def check_1_quadratic(fn) -> None:
    """Compare with the chapter's `linear_attention` (non-causal, ELU + 1 features)."""
    for seed in (0, 1, 2):
        q, k, v = _inputs(seed)
        want = linear_attention(q, k, v, eps=0.0)
        got = fn(q, k, v)
        # float64: 1e-10.
        assert torch.allclose(got, want, atol=1e-10), (
            f"seed {seed}: max error {(got - want).abs().max().item():.2e} (phi = elu + 1, "
            "weights normalised per query)"
        )


def solution_2_recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Causal: a state $S_i = S_{i-1} + \phi(k_i) v_i^\top$ `(M, D_v)` and $z_i = z_{i-1} +
    \phi(k_i)$; output $\phi(q_i)^\top S_i / \phi(q_i)^\top z_i$: an RNN with a matrix state."""
    B, H, T, _ = q.shape
    state = torch.zeros(B, H, q.shape[-1], v.shape[-1], dtype=q.dtype)
    z = torch.zeros(B, H, q.shape[-1], dtype=q.dtype)
    out = []
    for i in range(T):
        pk, pq = _phi(k[:, :, i]), _phi(q[:, :, i])  # (B, H, M)
        state = state + pk[..., :, None] * v[:, :, i, None, :]
        z = z + pk
        num = torch.einsum("bhm,bhmd->bhd", pq, state)
        out.append(num / (pq * z).sum(-1, keepdim=True))
    return torch.stack(out, dim=2)


def check_2_recurrent(fn) -> None:
    """Compare with the chapter's causal `linear_attention` (prefix sums)."""
    for seed in (3, 4):
        q, k, v = _inputs(seed, T=7)
        want = linear_attention(q, k, v, causal=True, eps=0.0)
        got = fn(q, k, v)
        assert torch.allclose(got, want, atol=1e-10), (
            f"seed {seed}: max error {(got - want).abs().max().item():.2e}; query i sees keys "
            "j <= i"
        )
