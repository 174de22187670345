r"""# Exercises: Fused softmax

The one-pass (online) softmax normaliser, for rows longer than one tile."""

import torch


def solution_1_online_softmax(x: torch.Tensor, block: int) -> torch.Tensor:
    m = torch.full(x.shape[:-1], -float("inf"), dtype=x.dtype)
    s = torch.zeros(x.shape[:-1], dtype=x.dtype)
    for start in range(0, x.shape[-1], block):
        chunk = x[..., start : start + block]
        m_new = torch.maximum(m, chunk.max(-1).values)
        s = s * torch.exp(m - m_new) + torch.exp(chunk - m_new[..., None]).sum(-1)
        m = m_new
    return torch.exp(x - m[..., None]) / s[..., None]


def check_1_online_softmax(fn) -> None:
    g = torch.Generator().manual_seed(0)
    for shape, block in [((3, 10), 4), ((2, 33), 8), ((1, 5), 16)]:
        x = 10 * torch.randn(shape, generator=g, dtype=torch.float64)
        got, want = fn(x, block), torch.softmax(x, dim=-1)
        assert torch.allclose(got, want, atol=1e-12), (
            f"online_softmax differs from torch for {shape}"
        )


def solution_2_softmax_backward(y: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    r"""$\mathrm{d}x = y \odot (\mathrm{d}y - \langle \mathrm{d}y, y \rangle)$, row by row."""
    return y * (dy - (dy * y).sum(-1, keepdim=True))


def check_2_softmax_backward(fn) -> None:
    """Against autograd through `torch.softmax`, in float64 (rounding only: 1e-12)."""
    g = torch.Generator().manual_seed(1)
    for shape in [(3, 10), (2, 4, 7), (1, 1)]:
        x = 3 * torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
        dy = torch.randn(shape, generator=g, dtype=torch.float64)
        y = torch.softmax(x, dim=-1)
        (want,) = torch.autograd.grad(y, x, dy)
        got = fn(y.detach(), dy)
        assert got.shape == want.shape, f"got shape {tuple(got.shape)}, want {tuple(want.shape)}"
        err = (got - want).abs().max().item()
        assert err < 1e-12, (
            f"softmax_backward differs from autograd by {err:.2e} for shape {shape}: the "
            "Jacobian's off-diagonal part subtracts y times the row's <dy, y>"
        )
