r"""# Exercises: Forward and backward propagation: an MLP by hand

The backward pass of one linear layer, and one step of the delta recursion through a tanh."""

import torch


def solution_1_linear_backward(
    grad_z: torch.Tensor, a_prev: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""For $z = a W^\top + b$: $(\delta^\top a,\ \sum_{\text{rows}}\delta,\ \delta W)$."""
    return grad_z.T @ a_prev, grad_z.sum(0), grad_z @ weight


def check_1_linear_backward(fn) -> None:
    """Compare with autograd through `torch.nn.functional.linear` on seeded shapes."""
    g = torch.Generator().manual_seed(0)
    for b, d_in, d_out in [(4, 3, 2), (1, 5, 5), (7, 2, 6)]:
        a = torch.randn(b, d_in, generator=g, dtype=torch.float64, requires_grad=True)
        w = torch.randn(d_out, d_in, generator=g, dtype=torch.float64, requires_grad=True)
        bias = torch.randn(d_out, generator=g, dtype=torch.float64, requires_grad=True)
        gz = torch.randn(b, d_out, generator=g, dtype=torch.float64)
        z = torch.nn.functional.linear(a, w, bias)
        want = torch.autograd.grad(z, (w, bias, a), gz)
        got = fn(gz.clone(), a.detach().clone(), w.detach().clone())
        for name, x, y in zip(("grad_w", "grad_b", "grad_a_prev"), got, want, strict=True):
            assert x.shape == y.shape, f"{name}: shape {tuple(x.shape)}, want {tuple(y.shape)}"
            # float64; a matrix product in a different order differs by rounding only.
            assert torch.allclose(x, y, atol=1e-12), (
                f"B={b}, {d_in}->{d_out}: {name} off by {(x - y).abs().max():.2e}"
            )


def solution_2_tanh_delta(
    delta: torch.Tensor, weight: torch.Tensor, z_prev: torch.Tensor
) -> torch.Tensor:
    r"""$\delta^{(\ell-1)} = (\delta^{(\ell)} W^{(\ell)}) \odot (1 - \tanh^2 z^{(\ell-1)})$."""
    return (delta @ weight) * (1 - torch.tanh(z_prev) ** 2)


def check_2_tanh_delta(fn) -> None:
    r"""Compare with autograd of $z^{(\ell)} = \tanh(z^{(\ell-1)}) W^\top$ w.r.t. $z^{(\ell-1)}$."""
    g = torch.Generator().manual_seed(1)
    for b, d_prev, d in [(3, 4, 2), (5, 1, 3), (2, 6, 6)]:
        z_prev = torch.randn(b, d_prev, generator=g, dtype=torch.float64, requires_grad=True)
        w = torch.randn(d, d_prev, generator=g, dtype=torch.float64)
        delta = torch.randn(b, d, generator=g, dtype=torch.float64)
        (want,) = torch.autograd.grad(torch.tanh(z_prev) @ w.T, z_prev, delta)
        got = fn(delta.clone(), w.clone(), z_prev.detach().clone())
        assert torch.allclose(got, want, atol=1e-12), (
            f"B={b}, {d_prev}->{d}: off by {(got - want).abs().max():.2e}; multiply delta by W, "
            "then elementwise by tanh'(z_prev) = 1 - tanh(z_prev)^2"
        )
