r"""# LSTM and GRU cells

The vanilla RNN's gradient through time is a product of Jacobians that vanishes or explodes. The
**LSTM** (Hochreiter & Schmidhuber, 1997) adds a *cell state* $c_t$ updated additively, so
gradients can flow along it unchanged, and three sigmoid *gates* that decide what to forget,
what to write and what to expose:

$$\begin{aligned}
i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) &&\text{input gate}\\
f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) &&\text{forget gate}\\
g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) &&\text{candidate}\\
o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) &&\text{output gate}\\
c_t &= f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t).
\end{aligned}$$

When $f_t \approx 1$ and $i_t \approx 0$, $\partial c_t / \partial c_{t-1} \approx I$: the
"constant error carousel". Derived: $c_t = f_t \odot c_{t-1} + i_t \odot g_t$, and the gates
depend on $h_{t-1}$, not on $c_{t-1}$, so along the cell path alone

$$\frac{\partial c_t}{\partial c_{t-1}}\Big|_{\text{direct}} = \operatorname{diag}(f_t), \qquad
\frac{\partial c_t}{\partial c_{t-k}}\Big|_{\text{direct}} = \operatorname{diag}\Bigl(\prod_{j=0}^{k-1} f_{t-j}\Bigr).$$

Compare the RNN's $\prod \operatorname{diag}(\tanh')W_{hh}$ (`rnn.py`): no weight matrix is
multiplied in, and the factors are gates the network *learns* to hold near 1 for as long as it
needs the memory. (That is why LSTM forget-gate biases are often initialized to 1: Jozefowicz
et al., 2015.) The GRU's $h_t = (1 - z_t) n_t + z_t h_{t-1}$ gives the same direct path with
$\operatorname{diag}(z_t)$.

A worked example: with the forget gate saturated open and the input gate shut, the cell keeps
its value for 50 steps.

>>> H = 1
>>> big = torch.zeros(4 * H); big[H:2 * H] = 20.0; big[:H] = -20.0  # f = sigmoid(20), i = sigmoid(-20)
>>> h, c = torch.zeros(1, H), torch.ones(1, H)
>>> for _ in range(50):
...     h, c = lstm_cell(torch.zeros(1, 1), h, c, torch.zeros(4 * H, 1), torch.zeros(4 * H, H), big, torch.zeros(4 * H))
>>> round(c.item(), 6)
1.0

The **GRU** (Cho et al., 2014) merges cell and hidden state and uses two gates, a reset $r_t$ and
an update $z_t$:

$$\begin{aligned}
r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}), \qquad
z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}),\\
n_t &= \tanh\bigl(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\bigr), \qquad
h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}.
\end{aligned}$$

Note where the reset gate sits: it multiplies $W_{hn} h_{t-1} + b_{hn}$ *including* its bias,
which is the cuDNN/torch convention (the paper puts $r_t$ on $h_{t-1}$ before the product).
Getting such details right is what "equal to `nn.GRU` with copied weights" tests.

The gate weights are stacked in one matrix in torch's order, $(i, f, g, o)$ for the LSTM and
$(r, z, n)$ for the GRU, so `weight_ih_l0` is `(4H, I)` or `(3H, I)`. The multi-layer,
bidirectional machinery is `RecurrentStack` from `rnn.py`.

Left out: peephole connections, `proj_size` (LSTMP), layer-normalized LSTMs.

## Exercises

1. Write `lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh)`: one LSTM step with torch's stacked gate
   weights, returning `(h', c')`. Check it: `uv run pytest --exercise nn.lstm_gru`.
2. Write `gru_step(x, h, w_ih, w_hh, b_ih, b_hh)`: one GRU step with torch's reset-gate
   convention. Check it: `uv run pytest --exercise nn.lstm_gru`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from masterclass.nn.rnn import RecurrentStack


def lstm_cell(
    x: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor
) -> tuple[Tensor, Tensor]:
    """One LSTM step: `x` `(B, I)`, `h`, `c` `(B, H)`, weights `(4H, I)`, `(4H, H)`; returns `(h', c')`.

    >>> H = 2
    >>> x, h, c = torch.ones(1, 1), torch.zeros(1, H), torch.ones(1, H)
    >>> zero_w = (torch.zeros(4 * H, 1), torch.zeros(4 * H, H), torch.zeros(4 * H), torch.zeros(4 * H))
    >>> h2, c2 = lstm_cell(x, h, c, *zero_w)  # all gates sigmoid(0) = 0.5, candidate tanh(0) = 0
    >>> c2.tolist(), h2.round(decimals=4).tolist()  # c' = 0.5 c, h' = 0.5 tanh(c')
    ([[0.5, 0.5]], [[0.23109999299049377, 0.23109999299049377]])
    """
    # All four gates come from one stacked product, in torch's order input, forget, cell, output.
    # The cell state changes additively, so its gradient flows back through `f` alone, not
    # through a squashing nonlinearity.
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)  # each (B, H)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_next = f * c + i * g
    h_next = o * torch.tanh(c_next)
    return h_next, c_next


# The GRU: two gates and no separate cell. The reset gate multiplies the hidden part of the
# candidate after its matrix and bias, torch's convention (the paper applies it to $h$ before the
# matrix).
def gru_cell(
    x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor
) -> Tensor:
    """One GRU step: `x` `(B, I)`, `h` `(B, H)`, weights `(3H, I)`, `(3H, H)`; returns `h'`."""
    gi = x @ w_ih.T + b_ih  # (B, 3H): input contributions
    gh = h @ w_hh.T + b_hh  # (B, 3H): hidden contributions, kept apart for the reset gate
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


# The stacks reuse `RecurrentStack`: a subclass gives the gate count, the state size and the
# one-step cell.
class LSTM(RecurrentStack):
    """LSTM stack, equal to `torch.nn.LSTM` with copied weights; state is the pair `(h, c)`."""

    gate_multiplier = 4
    state_size = 2

    def cell(
        self, x: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor, ...]
    ) -> tuple[Tensor, ...]:
        """One LSTM step on the state `(h, c)`."""
        return lstm_cell(x, state[0], state[1], *weights)


class GRU(RecurrentStack):
    """GRU stack, equal to `torch.nn.GRU` with copied weights."""

    gate_multiplier = 3

    def cell(
        self, x: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor, ...]
    ) -> tuple[Tensor, ...]:
        """One GRU step on the state `(h,)`."""
        return (gru_cell(x, state[0], *weights),)
