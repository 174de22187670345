r"""# Exercises: Cross-modal attention: text attending to images

Reading an attention map off queries and keys, and the gradient that opens a zero gate."""

import torch

from masterclass.frontiers.crossmodal import CrossAttention


def solution_1_attention_map(q, k):
    return (q @ k.T / q.shape[-1] ** 0.5).softmax(-1)


def check_1_attention_map(fn) -> None:
    torch.manual_seed(0)
    xattn = CrossAttention(8, 6, n_heads=1)
    x, y = torch.randn(1, 4, 8), torch.randn(1, 5, 6)
    with torch.no_grad():
        _, want = xattn(x, y, return_weights=True)
        got = fn(xattn.q(x)[0], xattn.k(y)[0])
    assert got.shape == (4, 5), f"expected a (T, P) = (4, 5) map, got {tuple(got.shape)}"
    assert torch.allclose(got, want[0, 0], atol=1e-6), "map differs from the layer's weights"


def solution_2_gate_gradient(x, xattn_out, grad_out):
    return float((xattn_out * grad_out).sum())


def check_2_gate_gradient(fn) -> None:
    g = torch.Generator().manual_seed(1)
    x, a, go = (torch.randn(2, 3, 4, generator=g, dtype=torch.float64) for _ in range(3))
    alpha = torch.zeros((), dtype=torch.float64, requires_grad=True)
    ((x + torch.tanh(alpha) * a) * go).sum().backward()
    got = fn(x, a, go)
    assert abs(got - float(alpha.grad)) < 1e-10, (
        f"dL/dalpha = {got}, autograd says {float(alpha.grad)}"
    )
