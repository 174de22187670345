r"""# Recurrent neural networks and sequence modelling

A recurrent network reads a sequence one step at a time and carries a hidden state $h_t$ that
summarizes everything seen so far. The Elman RNN updates it with one affine map and a
nonlinearity,

$$h_t = \tanh\bigl(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}\bigr),$$

with the *same* weights at every step, so a sequence of any length is processed by a fixed number
of parameters. Training unrolls the loop and backpropagates through time (BPTT); the gradient
reaching step $t-k$ is a product of $k$ Jacobians $\operatorname{diag}(\tanh')W_{hh}$, which
shrinks or explodes geometrically. This *vanishing gradient* is why LSTMs and GRUs
(`lstm_gru.py`) add gates.

**Why gradients vanish**, step by step. Write $a_t = W_{ih}x_t + b + W_{hh}h_{t-1}$, so
$h_t = \tanh(a_t)$.

1. One step: $\partial h_t/\partial h_{t-1} = \operatorname{diag}(1 - h_t^2)\,W_{hh}$ (row $i$ is
   $\tanh'(a_{t,i})$ times row $i$ of $W_{hh}$).
2. $k$ steps, by the chain rule: $\partial h_t/\partial h_{t-k} = \prod_{j=0}^{k-1}
   \operatorname{diag}(1 - h_{t-j}^2)\,W_{hh}$, and the loss at step $t$ sends
   $\partial L_t/\partial h_{t-k} = (\partial h_t/\partial h_{t-k})^\top\,\partial L_t/\partial h_t$
   back to step $t - k$.
3. Norms multiply: $|\tanh'| \le 1$, so $\lVert\partial h_t/\partial h_{t-k}\rVert \le
   \lVert W_{hh}\rVert_2^k$. If the largest singular value of $W_{hh}$ is below 1 the signal from
   $k$ steps back shrinks at least geometrically; if it is well above 1 (and the units are not
   saturated) it can grow geometrically instead, which gradient clipping tames.

So a plain RNN learns dependencies a few steps long quickly and long ones slowly or never.

A worked example: with $W_{hh} = 0.5 I$ and no input, the Jacobian of a step is at most $0.5$
per coordinate, and ten steps shrink it by $0.5^{10} \approx 10^{-3}$ or more:

>>> h0 = torch.full((1, 1, 2), 0.3, dtype=torch.float64, requires_grad=True)
>>> rnn = RNN(1, 2).double()
>>> with torch.no_grad():
...     for name, p in rnn.named_parameters():
...         _ = p.copy_(0.5 * torch.eye(2) if name == "weight_hh_l0" else torch.zeros_like(p))
>>> out, h_T = rnn(torch.zeros(10, 1, 1, dtype=torch.float64), h0)
>>> (g,) = torch.autograd.grad(h_T.sum(), h0)
>>> bool((g.abs() <= 0.5**10).all())
True

**Stacks.** A multi-layer RNN feeds the output sequence of layer $\ell$ as the input sequence of
layer $\ell+1$. A *bidirectional* layer runs a second RNN from the end of the sequence to the
start and concatenates the two outputs, so every position sees both its past and its future.

The `RNN` class here reproduces `torch.nn.RNN`: same parameter names (`weight_ih_l0`,
`weight_hh_l0_reverse`, ...), shapes, initialization, input layout (`batch_first`) and outputs,
so a torch state dict loads into it directly and the tests compare outputs and gradients with
copied weights. `lstm_gru.py` reuses the same stack with different cells.

The sequence task is generated: *delayed echo*, output at step $t$ the token read at step
$t - k$. Solving it requires memory of exactly $k$ steps, the smallest test of a recurrent state.

Reference: Elman, *Finding Structure in Time* (1990); Werbos, *Backpropagation Through Time*
(1990); Bengio, Simard & Frasconi, *Learning long-term dependencies with gradient descent is
difficult* (1994).

Left out: dropout between layers, packed variable-length sequences, projections (`proj_size`).

## Exercises

1. Write `rnn_unroll(x, h0, w_ih, w_hh, b_ih, b_hh)`: the hidden states `(T, B, H)` of a one-layer
   tanh RNN over `x` `(T, B, I)` from `h0` `(B, H)`. Check it: `uv run pytest --exercise nn.rnn`.
2. Write `step_jacobian(x, h, w_ih, w_hh, b)`: the `(H, H)` Jacobian $\partial h_t/\partial
   h_{t-1}$ of one step for a single example (step 1 above). Then multiply twenty of them for a
   random $W_{hh}$ scaled to spectral norm 0.9 and 1.5, and watch the norm. Check it:
   `uv run pytest --exercise nn.rnn`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

# ## The cell
#
# One step for a batch: `x` `(B, I)`, `h` `(B, H)`; `W_ih` is `(H, I)` and `W_hh` `(H, H)`.


def rnn_cell(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    nonlinearity: str = "tanh",
) -> Tensor:
    r"""One Elman step $h' = \phi(x W_{ih}^\top + b_{ih} + h W_{hh}^\top + b_{hh})$, shape `(B, H)`.

    >>> x, h = torch.ones(1, 2), torch.zeros(1, 3)
    >>> w_ih, w_hh, b = torch.full((3, 2), 0.5), torch.zeros(3, 3), torch.zeros(3)
    >>> rnn_cell(x, h, w_ih, w_hh, b, b).round(decimals=4).tolist()  # tanh(0.5 + 0.5)
    [[0.7616000175476074, 0.7616000175476074, 0.7616000175476074]]
    """
    pre = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh  # (B, H)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


# ## The stack
#
# `RecurrentStack` owns the parameters of every layer and direction and runs them. Subclasses say
# how many gate blocks a cell has (`gate_multiplier`: 1 for RNN, 4 for LSTM, 3 for GRU) and
# implement `cell`; the state is a tuple so that the LSTM can carry $(h, c)$.


class RecurrentStack(nn.Module):
    """A multi-layer, optionally bidirectional recurrent network with torch's parameter layout."""

    gate_multiplier = 1
    state_size = 1  # how many tensors the state holds: 1 for (h,), 2 for (h, c)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
    ) -> None:
        # Check the sizes and keep the configuration; `G` rows stack the gate blocks of one
        # layer's weight matrices.
        super().__init__()
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size, hidden_size and num_layers must be positive, "
                f"got {input_size}, {hidden_size}, {num_layers}"
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.num_directions = 2 if bidirectional else 1
        G, H = self.gate_multiplier * hidden_size, hidden_size
        # torch's default: every weight and bias uniform in $\pm 1/\sqrt{H}$.
        bound = 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else H * self.num_directions
            for suffix in self._suffixes(layer):
                self.register_parameter(
                    f"weight_ih{suffix}",
                    nn.Parameter(torch.empty(G, layer_in).uniform_(-bound, bound)),
                )
                self.register_parameter(
                    f"weight_hh{suffix}", nn.Parameter(torch.empty(G, H).uniform_(-bound, bound))
                )
                if bias:
                    self.register_parameter(
                        f"bias_ih{suffix}", nn.Parameter(torch.empty(G).uniform_(-bound, bound))
                    )
                    self.register_parameter(
                        f"bias_hh{suffix}", nn.Parameter(torch.empty(G).uniform_(-bound, bound))
                    )

    # Parameters carry torch's names (`weight_ih_l0`, `weight_hh_l0_reverse`, ...), so a torch
    # state dict loads as is; without bias, the biases read as zeros.
    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def layer_weights(self, suffix: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """`(W_ih, W_hh, b_ih, b_hh)` of one layer and direction, e.g. suffix `"_l0_reverse"`."""
        w_ih, w_hh = getattr(self, f"weight_ih{suffix}"), getattr(self, f"weight_hh{suffix}")
        if self.bias:
            return w_ih, w_hh, getattr(self, f"bias_ih{suffix}"), getattr(self, f"bias_hh{suffix}")
        zeros = w_ih.new_zeros(w_ih.shape[0])
        return w_ih, w_hh, zeros, zeros

    def cell(
        self, x: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor, ...]
    ) -> tuple[Tensor, ...]:
        """One step of the cell: input `(B, I)`, state tensors `(B, H)` each."""
        return (rnn_cell(x, state[0], *weights),)

    def _run_direction(
        self, xs: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor, ...], reverse: bool
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        # The loop over time: BPTT is autograd's backward through this loop.
        T = xs.shape[0]
        outputs: list[Tensor] = [xs.new_empty(0)] * T
        steps = range(T - 1, -1, -1) if reverse else range(T)
        for t in steps:
            state = self.cell(xs[t], state, weights)
            outputs[t] = state[0]
        return torch.stack(outputs), state  # (T, B, H)

    # The whole stack over a sequence, with inputs, states and outputs laid out as in torch.
    def forward(
        self, x: Tensor, state: Tensor | tuple[Tensor, ...] | None = None
    ) -> tuple[Tensor, Tensor | tuple[Tensor, ...]]:
        """Run the stack over `x` `(T, B, I)` (or `(B, T, I)` if `batch_first`).

        `state`: initial hidden state `(L * D, B, H)` (for LSTM a pair `(h_0, c_0)`), zeros if
        None. Returns the top layer's outputs `(T, B, D * H)` and the final state(s)
        `(L * D, B, H)`, in torch's order (index `layer * D + direction`).
        """
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: expected input (T, B, {self.input_size}) "
                f"{'(batch_first) ' if self.batch_first else ''}with feature size "
                f"{self.input_size}, got shape {tuple(x.shape)}"
            )
        # Work time-major, `(T, B, I)`; the initial state is zeros, or checked against
        # `(L * D, B, H)`.
        if self.batch_first:
            x = x.transpose(0, 1)  # (T, B, I)
        B = x.shape[1]
        LD = self.num_layers * self.num_directions
        if state is None:
            states = tuple(x.new_zeros(LD, B, self.hidden_size) for _ in range(self.state_size))
        else:
            states = (state,) if isinstance(state, Tensor) else tuple(state)
            for s in states:
                if s.shape != (LD, B, self.hidden_size):
                    raise ValueError(
                        f"{type(self).__name__}: initial state must have shape "
                        f"{(LD, B, self.hidden_size)}, got {tuple(s.shape)}"
                    )
        # Layer by layer, direction by direction: the directions' outputs, concatenated on the
        # feature axis, are the next layer's input.
        finals: list[tuple[Tensor, ...]] = []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                idx = layer * self.num_directions + d
                out, final = self._run_direction(
                    layer_input,
                    tuple(s[idx] for s in states),
                    self.layer_weights(suffix),
                    reverse=d == 1,
                )
                outs.append(out)
                finals.append(final)
            layer_input = torch.cat(outs, dim=-1)  # (T, B, D * H)
        # Back to the caller's layout; the final states are stacked in torch's order, one tensor
        # per state (a pair for LSTM).
        output = layer_input.transpose(0, 1) if self.batch_first else layer_input
        stacked = tuple(
            torch.stack([f[k] for f in finals]) for k in range(self.state_size)
        )  # (L*D, B, H)
        return output, stacked[0] if self.state_size == 1 else stacked


# The Elman RNN adds only the choice of nonlinearity to the stack.
class RNN(RecurrentStack):
    """Elman RNN stack, equal to `torch.nn.RNN` (tanh or relu) with copied weights."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        **kwargs,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, **kwargs)
        self.nonlinearity = nonlinearity

    # The step is `rnn_cell` with this stack's nonlinearity; `RecurrentStack` does the rest.
    def cell(
        self, x: Tensor, state: tuple[Tensor, ...], weights: tuple[Tensor, ...]
    ) -> tuple[Tensor, ...]:
        """One Elman step with this stack's nonlinearity."""
        return (rnn_cell(x, state[0], *weights, nonlinearity=self.nonlinearity),)


# ## A generated sequence task: delayed echo
#
# Inputs are random tokens from a vocabulary of size $V$; the target at step $t$ is the input at
# $t - k$ (the first $k$ targets are ignored with index $-100$, the cross-entropy convention).


def delayed_echo_batch(
    B: int, T: int, vocab: int = 4, delay: int = 2, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Tokens `(B, T)` and targets `(B, T)` where `target[:, t] = tokens[:, t - delay]`."""
    if not 0 < delay < T:
        raise ValueError(f"delayed_echo_batch: need 0 < delay < T, got delay={delay}, T={T}")
    tokens = torch.randint(0, vocab, (B, T), generator=generator)
    target = torch.full_like(tokens, -100)
    target[:, delay:] = tokens[:, :-delay]
    return tokens, target


# The model tags every step: embed, run the recurrent stack, read out logits over the vocabulary.
class SequenceTagger(nn.Module):
    """Embedding, a recurrent stack, and a linear readout per step: tokens `(B, T)` to logits `(B, T, V)`."""

    def __init__(self, stack: type[RecurrentStack], vocab: int = 4, hidden: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = stack(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens: Tensor) -> Tensor:
        """Logits `(B, T, V)` for tokens `(B, T)`."""
        h, _ = self.rnn(self.embed(tokens))  # (B, T, H)
        return self.head(h)


# Training draws a fresh batch each step; accuracy is measured on a held-out batch, over the
# positions that have a target.
def train_delayed_echo(
    stack: type[RecurrentStack] = RNN, steps: int = 150, delay: int = 2, seed: int = 0
) -> tuple[float, list[float]]:
    """Train a `SequenceTagger` on delayed echo; return held-out per-token accuracy and losses."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = SequenceTagger(stack)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        tokens, target = delayed_echo_batch(32, 12, delay=delay, generator=g)
        logits = model(tokens)
        loss = nn.functional.cross_entropy(logits.transpose(1, 2), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # Held-out accuracy: a fresh batch of 256 sequences, scored only where a target exists.
    tokens, target = delayed_echo_batch(256, 12, delay=delay, generator=g)
    with torch.no_grad():
        pred = model(tokens).argmax(-1)
    mask = target != -100
    return (pred[mask] == target[mask]).float().mean().item(), losses
