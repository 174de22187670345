r"""# Attention in sequence-to-sequence models: Bahdanau and Luong

An encoder-decoder RNN first compressed the whole source sentence into one vector, the encoder's
final state, a bottleneck that hurt long inputs. *Attention* lets the decoder look back at all
encoder states $h_1, \dots, h_S$ at every output step: it scores each one against its current
state $s$, turns the scores into weights with a softmax, and reads the weighted average, the
*context* $c$:

$$e_j = \mathrm{score}(s, h_j), \qquad \alpha_j = \frac{e^{e_j}}{\sum_k e^{e_k}}, \qquad
c = \sum_j \alpha_j h_j.$$

Two score functions defined the field before the transformer:

- **additive** (Bahdanau, Cho & Bengio, *Neural Machine Translation by Jointly Learning to Align
  and Translate*, ICLR 2015): a one-hidden-layer network
  $e_j = v^\top \tanh(W_s s + W_h h_j)$; the query is the *previous* decoder state, and the
  context is fed into the RNN step;
- **multiplicative** (Luong, Pham & Manning, *Effective Approaches to Attention-based Neural
  Machine Translation*, EMNLP 2015): $e_j = s^\top h_j$ ("dot") or $s^\top W h_j$ ("general");
  the query is the *current* decoder state, and the context is combined with it afterwards,
  $\tilde s = \tanh(W_c [c; s])$, to predict the output.

**How attention learns to align**, derived. The context is $c = \sum_j \alpha_j h_j$ with
$\partial\alpha_k/\partial e_j = \alpha_k(\mathbb 1[j = k] - \alpha_j)$ (the softmax Jacobian), so

$$\frac{\partial c}{\partial e_j} = \sum_k h_k\,\alpha_k(\mathbb 1[j = k] - \alpha_j)
= \alpha_j\Bigl(h_j - \sum_k \alpha_k h_k\Bigr) = \alpha_j\,(h_j - c).$$

Raising the score of position $j$ pulls the context towards $h_j$ and away from the current
average, in proportion to the weight $j$ already has. If the loss prefers the contents of $h_j$,
the gradient raises $e_j$; the decoder learns *where* to look from the error of *what* it read.
A position with $\alpha_j \approx 0$ gets almost no gradient, which is why attention is
initialized soft (small scores) rather than peaked.

A worked example: a dot-score query equal to key 1, with keys ten times the unit vectors, reads
almost exactly key 1.

>>> keys = 10 * torch.eye(3).unsqueeze(0)  # (B=1, S=3, D=3)
>>> context, weights = LuongAttention(3, mode="dot")(torch.tensor([[0.0, 1.0, 0.0]]), keys)
>>> weights.round(decimals=3).tolist(), context.round(decimals=2).tolist()
([[0.0, 1.0, 0.0]], [[0.0, 10.0, 0.0]])

The transformer's scaled dot-product attention (Module 6) is Luong's dot score divided by
$\sqrt{d}$, computed for all positions in parallel; the tests check our dot attention against
`torch.nn.functional.scaled_dot_product_attention` with `scale=1`.

The seq2seq model here uses the GRU of `lstm_gru.py` for both encoder and decoder and learns to
*reverse* a random token sequence, a task that needs position-by-position alignment: output
$t$ must attend to input $S - 1 - t$.

Left out: beam search, coverage penalties, local (windowed) attention.

## Exercises

1. Write `additive_attention(query, keys, w_query, w_key, b_key, v)`: Bahdanau's context
   `(B, K)` and weights `(B, S)` for a query `(B, Q)` and keys `(B, S, K)`, with
   `w_query` `(A, Q)`, `w_key` `(A, K)`, `b_key` `(A,)` and `v` `(A,)`. Check it:
   `uv run pytest --exercise nn.seq2seq_attention`.
2. Write `dot_attention(query, keys, mask)`: Luong's dot attention context `(B, D)`, where `mask`
   `(B, S)` is False at padding positions that must get weight 0. Check it:
   `uv run pytest --exercise nn.seq2seq_attention`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from masterclass.nn.lstm_gru import GRU, gru_cell


def _masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    # `mask` (B, S) is True where a key may be attended; masked scores become $-\infty$.
    if mask is not None:
        if mask.shape != scores.shape:
            raise ValueError(
                f"mask shape {tuple(mask.shape)} must equal scores {tuple(scores.shape)}"
            )
        scores = scores.masked_fill(~mask, -math.inf)
    return torch.softmax(scores, dim=-1)


# Bahdanau's additive score $v^\top \tanh(W_s s + W_h h_j)$, one per encoder state $h_j$.
class AdditiveAttention(nn.Module):
    """Bahdanau attention: query `(B, Q)`, keys/values `(B, S, K)` -> context `(B, K)`, weights `(B, S)`."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int) -> None:
        super().__init__()
        self.w_query = nn.Linear(query_dim, attn_dim, bias=False)
        self.w_key = nn.Linear(key_dim, attn_dim, bias=True)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Context and attention weights for one decoder step."""
        # $W_s s$ is broadcast over the S source positions.
        hidden = torch.tanh(self.w_query(query).unsqueeze(1) + self.w_key(keys))  # (B, S, A)
        scores = self.v(hidden).squeeze(-1)  # (B, S)
        weights = _masked_softmax(scores, mask)
        return torch.einsum("bs,bsk->bk", weights, keys), weights  # (B, K), (B, S)


# Luong scores the decoder state against each encoder state by a dot product, optionally through
# a learned matrix.
class LuongAttention(nn.Module):
    r"""Luong attention, `mode` "dot" ($s^\top h$) or "general" ($s^\top W h$); same shapes as additive."""

    def __init__(self, dim: int, mode: str = "general") -> None:
        super().__init__()
        if mode not in ("dot", "general"):
            raise ValueError(f"LuongAttention: mode must be 'dot' or 'general', got {mode!r}")
        self.mode = mode
        self.w = nn.Linear(dim, dim, bias=False) if mode == "general" else None

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Context and attention weights for one decoder step."""
        if query.shape[-1] != keys.shape[-1]:
            raise ValueError(
                f"LuongAttention: query dim {query.shape[-1]} must equal key dim {keys.shape[-1]}"
            )
        # $s^\top W h_j = (W^\top s)^\top h_j$: transform the query once, not every key.
        q = query if self.w is None else query @ self.w.weight  # (B, D)
        scores = torch.einsum("bd,bsd->bs", q, keys)  # (B, S)
        weights = _masked_softmax(scores, mask)
        return torch.einsum("bs,bsd->bd", weights, keys), weights


# ## The seq2seq model
#
# Token 0 is the beginning-of-sequence marker fed to the decoder at the first step; the source
# and target vocabularies are shared.


class Seq2Seq(nn.Module):
    """GRU encoder-decoder with Bahdanau (`"additive"`) or Luong (`"dot"`, `"general"`) attention."""

    def __init__(self, vocab: int, hidden: int = 32, attention: str = "additive") -> None:
        super().__init__()
        if attention not in ("additive", "dot", "general"):
            raise ValueError(
                f"Seq2Seq: attention must be additive, dot or general, got {attention!r}"
            )
        self.attention_kind, self.hidden = attention, hidden
        self.embed = nn.Embedding(vocab, hidden)
        self.encoder = GRU(hidden, hidden, batch_first=True)
        if attention == "additive":
            self.attention: nn.Module = AdditiveAttention(hidden, hidden, hidden)
            # Bahdanau: the RNN step reads [embedding; context].
            self.decoder = GRU(2 * hidden, hidden)
            self.out = nn.Linear(2 * hidden, vocab)
        else:
            self.attention = LuongAttention(hidden, attention)
            self.decoder = GRU(hidden, hidden)
            self.combine = nn.Linear(2 * hidden, hidden)
            self.out = nn.Linear(hidden, vocab)

    def _step(self, token: Tensor, s: Tensor, keys: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        # One decoder step: previous token (B,), state (B, H), encoder states (B, S, H).
        e = self.embed(token)  # (B, H)
        w = self.decoder.layer_weights("_l0")
        # Bahdanau attends with the previous state and feeds the context into the GRU; Luong steps
        # the GRU first, attends with the new state, and mixes the context into the readout.
        if self.attention_kind == "additive":
            context, alpha = self.attention(s, keys)  # query: previous state
            s = gru_cell(torch.cat([e, context], dim=-1), s, *w)
            logits = self.out(torch.cat([s, context], dim=-1))
        else:
            s = gru_cell(e, s, *w)
            context, alpha = self.attention(s, keys)  # query: current state
            logits = self.out(torch.tanh(self.combine(torch.cat([context, s], dim=-1))))
        return logits, s, alpha

    # Teacher forcing: the encoder's final state starts the decoder, which reads the true previous
    # token at every step.
    def forward(self, src: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher-forced logits `(B, T, V)` and attention maps `(B, T, S)`.

        `src` `(B, S)` tokens; `tgt_in` `(B, T)` decoder inputs (BOS then the target shifted right).
        """
        keys, h = self.encoder(self.embed(src))  # (B, S, H), (1, B, H)
        s = h[0]
        logits, alphas = [], []
        for t in range(tgt_in.shape[1]):
            step_logits, s, alpha = self._step(tgt_in[:, t], s, keys)
            logits.append(step_logits)
            alphas.append(alpha)
        return torch.stack(logits, 1), torch.stack(alphas, 1)

    # At test time there is no true token to read: each step's argmax is the next step's input,
    # starting from BOS (token 0).
    @torch.no_grad()
    def greedy_decode(self, src: Tensor, length: int) -> Tensor:
        """Decode `length` tokens `(B, length)`, feeding back the argmax each step."""
        keys, h = self.encoder(self.embed(src))
        s, token, out = h[0], src.new_zeros(src.shape[0]), []
        for _ in range(length):
            logits, s, _ = self._step(token, s, keys)
            token = logits.argmax(-1)
            out.append(token)
        return torch.stack(out, 1)


# The task: reverse the source. Token 0 is reserved for BOS, so sources draw from `[1, vocab)`.
def reversal_batch(
    B: int, S: int, vocab: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Source tokens in `[1, vocab)`, the decoder input (BOS + reversed[:-1]) and target (reversed)."""
    src = torch.randint(1, vocab, (B, S), generator=generator)
    tgt = src.flip(1)
    tgt_in = torch.cat([torch.zeros(B, 1, dtype=torch.long), tgt[:, :-1]], dim=1)
    return src, tgt_in, tgt


# Train with teacher forcing, then score greedy decoding on a fresh batch, token by token.
def train_reversal(
    attention: str = "additive", steps: int = 200, S: int = 6, vocab: int = 8, seed: int = 0
) -> tuple[Seq2Seq, float]:
    """Train `Seq2Seq` to reverse sequences; return the model and greedy per-token accuracy."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = Seq2Seq(vocab, attention=attention)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        src, tgt_in, tgt = reversal_batch(32, S, vocab, g)
        logits, _ = model(src, tgt_in)
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    # Greedy accuracy on 256 fresh sequences: each generated token is compared with the reversal.
    src, _, tgt = reversal_batch(256, S, vocab, g)
    acc = (model.greedy_decode(src, S) == tgt).float().mean().item()
    return model, acc
