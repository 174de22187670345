r"""# Hyena operators: implicit long convolutions

Attention mixes a sequence with a data-dependent $T \times T$ matrix: quadratic in $T$. An SSM
(the S4D chapter) mixes it with a long convolution whose kernel comes from a few parameters:
$O(T \log T)$ by FFT, but the kernel is the same for every input. Hyena (Poli et al., 2023) keeps
the FFT convolution and recovers data dependence by *gating*: it alternates long convolutions with
elementwise products by projections of the input,

$$ z^{1} = v, \qquad z^{n+1} = x^{n} \odot \big(h^{n} * z^{n}\big), \quad n = 1..N, \qquad
   y = W_{out}\, z^{N+1}, $$

where $(v, x^1, .., x^N)$ are $N + 1$ linear projections of the input and $h^n * z$ is a causal
convolution along time, one filter per channel. In the paper's code, and here, the first filter
$h^1$ is *short*: a depthwise convolution of a few taps applied to every projection, so the
recurrence starts with the gate $z^2 = x^1 \odot v$ and only $h^2 .. h^N$ are long, implicit
filters (order $N$ has $N - 1$ long convolutions; each also has a skip term $D_n z^n$, as in an
SSM). For $N = 2$,

$$ y_t = x^2_t \Big( \sum_{s \le t} h^2_{t-s}\, x^1_s v_s + D\, x^1_t v_t \Big), $$

the "$q \odot (h * (k \odot v))$" of H3 (Fu et al., 2023), with $x^2, x^1$ in the roles of query
and key.

**Why this solves recall.** Write the short filters as shifts: at a value token $s$, let $x^1_s$
read the previous token (the key $k$) and $v_s$ the value token itself. Then $x^1_s \odot v_s$
*binds* key and value channel by channel, $a(k) \odot b(v)$ for feature maps $a, b$; the long
filter, near-constant over the past, *sums* the bindings of all earlier pairs,
$M_t = \sum_{s < t} a(k_s) \odot b(v_s)$; and at the query the gate $x^2_t = c(q)$ *reads out*
$c(q) \odot M_t$, which the output map can score against every value. With one-hot features on
$|K| \cdot |V|$ channels the read-out is exact; with $d$ channels of random-like features each
stored pair adds noise of order $\sqrt d$ against a signal of order $d$, so recall improves with the
width and degrades with the number of pairs in context: an approximate associative memory built
from elementwise products and one convolution.

**Implicit filters.** A filter as long as the sequence, stored explicitly, is $T$ parameters per
channel and overfits. Hyena makes it a *function of position*: a small MLP reads a positional
encoding of $t$ and outputs the filter value of every channel at $t$,

$$ h_t = \mathrm{FFN}\big(\mathrm{PE}(t)\big) \odot w_t, \qquad
   \mathrm{PE}(t) = \big(t/T,\ \cos(2\pi k t / T),\ \sin(2\pi k t / T)\big)_{k=1..K}, $$

with sine activations (high frequencies are reachable, as in SIREN) and an exponential decay
window $w_t = e^{-\alpha_c t / T}$ whose rate $\alpha_c$ differs per channel: some channels look
far, others near. Parameters no longer grow with $T$, and the filter of any length is evaluated
from the same MLP.

**FFT convolution and causality.** The causal convolution
$(h * z)_t = \sum_{s=0}^{t} h_{t-s} z_s$ is computed as in the S4D chapter (zero-pad to $2T$ so
that the FFT's circular convolution does not wrap; `causal_fft_conv` is reused from there). The
test checks it against `torch.nn.functional.conv1d` with a flipped kernel. Causality is structural
in `conv="direct"` mode: output $t$ reads only inputs $\le t$, so perturbing the future leaves the
past *bit-identical*. In FFT mode every output is computed from every input's Fourier
coefficients, so the past changes by rounding only (~1e-7), which the test also bounds.

**Associative recall.** A sequence of key-value pairs `k1 v1 k2 v2 ...` drawn from a mapping that
is fixed within the sequence; whenever a key comes again, the next token is its value.
`train_associative_recall` trains a two-layer, order-2 Hyena of width 64 on the paper's setting
(vocabulary 20, length 64) and scores the value of the final query key on 1000 fresh sequences;
the seeded test asks for at least 90% (chance is 10%) after 400 steps, under a minute on one
core. Two choices matter for that budget. The gate-first order above: the literal recurrence with
a long $h^1$ in front, $x^2 \odot (h^2 * (x^1 \odot (h^1 * v)))$, must first learn to silence
$h^1$ (its random initial filter smears every value over the past before the binding), and in
our runs it learnt the task far more slowly. And the learning rate: a one-cycle schedule
(warm-up to $10^{-2}$, cosine decay), the loss taken at every predictable value rather than at the
final query alone. The Hyena paper's recipe is otherwise the one here: sine-activated filter
MLP on positional features, exponential decay windows, short convolutions of 3 taps, order 2.

![Implicit filters of one Hyena operator and their decay windows](figures/hyena_filters.png)

References: Poli, Massaroli, Nguyen et al., *Hyena hierarchy: towards larger convolutional
language models*, 2023, https://arxiv.org/abs/2302.10866; Sitzmann et al., *Implicit neural
representations with periodic activation functions* (SIREN), 2020; Fu et al., *Hungry hungry
hippos* (H3), 2023, https://arxiv.org/abs/2212.14052.

Left out: the FlashFFTConv kernels, filter modulation variants, Hyena's distillation to a
recurrence for generation, and StripedHyena's mix with attention.

>>> op = HyenaOperator(d_model=8, max_len=16, seed=0)
>>> op(torch.randn(2, 16, 8)).shape
torch.Size([2, 16, 8])

## Exercises

1. Write `direct_causal_conv(z, h)` for `z` `(B, T, C)` and `h` `(C, T)` with one `F.conv1d`
   call (grouped, left-padded, kernel flipped). Check it: `uv run pytest --exercise frontiers.hyena`
2. Write `decay_window(T, rates)` returning $e^{-\alpha_c t / T}$ of shape `(C, T)`, and say which
   channel forgets a token 32 steps back the most. Check it: `uv run pytest --exercise frontiers.hyena`
3. Write `recall_batch(n, seed)` that generates associative-recall sequences (vocabulary 20,
   length 64) whose last token is a key seen before, with the target its value.
   Check it: `uv run pytest --exercise frontiers.hyena`
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The FFT convolution is the S4D chapter's, the MLP the Transformer chapter's.
from masterclass.frontiers.s4d import causal_fft_conv
from masterclass.transformer.feedforward import FeedForward


def direct_causal_conv(z: Tensor, h: Tensor) -> Tensor:
    r"""$(h * z)_t = \sum_{s \le t} h_{t-s} z_s$ for `z` `(B, T, C)`, `h` `(C, T)`, by `conv1d`.

    `conv1d` computes a correlation, so the kernel is flipped; left padding of $T - 1$ zeros makes
    output $t$ read inputs $t - T + 1 .. t$ only.
    """
    T, C = z.shape[1], z.shape[2]
    weight = h.flip(-1)[:, None, :]  # (C, 1, T)
    out = F.conv1d(F.pad(z.transpose(1, 2), (T - 1, 0)), weight, groups=C)  # (B, C, T)
    return out.transpose(1, 2)


# The sine activation of the implicit filter's MLP, with one learnable frequency per unit.
class _Sin(nn.Module):
    def __init__(self, dim: int, w: float) -> None:
        super().__init__()
        self.freq = nn.Parameter(w * torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(self.freq * x)


# ## The implicit filter
#
# The MLP maps the $2K + 1$ positional features to `n_filters` channels; the window multiplies the
# result by $e^{-\alpha_c t/T}$ with rates spread geometrically between `slow` and `fast`, one per
# channel, so the family of filters starts with a range of memory lengths.


class ImplicitFilter(nn.Module):
    """Filters `(n_filters, T)` from an MLP of positional features times a decay window."""

    def __init__(
        self,
        n_filters: int,
        max_len: int,
        *,
        n_freqs: int = 8,
        hidden: int = 32,
        omega: float = 1.0,
        slow: float = 0.3,
        fast: float = 12.0,
    ) -> None:
        super().__init__()
        self.max_len = max_len
        self.n_freqs = n_freqs
        # The MLP has sine activations with learnable frequencies (as in SIREN): smooth functions of
        # position with enough detail for sharp filters. Its last layer has no bias.
        self.mlp = nn.Sequential(
            nn.Linear(2 * n_freqs + 1, hidden),
            _Sin(hidden, omega),
            nn.Linear(hidden, hidden),
            _Sin(hidden, omega),
            nn.Linear(hidden, n_filters, bias=False),
        )
        rates = torch.exp(torch.linspace(math.log(slow), math.log(fast), n_filters))
        self.register_buffer("rates", rates, persistent=False)

    # Positional features of each step: time as a fraction of `max_len`, and K cosines and sines of
    # it. Normalising by `max_len`, not `T`, makes a filter computed for a shorter sequence a prefix
    # of the longer one.
    def forward(self, T: int) -> Tensor:
        """The filters for a sequence of `T` <= max_len steps, `(n_filters, T)`."""
        if not 0 < T <= self.max_len:
            raise ValueError(f"filter length T must be in [1, max_len={self.max_len}], got {T}")
        t = torch.arange(T, dtype=self.rates.dtype, device=self.rates.device) / self.max_len  # (T,)
        k = torch.arange(1, self.n_freqs + 1, dtype=t.dtype, device=t.device)  # (K,)
        angle = 2 * math.pi * t[:, None] * k  # (T, K)
        pe = torch.cat([t[:, None], angle.cos(), angle.sin()], dim=-1)  # (T, 2K + 1)
        window = torch.exp(-self.rates[:, None] * t)  # (n_filters, T)
        return self.mlp(pe).T * window  # (n_filters, T)


# The operator's parameters: one input projection to all N + 1 streams, their short convolution, the
# N - 1 implicit long filters with their skip terms, and an output projection.
class HyenaOperator(nn.Module):
    r"""The order-$N$ Hyena recurrence, `(B, T, C) -> (B, T, C)`.

    `conv` picks the long convolution: `"fft"` ($O(T \log T)$) or `"direct"` (`conv1d`, $O(T^2)$).
    """

    def __init__(
        self,
        d_model: int,
        max_len: int,
        order: int = 2,
        *,
        short_kernel: int = 3,
        conv: str = "fft",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if order < 2:
            raise ValueError(f"order must be >= 2 (order 1 has no long convolution), got {order}")
        if conv not in ("fft", "direct"):
            raise ValueError(f"conv must be 'fft' or 'direct', got {conv!r}")
        torch.manual_seed(seed)
        self.d_model, self.order, self.conv = d_model, order, conv
        # One input projection produces all N + 1 streams, `v` and `x^1 .. x^N`, side by side.
        width = (order + 1) * d_model
        self.in_proj = nn.Linear(d_model, width)
        # A short causal depthwise convolution on each projection: local context before the
        # long mixing (H3's "shift" SSM, here a kernel of 3).
        self.short = nn.Conv1d(width, width, short_kernel, groups=width, padding=short_kernel - 1)
        # $N - 1$ long filters: the first filter of the recurrence is the short convolution.
        self.filter = ImplicitFilter((order - 1) * d_model, max_len)
        # The skip term $D$ of each long convolution, as in an SSM: $h * z + D z$.
        self.skip = nn.Parameter(torch.randn(order - 1, d_model) * 0.1)
        self.out_proj = nn.Linear(d_model, d_model)

    def long_conv(self, z: Tensor, h: Tensor) -> Tensor:
        """Causal convolution of `z` `(B, T, C)` with filters `h` `(C, T)`."""
        return causal_fft_conv(z, h) if self.conv == "fft" else direct_causal_conv(z, h)

    # The short convolution, written as $k$ shifted copies: $y_t = b + \sum_{j<k} w_{k-1-j}\,
    # p_{t-j}$, with zeros before the start. It is `self.short` (a left-padded depthwise
    # `Conv1d`, which the test runs as the reference) computed without the layout changes and the
    # slow depthwise backward of `conv1d` on a CPU: the recall run spends its time here otherwise.

    def short_conv(self, p: Tensor) -> Tensor:
        """The causal depthwise short convolution of `p` `(B, T, W)`, W = (N + 1) d_model."""
        w = self.short.weight[:, 0]  # (W, k)
        k = w.shape[1]
        out = p * w[:, k - 1] + self.short.bias  # (B, T, W), lag 0
        for j in range(1, min(k, p.shape[1])):
            out = out + F.pad(p[:, :-j], (0, 0, j, 0)) * w[:, k - 1 - j]  # lag j
        return out

    # ## The recurrence
    #
    # Project, apply the short convolution to every projection, split into $v, x^1 .. x^N$, gate
    # once ($z^2 = x^1 \odot v$: the short filter $h^1$ is already inside $v$), then alternate long
    # convolution and gating, $z^{n+1} = x^n \odot (h^n * z^n + D_n z^n)$.

    def forward(self, u: Tensor) -> Tensor:
        """Apply the operator to `u` `(B, T, d_model)`."""
        if u.dim() != 3 or u.shape[-1] != self.d_model:
            raise ValueError(f"u must have shape (B, T, {self.d_model}), got {tuple(u.shape)}")
        p = self.short_conv(self.in_proj(u))  # (B, T, (N+1)C)
        v, *xs = p.split(self.d_model, dim=-1)  # N + 1 tensors (B, T, C)
        T = u.shape[1]
        h = self.filter(T).view(self.order - 1, self.d_model, T)  # (N - 1, C, T)
        z = xs[0] * v  # (B, T, C)
        for n, x in enumerate(xs[1:]):
            z = x * (self.long_conv(z, h[n]) + self.skip[n] * z)  # (B, T, C)
        return self.out_proj(z)


# A language model around the operator: Hyena takes attention's place in an otherwise ordinary
# pre-norm block with a residual around each half.
class HyenaLM(nn.Module):
    """Embedding, `n_layers` pre-norm blocks (Hyena operator + MLP), LayerNorm and an output head."""

    def __init__(
        self, vocab_size: int, d_model: int, max_len: int, n_layers: int = 2, seed: int = 0
    ):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = nn.Embedding(vocab_size, d_model)
        self.mix_norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.mixers = nn.ModuleList(
            HyenaOperator(d_model, max_len, seed=seed + i) for i in range(n_layers)
        )
        self.ffn_norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(n_layers))
        self.ffns = nn.ModuleList(
            FeedForward(d_model, 2 * d_model, "gelu") for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    # Each layer adds the operator's output, then the MLP's, to the residual stream. There is no
    # positional embedding: the long filters already weigh each input by its distance.
    def forward(self, idx: Tensor) -> Tensor:
        """Logits `(B, T, V)` for token ids `(B, T)`."""
        x = self.emb(idx)  # (B, T, C)
        for mn, mix, fn, ffn in zip(
            self.mix_norms, self.mixers, self.ffn_norms, self.ffns, strict=True
        ):
            x = x + mix(mn(x))
            x = x + ffn(fn(x))
        return self.head(self.norm(x))


# ## Associative recall
#
# Tokens $0 .. V/2 - 1$ are keys, $V/2 .. V - 1$ values. Each sequence draws its own random
# key→value map and then $T/2$ pairs from it; the last position holds a key already seen, whose
# value is the answer. Every value after a repeated key is predictable from the context, so the
# training loss counts all of them (a denser signal than the final query alone); accuracy is
# measured on the final query of fresh sequences.


def recall_batch(n: int, vocab: int = 20, length: int = 64, *, generator: torch.Generator):
    """Sequences `(n, length)`, next-token targets `(n, length)` (-100 where unpredictable),
    and the answer to the final query `(n,)`; `generator` seeds everything."""
    if vocab % 2 or length % 2:
        raise ValueError(f"vocab and length must be even, got vocab={vocab}, length={length}")
    n_keys = vocab // 2
    mapping = torch.rand(n, n_keys, generator=generator).argsort(-1) + n_keys  # (n, K) values
    keys = torch.randint(0, n_keys, (n, length // 2), generator=generator)  # (n, T/2)
    keys[:, -1] = keys[
        torch.arange(n), torch.randint(0, length // 2 - 1, (n,), generator=generator)
    ]
    values = mapping.gather(1, keys)  # (n, T/2)
    seq = torch.stack([keys, values], dim=-1).view(n, length)  # k1 v1 k2 v2 ...
    answer = values[:, -1]
    seq = seq[:, :-1]  # the last value is what is asked for; input is (n, length - 1)
    # A value is predictable when its key appeared in an earlier pair.
    seen = (keys[:, :, None] == keys[:, None, :]).tril(-1).any(-1)  # (n, T/2)
    targets = torch.full((n, length - 1), -100, dtype=torch.long)
    targets[:, 0::2] = torch.where(seen, values, torch.full_like(values, -100))
    return seq, targets, answer


# Training draws a fresh batch every step (there is nothing to memorise, only the skill), with a
# one-cycle learning-rate schedule; the loss covers every predictable value.
def train_associative_recall(
    steps: int = 400,
    *,
    d_model: int = 64,
    batch: int = 32,
    lr: float = 1e-2,
    seed: int = 0,
    vocab: int = 20,
    length: int = 64,
) -> tuple[HyenaLM, float]:
    """Train a two-layer Hyena on recall; returns the model and its accuracy on 1000 fresh queries."""
    # One generator draws every batch and the final test, so the seed fixes the whole run.
    g = torch.Generator().manual_seed(seed)
    model = HyenaLM(vocab, d_model, length, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    for _ in range(steps):
        seq, targets, _ = recall_batch(batch, vocab, length, generator=g)
        loss = F.cross_entropy(model(seq).transpose(1, 2), targets, ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    # Evaluation asks only the final query of 1000 new sequences: the prediction at the last
    # position.
    seq, _, answer = recall_batch(1000, vocab, length, generator=g)
    with torch.no_grad():
        accuracy = (model(seq)[:, -1].argmax(-1) == answer).float().mean().item()
    return model, accuracy
