"""RNN, LSTM and GRU stacks against torch.nn.RNN/LSTM/GRU with copied weights; delayed echo."""

import pytest
import torch
from torch import nn

from masterclass.nn.lstm_gru import GRU, LSTM
from masterclass.nn.rnn import RNN, delayed_echo_batch, train_delayed_echo

# float64 and identical formulas; recurrences of 5 steps in 2 layers accumulate rounding of
# ~1e-15 per step, so 1e-10 is loose for correct code and tight for a wrong gate order.
TOL = dict(rtol=1e-10, atol=1e-10)

PAIRS = {"rnn": (RNN, nn.RNN), "lstm": (LSTM, nn.LSTM), "gru": (GRU, nn.GRU)}


def _build(kind, **kw):
    ours_cls, ref_cls = PAIRS[kind]
    ref = ref_cls(3, 4, **kw).double()
    ours = ours_cls(3, 4, **kw).double()
    # Same parameter names and shapes as torch: the state dict loads as is.
    ours.load_state_dict(ref.state_dict())
    return ours, ref


@pytest.mark.parametrize("kind", sorted(PAIRS))
@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(num_layers=2, bidirectional=True),
        dict(num_layers=2, batch_first=True, bias=False),
    ],
)
def test_matches_torch_outputs_and_gradients(kind, kw):
    ours, ref = _build(kind, **kw)
    g = torch.Generator().manual_seed(0)
    L, D = kw.get("num_layers", 1), 2 if kw.get("bidirectional") else 1
    x = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)  # (T, B, I) or (B, T, I)
    h0 = torch.randn(
        L * D, 5 if not kw.get("batch_first") else 2, 4, generator=g, dtype=torch.float64
    )
    states = (h0, torch.randn(h0.shape, generator=g, dtype=torch.float64)) if kind == "lstm" else h0
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y1, s1 = ours(x1, states)
    y2, s2 = ref(x2, states)
    torch.testing.assert_close(y1, y2, **TOL)
    for a, b in zip(s1 if kind == "lstm" else (s1,), s2 if kind == "lstm" else (s2,), strict=True):
        torch.testing.assert_close(a, b, **TOL)
    w = torch.randn(y1.shape, generator=g, dtype=torch.float64)
    final1 = s1[1] if kind == "lstm" else s1
    final2 = s2[1] if kind == "lstm" else s2
    ((y1 * w).sum() + final1.sum()).backward()
    ((y2 * w).sum() + final2.sum()).backward()
    torch.testing.assert_close(x1.grad, x2.grad, **TOL)
    for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, **TOL, msg=name)


def test_zero_initial_state_by_default():
    ours, ref = _build("gru", num_layers=2)
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], ref(x)[0], **TOL)


def test_delayed_echo_batch():
    tokens, target = delayed_echo_batch(3, 6, delay=2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(target[:, 2:], tokens[:, :-2]) and (target[:, :2] == -100).all()


@pytest.mark.parametrize("stack", [RNN, LSTM, GRU])
def test_learns_delayed_echo(stack):
    # Chance is 25% (4 tokens); a 2-step memory is learnt to > 95% in a second or two.
    acc, losses = train_delayed_echo(stack)
    assert acc > 0.95 and losses[-1] < 0.3 * losses[0]


def test_bad_configurations_raise():
    with pytest.raises(ValueError, match="positive"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="feature size 3"):
        GRU(3, 4)(torch.randn(5, 2, 7))
    with pytest.raises(ValueError, match="initial state"):
        RNN(3, 4, num_layers=2)(torch.randn(5, 2, 3), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(3, 4, nonlinearity="gelu")
