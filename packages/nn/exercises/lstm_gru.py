r"""# Exercises: LSTM and GRU cells

One LSTM step and one GRU step in torch's gate layout, checked against `nn.LSTMCell` and
`nn.GRUCell`."""

import torch


def solution_1_lstm_step(
    x: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gates in the order (i, f, g, o); returns `(h', c')`."""
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def check_1_lstm_step(fn) -> None:
    """Compare with `torch.nn.LSTMCell` using its own weights."""
    gen = torch.Generator().manual_seed(0)
    for B, I, H in [(2, 3, 4), (1, 1, 2), (4, 5, 3)]:
        torch.manual_seed(I * 10 + H)
        cell = torch.nn.LSTMCell(I, H, dtype=torch.float64)
        x = torch.randn(B, I, generator=gen, dtype=torch.float64)
        h = torch.randn(B, H, generator=gen, dtype=torch.float64)
        c = torch.randn(B, H, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            want_h, want_c = cell(x, (h, c))
            w = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
            got_h, got_c = fn(x.clone(), h.clone(), c.clone(), *(t.clone() for t in w))
        # float64; rounding only.
        assert torch.allclose(got_c, want_c, atol=1e-12), (
            f"B={B}, I={I}, H={H}: c' off by {(got_c - want_c).abs().max():.2e}; torch orders the "
            "stacked gates (i, f, g, o)"
        )
        assert torch.allclose(got_h, want_h, atol=1e-12), (
            f"B={B}, I={I}, H={H}: h' off by {(got_h - want_h).abs().max():.2e}"
        )


def solution_2_gru_step(
    x: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> torch.Tensor:
    """Gates (r, z, n); the reset gate multiplies $W_{hn} h + b_{hn}$, bias included."""
    i_r, i_z, i_n = (x @ w_ih.T + b_ih).chunk(3, dim=1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def check_2_gru_step(fn) -> None:
    """Compare with `torch.nn.GRUCell` using its own weights."""
    gen = torch.Generator().manual_seed(1)
    for B, I, H in [(2, 3, 4), (1, 1, 2), (4, 5, 3)]:
        torch.manual_seed(I * 10 + H)
        cell = torch.nn.GRUCell(I, H, dtype=torch.float64)
        x = torch.randn(B, I, generator=gen, dtype=torch.float64)
        h = torch.randn(B, H, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            want = cell(x, h)
            w = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
            got = fn(x.clone(), h.clone(), *(t.clone() for t in w))
        assert torch.allclose(got, want, atol=1e-12), (
            f"B={B}, I={I}, H={H}: off by {(got - want).abs().max():.2e}; the reset gate "
            "multiplies (W_hn h + b_hn), and h' = (1 - z) n + z h"
        )
