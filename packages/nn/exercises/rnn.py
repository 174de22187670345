r"""# Exercises: Recurrent neural networks and sequence modelling

Unrolling an Elman RNN over time, and the one-step Jacobian whose products make gradients
vanish."""

import torch


def solution_1_rnn_unroll(
    x: torch.Tensor,
    h0: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> torch.Tensor:
    r"""All hidden states `(T, B, H)` of $h_t = \tanh(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh})$."""
    h, out = h0, []
    for x_t in x:
        h = torch.tanh(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        out.append(h)
    return torch.stack(out)


def check_1_rnn_unroll(fn) -> None:
    """Compare with `torch.nn.RNN` (one layer, tanh) using its own weights."""
    g = torch.Generator().manual_seed(0)
    for T, B, I, H in [(5, 2, 3, 4), (1, 1, 2, 2), (8, 3, 1, 5)]:
        torch.manual_seed(T)
        rnn = torch.nn.RNN(I, H, dtype=torch.float64)
        x = torch.randn(T, B, I, generator=g, dtype=torch.float64)
        h0 = torch.randn(1, B, H, generator=g, dtype=torch.float64)
        with torch.no_grad():
            want, _ = rnn(x, h0)
            weights = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
            got = fn(x.clone(), h0[0].clone(), *(w.clone() for w in weights))
        assert got.shape == want.shape, f"shape {tuple(got.shape)}, want {tuple(want.shape)}"
        # float64; the same few products per step, so rounding only.
        assert torch.allclose(got, want, atol=1e-12), (
            f"T={T}, B={B}, I={I}, H={H}: off by {(got - want).abs().max():.2e}; both biases are "
            "added at every step, and h_{t-1} feeds step t"
        )


def solution_2_step_jacobian(
    x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    r"""$\partial h_t / \partial h_{t-1} = \operatorname{diag}(1 - h_t^2)\, W_{hh}$ for one example."""
    h_next = torch.tanh(w_ih @ x + w_hh @ h + b)  # (H,)
    return (1 - h_next**2)[:, None] * w_hh  # (H, H)


def check_2_step_jacobian(fn) -> None:
    """Compare with the Jacobian of one step built by autograd, one output row at a time."""
    g = torch.Generator().manual_seed(1)
    for I, H in [(2, 3), (4, 4), (1, 6)]:
        x = torch.randn(I, generator=g, dtype=torch.float64)
        h = torch.randn(H, generator=g, dtype=torch.float64)
        w_ih = torch.randn(H, I, generator=g, dtype=torch.float64)
        w_hh = torch.randn(H, H, generator=g, dtype=torch.float64)
        b = torch.randn(H, generator=g, dtype=torch.float64)
        h_req = h.clone().requires_grad_(True)
        step = torch.tanh(w_ih @ x + w_hh @ h_req + b)
        rows = [torch.autograd.grad(step[i], h_req, retain_graph=True)[0] for i in range(H)]
        want = torch.stack(rows)  # (H, H): row i is the gradient of output i
        got = fn(x.clone(), h.clone(), w_ih.clone(), w_hh.clone(), b.clone())
        assert torch.allclose(got, want, atol=1e-12), (
            f"I={I}, H={H}: off by {(got - want).abs().max():.2e}; row i of the Jacobian is "
            "tanh'(pre-activation_i) times row i of W_hh"
        )
