r"""# Mamba: selective state spaces

S4D (the previous chapter) is *linear time-invariant*: the same $\bar A, \bar B, C$ at every step,
which is what lets it run as one long convolution. It is also its weakness. An LTI system cannot
decide, from what it reads, to remember this token and ignore that one: copying a token seen
a while ago, or answering "what followed the key *k*?", needs content-dependent memory.
Mamba (Gu and Dao, 2023) makes the SSM *selective*: the step size $\Delta$ and the matrices $B, C$
become functions of the current input,

$$ \Delta_t = \mathrm{softplus}(W_\Delta x_t + b_\Delta), \quad B_t = W_B x_t, \quad C_t = W_C x_t, $$

$$ h_t = \bar A_t \odot h_{t-1} + \bar B_t x_t, \qquad y_t = C_t h_t + D x_t, \qquad
   \bar A_t = e^{\Delta_t A}, \quad \bar B_t = \Delta_t B_t. $$

A large $\Delta_t$ resets the state onto the current token ($\bar A_t \to 0$); a small one lets
the token pass unnoticed ($\bar A_t \to 1$, $\bar B_t \to 0$): the gate of an LSTM, derived from a
discretised ODE. ($\bar B_t = \Delta_t B_t$ is the first-order, Euler, form of ZOH's
$(e^{\Delta A} - 1)A^{-1}B$, as in the reference implementation; $A$ itself stays
input-independent, real and negative: $A = -e^{A_{\log}}$, S4D-Real's $A_n = -n$.)

**The price and the parallel scan.** With $\bar A_t$ depending on $t$ the kernel $K$ no longer
exists: no FFT. But the recurrence is still *linear in h*, and composing two steps is again a step:

$$ (a_1, b_1) \circ (a_2, b_2) = (a_1 a_2,\; a_2 b_1 + b_2), $$

because applying $h \mapsto a_1 h + b_1$ then $h \mapsto a_2 h + b_2$ gives
$a_2 a_1 h + (a_2 b_1 + b_2)$. This operator is associative, so all prefixes $h_1 .. h_T$ are a
*prefix scan* computable in $\log_2 T$ parallel rounds (Blelloch, 1990). `parallel_scan` uses the
Hillis–Steele form: round $r$ combines each position with the one $2^r$ before it. The real
Mamba fuses this scan into one GPU kernel that keeps $h$ in SRAM; here it is plain tensor ops, and
the test checks it equals the sequential loop in value and gradient.

**The block.** Around the SSM, one Mamba layer is a gated MLP with a short causal depthwise
convolution (kernel 4) before the SSM:

$$ (x, z) = W_{in} u, \quad x \leftarrow \mathrm{SiLU}(\mathrm{conv}(x)), \quad
   y = W_{out}\big(\mathrm{SSM}(x) \odot \mathrm{SiLU}(z)\big), $$

in a pre-norm residual stack (RMSNorm) with no attention and no MLP besides. The width inside is
$d_{inner} = 2 d_{model}$, the state per channel $N = 16$, and $\Delta$ goes through a rank-$R$
bottleneck, $R = \lceil d_{model} / 16 \rceil$.

**Decoding.** The state of a layer is the last $d_{conv}$ inputs of the convolution and $h$
`(B, d_inner, N)`: constant memory per token, where attention's KV cache grows with the context.
`MambaCache` holds them; feeding tokens one at a time through `MambaLM.step` equals the full forward
(a test), and our weights load into `transformers`' `MambaModel` with the same names (another test,
against its pure-torch path).

![The sequential recurrence and the parallel scan's rounds](figures/selective_scan.png)

References: Gu and Dao, *Mamba: linear-time sequence modeling with selective state spaces*, 2023,
https://arxiv.org/abs/2312.00752; Blelloch, *Prefix sums and their applications*, 1990;
Martin and Cundy, *Parallelizing linear recurrent neural nets over sequence length*, 2018,
https://arxiv.org/abs/1709.04057.

Left out: the hardware-aware fused kernel (SRAM recomputation), Mamba-2's structured state space
duality, variable-length packing, and the initialisation details of $\Delta$'s bias (ours is
uniform in log-space as in the paper, without the floor).

>>> torch.manual_seed(0) and None
>>> a, b = torch.rand(2, 8, 3), torch.randn(2, 8, 3)
>>> bool(torch.allclose(parallel_scan(a, b), sequential_scan(a, b), atol=1e-6))
True

## Exercises

1. Write `blelloch_combine(left, right)` for pairs `(a, b)` and verify it is associative by
   checking `combine(combine(p, q), r) == combine(p, combine(q, r))` on random tensors: return the
   combined pair. Check it: `uv run pytest --exercise frontiers.mamba`
2. Write `scan_with_initial_state(a, b, h0)` returning all $h_t$ when $h_0 \ne 0$ (hint: fold
   $h_0$ into $b_1$). Check it: `uv run pytest --exercise frontiers.mamba`
3. Write `cache_bytes(d_model, n_layers, d_state, d_conv, expand)`: the float32 bytes of a Mamba
   decoding cache for one sequence, and compare with a KV cache of the same width at 4096 tokens.
   Check it: `uv run pytest --exercise frontiers.mamba`
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.nn.normalization import RMSNorm


@dataclass
class MambaArgs:
    """Hyper-parameters of `MambaLM` (the fields of `transformers.MambaConfig` that matter here)."""

    # Token ids $V$.
    vocab_size: int = 64
    # Width of the residual stream $d_{model}$ (MambaConfig.hidden_size).
    d_model: int = 32
    # Number of Mamba blocks (num_hidden_layers).
    n_layers: int = 2
    # State size per channel $N$ (state_size).
    d_state: int = 16
    # Kernel width of the causal depthwise convolution (conv_kernel).
    d_conv: int = 4
    # $d_{inner} = $ expand $\cdot d_{model}$ (MambaConfig.intermediate_size = expand * hidden_size).
    expand: int = 2
    # Rank $R$ of the $\Delta$ bottleneck (None: ceil(d_model / 16), time_step_rank="auto").
    dt_rank: int | None = None
    # RMSNorm epsilon (layer_norm_epsilon).
    eps: float = 1e-5
    # Seed of the initialisation.
    seed: int = 0

    def __post_init__(self) -> None:
        """Fill in `dt_rank` and check that every size is positive."""
        if self.dt_rank is None:
            self.dt_rank = math.ceil(self.d_model / 16)
        for name in ("vocab_size", "d_model", "n_layers", "d_state", "d_conv", "expand", "dt_rank"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"MambaArgs.{name} must be a positive int, got {value!r}")

    @property
    def d_inner(self) -> int:
        """Width inside the block, expand * d_model."""
        return self.expand * self.d_model


# ## Two ways to run $h_t = a_t h_{t-1} + b_t$
#
# Both take `a`, `b` with time on dimension 1 and any trailing shape, and return every $h_t$
# (from $h_0 = 0$). The sequential loop is the definition; the scan does $\lceil\log_2 T\rceil$
# rounds. After round $r$, position $t$ holds the composition of steps $t - 2^{r+1} + 1 .. t$
# (clipped at 0): its $b$ is then exactly $h_t$ once $2^{r+1} \ge T$. Positions with nothing
# $2^r$ before them are left as they are (composing with the identity $(1, 0)$).


def sequential_scan(a: Tensor, b: Tensor) -> Tensor:
    """All states of $h_t = a_t h_{t-1} + b_t$, one step at a time; `(B, T, ...)` -> `(B, T, ...)`."""
    h = torch.zeros_like(b[:, 0])
    out = []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def parallel_scan(a: Tensor, b: Tensor) -> Tensor:
    """The same states by a Hillis–Steele prefix scan of the operator $(a_1 a_2, a_2 b_1 + b_2)$."""
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    # Hillis-Steele: at offsets 1, 2, 4, ... every position combines with the one `offset` before
    # it; after ceil(log2 T) rounds each position holds the composition of its whole prefix, so `b`
    # is the state.
    T = a.shape[1]
    offset = 1
    while offset < T:
        # Earlier element (left) = position t - offset, later (right) = position t.
        a_left, b_left = a[:, :-offset], b[:, :-offset]  # (B, T - offset, ...)
        a_right, b_right = a[:, offset:], b[:, offset:]
        b = torch.cat([b[:, :offset], a_right * b_left + b_right], dim=1)
        a = torch.cat([a[:, :offset], a_left * a_right], dim=1)
        offset *= 2
    return b


@dataclass
class MambaCache:
    """Per-layer decoding state: the last `d_conv` conv inputs and the SSM state."""

    # One (B, d_inner, d_conv) tensor per layer: the convolution's input window.
    conv: list[Tensor]
    # One (B, d_inner, N) tensor per layer: the SSM state h.
    ssm: list[Tensor]

    @classmethod
    # A fresh cache per layer: the last `d_conv` inputs of the convolution and the SSM state `h`,
    # both zero before the first token.
    def empty(cls, args: MambaArgs, batch: int, dtype: torch.dtype = torch.float32) -> MambaCache:
        """Zero states for `batch` sequences."""
        return cls(
            [
                torch.zeros(batch, args.d_inner, args.d_conv, dtype=dtype)
                for _ in range(args.n_layers)
            ],
            [
                torch.zeros(batch, args.d_inner, args.d_state, dtype=dtype)
                for _ in range(args.n_layers)
            ],
        )


class MambaMixer(nn.Module):
    """The selective SSM block (HF's `MambaMixer`, same parameter names), `(B, T, C) -> (B, T, C)`."""

    def __init__(self, args: MambaArgs) -> None:
        super().__init__()
        self.args = args
        di, N, R = args.d_inner, args.d_state, args.dt_rank
        # The projections of the block: in to the SSM branch `x` and the gate `z`, a depthwise
        # causal convolution, the input-dependent Delta, B and C, and Delta's expansion to every
        # channel.
        self.in_proj = nn.Linear(args.d_model, 2 * di, bias=False)
        self.conv1d = nn.Conv1d(di, di, args.d_conv, groups=di, padding=args.d_conv - 1)
        self.x_proj = nn.Linear(di, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, di, bias=True)
        # S4D-Real: $A_n = -n$, stored as $\log n$ so that $A = -e^{A_{\log}} < 0$ always.
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1).float()).repeat(di, 1))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, args.d_model, bias=False)
        # $\Delta = \mathrm{softplus}(b_\Delta)$ starts log-uniform in $[10^{-3}, 10^{-1}]$:
        # the bias is softplus's inverse, $\Delta + \log(1 - e^{-\Delta})$.
        with torch.no_grad():
            dt = torch.exp(torch.rand(di) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    # ## Selection
    #
    # From the convolved input $x$ `(B, T, d_inner)` one projection gives the low-rank $\Delta$
    # input and $B_t, C_t$ `(B, T, N)`; $\Delta$ is expanded back to one step per channel.
    # Then $\bar A_t = e^{\Delta_t A}$ `(B, T, d_inner, N)` and $\bar B_t x_t = \Delta_t B_t x_t$.

    def _ssm_inputs(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        R, N = self.args.dt_rank, self.args.d_state
        dt_in, B, C = torch.split(self.x_proj(x), [R, N, N], dim=-1)  # (B, T, R), (B, T, N) x2
        dt = F.softplus(self.dt_proj(dt_in))  # (B, T, d_inner)
        A = -torch.exp(self.A_log.float())  # (d_inner, N)
        dA = torch.exp(dt[..., None] * A)  # (B, T, d_inner, N)
        dBx = dt[..., None] * B[:, :, None, :] * x[..., None]  # (B, T, d_inner, N)
        return dA, dBx, C

    def forward(self, u: Tensor, parallel: bool = True) -> Tensor:
        """Full-sequence forward of `u` `(B, T, d_model)`; `parallel` picks the scan."""
        T = u.shape[1]
        x, z = self.in_proj(u).chunk(2, dim=-1)  # (B, T, d_inner) each
        x = F.silu(self.conv1d(x.transpose(1, 2))[..., :T]).transpose(1, 2)  # causal: drop the tail
        dA, dBx, C = self._ssm_inputs(x)
        h = (parallel_scan if parallel else sequential_scan)(dA, dBx)  # (B, T, d_inner, N)
        y = (h * C[:, :, None, :]).sum(-1) + self.D * x  # (B, T, d_inner)
        return self.out_proj(y * F.silu(z))

    # ## One token with a cache
    #
    # The convolution needs the last `d_conv` inputs: shift the window left, append $x_t$, and take
    # the dot product with the kernel. The SSM needs only $h$. The arithmetic is the same as in
    # `forward`, so the outputs agree to rounding.

    def step(
        self, u: Tensor, conv_state: Tensor, ssm_state: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One token `u` `(B, d_model)`; returns the output `(B, d_model)` and the new states."""
        x, z = self.in_proj(u).chunk(2, dim=-1)  # (B, d_inner) each
        conv_state = torch.cat([conv_state[..., 1:], x[..., None]], dim=-1)  # (B, d_inner, d_conv)
        x = (conv_state * self.conv1d.weight[:, 0]).sum(-1) + self.conv1d.bias  # (B, d_inner)
        x = F.silu(x)
        # The selective SSM step on a sequence of length one: the input-dependent discretisation,
        # one update of the state, the readout through C with the skip D, and the SiLU gate from
        # `z`.
        dA, dBx, C = self._ssm_inputs(x[:, None])  # time axis of length 1
        ssm_state = dA[:, 0] * ssm_state + dBx[:, 0]  # (B, d_inner, N)
        y = (ssm_state * C[:, 0, None, :]).sum(-1) + self.D * x  # (B, d_inner)
        return self.out_proj(y * F.silu(z)), conv_state, ssm_state


# A block is just the mixer inside a pre-norm residual: Mamba has no separate MLP, the expansion
# inside the mixer takes its place.
class MambaBlock(nn.Module):
    """Pre-norm residual block `u + mixer(norm(u))`."""

    def __init__(self, args: MambaArgs) -> None:
        super().__init__()
        self.norm = RMSNorm(args.d_model, eps=args.eps)
        self.mixer = MambaMixer(args)

    def forward(self, u: Tensor, parallel: bool = True) -> Tensor:
        """`(B, T, d_model) -> (B, T, d_model)`."""
        return u + self.mixer(self.norm(u), parallel)


class MambaLM(nn.Module):
    """A Mamba language model: embeddings, `n_layers` blocks, a final norm, tied output head.

    >>> lm = MambaLM(MambaArgs(vocab_size=20, d_model=16, n_layers=1))
    >>> lm(torch.zeros(2, 5, dtype=torch.long)).shape
    torch.Size([2, 5, 20])
    """

    # The model: embeddings, the blocks and a final RMSNorm; the output head reuses the embedding
    # matrix (tied), as Hugging Face's Mamba does.
    def __init__(self, args: MambaArgs) -> None:
        super().__init__()
        torch.manual_seed(args.seed)
        self.args = args
        self.embeddings = nn.Embedding(args.vocab_size, args.d_model)
        self.layers = nn.ModuleList(MambaBlock(args) for _ in range(args.n_layers))
        self.norm_f = RMSNorm(args.d_model, eps=args.eps)

    # The stack runs with either scan (`parallel` picks which, with the same result up to
    # rounding); the final norm's output is what the tied head turns into logits.
    def hidden_states(self, idx: Tensor, parallel: bool = True) -> Tensor:
        """Final normalised hidden states `(B, T, d_model)` (HF `MambaModel`'s last_hidden_state)."""
        if idx.dim() != 2 or idx.dtype not in (torch.int32, torch.int64):
            raise ValueError(
                f"idx must be integer token ids (B, T), got {idx.dtype} {tuple(idx.shape)}"
            )
        h = self.embeddings(idx)  # (B, T, d_model)
        for layer in self.layers:
            h = layer(h, parallel)
        return self.norm_f(h)

    def forward(self, idx: Tensor, parallel: bool = True) -> Tensor:
        """Logits `(B, T, V)` through the tied embedding matrix."""
        return self.hidden_states(idx, parallel) @ self.embeddings.weight.T

    # Generation runs each layer's `step` with that layer's slice of the cache: constant work and
    # memory per token, whatever the length so far.
    def step(self, idx: Tensor, cache: MambaCache) -> Tensor:
        """Logits `(B, V)` for one new token per sequence `idx` `(B,)`; updates `cache` in place."""
        h = self.embeddings(idx)  # (B, d_model)
        for i, layer in enumerate(self.layers):
            y, cache.conv[i], cache.ssm[i] = layer.mixer.step(
                layer.norm(h), cache.conv[i], cache.ssm[i]
            )
            h = h + y
        return self.norm_f(h) @ self.embeddings.weight.T
