r"""# N-gram language models

An $n$-gram model approximates the probability of a sequence by conditioning each symbol on the
$n-1$ symbols before it:
$$P(x_1 \dots x_T) \approx \prod_t P(x_t \mid x_{t-n+1} \dots x_{t-1}).$$
The maximum-likelihood estimate $c(hw)/c(h)$ gives probability zero to every $n$-gram not seen in
training, and a single zero makes the perplexity infinite, so every practical model **smooths**:

* **Add-$k$** (Laplace for $k=1$): $P(w \mid h) = \dfrac{c(hw) + k}{c(h) + kV}$. Simple, and poor:
  with a large vocabulary most of the mass goes to unseen events.
* **Interpolated Kneser–Ney** (Kneser & Ney, 1995; Chen & Goodman, 1998), the strongest classic
  method. Subtract a discount $D$ from every seen count and give the freed mass to a lower-order
  model, interpolating at every order:
  $$P_{KN}(w \mid h) = \frac{\max(c(hw) - D,\, 0)}{c(h)} + \frac{D\, N_{1+}(h\,\bullet)}{c(h)}\,
    P_{KN}(w \mid h'),$$
  where $h'$ drops the oldest symbol of $h$ and $N_{1+}(h\,\bullet)$ is the number of distinct
  symbols seen after $h$, so that each row sums to one. The key idea is in the lower orders: they are
  used only when the higher order has little evidence, so they should measure how many *contexts* a
  symbol completes, not how often it occurs. Lower orders therefore replace $c(hw)$ by the
  **continuation count** $N_{1+}(\bullet\, hw)$, the number of distinct symbols seen before $hw$
  (the classic example: "Francisco" is frequent but follows only "San"). The recursion ends in a
  uniform distribution $1/V$, so unseen symbols keep a little mass. The discount of each order is
  the estimate $D = n_1 / (n_1 + 2 n_2)$ of Ney et al. (1994), from the numbers $n_1, n_2$ of
  $n$-grams seen once and twice.

On a megabyte of Python source, add-one smoothing gets *worse* beyond order 3 (its mass for
unseen events grows with the number of histories), while Kneser–Ney keeps improving:

![Held-out bits per byte against order for add-one and Kneser–Ney](figures/ngram.png)

Sequences are padded at the start with $n-1$ copies of a beginning-of-sequence symbol (id $V$), so
the first symbols have a (short) history; no end symbol is predicted, which makes
`log_prob` the plain sum $\sum_t \ln P(x_t \mid \text{history})$ that bits-per-byte needs.

**Speed.** Counting $n$-grams with Python dictionaries costs a microsecond per $n$-gram. Here every
$m$-gram is packed into one int64, $\sum_k s_k A^{k}$ with $A = V + 1$, and counted with
`np.unique`, and probabilities are computed for all positions at once with `np.searchsorted`
lookups: a 5 MB byte corpus at order 5 takes seconds. The packing needs $A^n < 2^{63}$ (bytes:
$n \le 7$; $V = 8192$: $n \le 4$).

Left out: modified Kneser–Ney's three discounts per order, pruning, and back-off (Katz) models.

## Exercises

1. Write `add_k_next(sequences, history, order, k, vocab_size)`: the add-$k$ distribution
   $P(\cdot \mid h)$ `(V,)` from plain counts, histories padded with the beginning symbol $V$.
   Check it: `uv run pytest --exercise nlp.ngram`.
2. Write `ney_discount(counts)`: $D = n_1 / (n_1 + 2 n_2)$ from the counts of the distinct
   $n$-grams. Check it: `uv run pytest --exercise nlp.ngram`.
3. Write `kn_bigram(sequences, h, vocab_size)`: the interpolated Kneser–Ney bigram distribution
   after symbol `h`, with continuation counts at the unigram level. Show that it sums to one for
   every history, seen or not. Check it: `uv run pytest --exercise nlp.ngram`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["AddKLM", "KneserNeyLM"]


# Every sequence becomes a 1-D int64 array of symbols in range; bytes are read as their values.
def _as_array(seq: Sequence[int] | bytes | np.ndarray, vocab_size: int) -> np.ndarray:
    x = (
        np.frombuffer(seq, dtype=np.uint8).astype(np.int64)
        if isinstance(seq, bytes | bytearray)
        else np.asarray(seq, dtype=np.int64)
    )
    if x.ndim != 1:
        raise ValueError(f"a sequence must be one-dimensional, got shape {x.shape}")
    if x.size and (x.min() < 0 or x.max() >= vocab_size):
        raise ValueError(
            f"symbols must be in 0..{vocab_size - 1}, got min {x.min()}, max {x.max()}"
        )
    return x


def _lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    # values[keys == q] for each query, 0 where the key is absent (keys sorted, unique).
    idx = np.searchsorted(keys, queries)
    idx_c = np.minimum(idx, len(keys) - 1)
    found = (
        (idx < len(keys)) & (keys[idx_c] == queries) if len(keys) else np.zeros(queries.shape, bool)
    )
    return np.where(found, values[idx_c] if len(keys) else 0, 0)


class _NGramModel(ABC):
    # Shared machinery: padding, packed keys, the count tables of every order, evaluation.
    def __init__(self, order: int, vocab_size: int = 256) -> None:
        if not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be a positive int, got {order!r}")
        if not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive int, got {vocab_size!r}")
        self.order = order
        self.vocab_size = vocab_size
        self.base = vocab_size + 1  # A: the symbols plus the padding symbol
        if self.base**order >= 2**63:
            raise ValueError(
                f"order {order} with vocab_size {vocab_size} does not fit packed int64 keys "
                f"({self.base}^{order} >= 2^63); lower the order"
            )
        self.fitted = False

    def _windows(self, x: np.ndarray) -> list[np.ndarray]:
        # ctx[m] holds, for every position, the packed key of its last m-1 history symbols
        # (m = 1..n; ctx[1] is all zeros: the empty history).
        n, a = self.order, self.base
        padded = np.concatenate([np.full(n - 1, self.vocab_size, np.int64), x])  # (n-1+T,)
        t = x.size
        ctx = [np.zeros(t, np.int64), np.zeros(t, np.int64)]
        for m in range(2, n + 1):
            ctx.append(ctx[m - 1] + padded[n - m : n - m + t] * a ** (m - 2))
        return ctx

    def fit(self, sequences: Iterable[Sequence[int] | bytes]) -> _NGramModel:
        """Count the n-grams of every order in `sequences` (an iterable of int sequences or bytes)."""
        # A bare sequence would be iterated symbol by symbol; it is refused with a clear message.
        if (
            isinstance(sequences, bytes | bytearray)
            or (isinstance(sequences, np.ndarray) and sequences.ndim == 1)
            or (
                isinstance(sequences, Sequence)
                and sequences
                and isinstance(sequences[0], int | np.integer)
            )
        ):
            raise TypeError("fit takes an iterable of sequences; wrap a single sequence in a list")
        # Pack the m-gram ending at each position into one integer (history key times the base,
        # plus the symbol), for every order m, then count each order with one `np.unique`.
        a = self.base
        keys: list[list[np.ndarray]] = [[] for _ in range(self.order + 1)]
        total = 0
        for seq in sequences:
            x = _as_array(seq, self.vocab_size)
            total += x.size
            ctx = self._windows(x)
            for m in range(1, self.order + 1):
                keys[m].append(ctx[m] * a + x)
        if total == 0:
            raise ValueError("cannot fit on an empty corpus: sequences yielded no symbols")
        # raw[m] = (sorted unique packed m-grams, their counts)
        self.raw = [None] + [
            np.unique(np.concatenate(keys[m]), return_counts=True) for m in range(1, self.order + 1)
        ]
        self.n_symbols = total
        self._build()
        self.fitted = True
        return self

    # A smoothing method supplies two things: tables derived from the raw counts, and the
    # conditional probability of each symbol given its history.
    @abstractmethod
    def _build(self) -> None:
        """Derive the smoothing tables from `self.raw`."""

    @abstractmethod
    def _cond_probs(self, ctx: list[np.ndarray], w: np.ndarray) -> np.ndarray:
        r"""$P(w_i \mid h_i)$ for each position $i$, given the packed histories `ctx[m]`."""

    # Scoring gives each symbol's probability given its packed history, all positions at once.
    def log_probs(self, sequence: Sequence[int] | bytes) -> np.ndarray:
        """Natural-log probability of each symbol given its history, shape `(T,)`, float64."""
        if not self.fitted:
            raise ValueError("call fit() before scoring")
        x = _as_array(sequence, self.vocab_size)
        return np.log(self._cond_probs(self._windows(x), x))

    def log_prob(self, sequence: Sequence[int] | bytes) -> float:
        r"""Total natural-log probability $\sum_t \ln P(x_t \mid \text{history})$."""
        return float(self.log_probs(sequence).sum())

    # Perplexity and bits per symbol are two readings of the same mean log-loss.
    def perplexity(self, sequence: Sequence[int] | bytes) -> float:
        r"""$\exp(-\frac1T \sum_t \ln P(x_t \mid \text{history}))$."""
        lp = self.log_probs(sequence)
        if lp.size == 0:
            raise ValueError("perplexity of an empty sequence is undefined")
        return float(np.exp(-lp.mean()))

    def bits_per_symbol(self, sequence: Sequence[int] | bytes) -> float:
        """Cross-entropy in bits per symbol (bits per byte on byte sequences)."""
        lp = self.log_probs(sequence)
        if lp.size == 0:
            raise ValueError("bits per symbol of an empty sequence is undefined")
        return float(-lp.mean() / math.log(2))

    # The next-symbol distribution scores every symbol after one history: the last `order - 1`
    # symbols and a dummy slot give the windows, and the last window is repeated V times.
    def next_distribution(self, history: Sequence[int]) -> np.ndarray:
        r"""$P(\cdot \mid \text{history})$ over the vocabulary, shape `(V,)`, sums to one."""
        if not self.fitted:
            raise ValueError("call fit() before scoring")
        h = _as_array(list(history)[-(self.order - 1) :] if self.order > 1 else [], self.vocab_size)
        ctx = self._windows(np.concatenate([h, [0]]).astype(np.int64))
        v = self.vocab_size
        return self._cond_probs([c[-1:].repeat(v) for c in ctx], np.arange(v, dtype=np.int64))

    # Sampling draws one symbol at a time from the conditional distribution, with a seeded
    # generator; `temperature` flattens ($>1$) or sharpens ($<1$) it.
    def sample(
        self, length: int, seed: int = 0, history: Sequence[int] = (), temperature: float = 1.0
    ) -> list[int]:
        """Draw `length` symbols, continuing `history`."""
        rng = np.random.default_rng(seed)
        out = list(history)
        for _ in range(length):
            p = self.next_distribution(out)
            if temperature != 1.0:
                p = p ** (1.0 / temperature)
                p /= p.sum()
            out.append(int(rng.choice(self.vocab_size, p=p)))
        return out[len(history) :]


# Add-k smoothing pretends every n-gram was seen `k` more times than it was: the simplest way to
# give unseen ones some probability.
class AddKLM(_NGramModel):
    r"""An n-gram model with add-k smoothing: $P(w \mid h) = (c(hw) + k) / (c(h) + kV)$.

    >>> lm = AddKLM(2, k=1.0, vocab_size=3).fit([[0, 1, 0, 1]])
    >>> round(float(lm.next_distribution([0])[1]), 4)  # (2 + 1) / (2 + 3)
    0.6
    """

    def __init__(self, order: int, k: float = 1.0, vocab_size: int = 256) -> None:
        super().__init__(order, vocab_size)
        if not k > 0:
            raise ValueError(f"k must be positive, got {k}")
        self.k = k

    # Only the top order is needed: $c(h)$ is the sum of $c(hw)$ over $w$, grouped by the packed
    # history `key // base`.
    def _build(self) -> None:
        keys, counts = self.raw[self.order]
        ctx, inv = np.unique(keys // self.base, return_inverse=True)
        self.ctx_keys, self.ctx_counts = ctx, np.bincount(inv, weights=counts)

    # The estimate itself, looked up for every position at once.
    def _cond_probs(self, ctx: list[np.ndarray], w: np.ndarray) -> np.ndarray:
        keys, counts = self.raw[self.order]
        h = ctx[self.order]
        c_hw = _lookup(keys, counts, h * self.base + w)
        c_h = _lookup(self.ctx_keys, self.ctx_counts, h)
        return (c_hw + self.k) / (c_h + self.k * self.vocab_size)


class KneserNeyLM(_NGramModel):
    """Interpolated Kneser–Ney over integer sequences (bytes by default: `vocab_size=256`).

    >>> lm = KneserNeyLM(3).fit([b"abracadabra" * 20])
    >>> p = lm.next_distribution(list(b"ab"))
    >>> round(float(p.sum()), 12), chr(int(p.argmax()))
    (1.0, 'r')
    >>> lm.bits_per_symbol(b"abracadabra") < 1.5
    True
    """

    # For each order $m$: the table of (packed $m$-gram, count) — raw counts at the top order,
    # continuation counts $N_{1+}(\bullet\, g)$ below, read off the distinct $(m+1)$-grams as their
    # suffixes — then, per history $h$, the denominator $\sum_w c(hw)$ and $N_{1+}(h\,\bullet)$, and
    # the discount $D_m$.
    def _build(self) -> None:
        a, n = self.base, self.order
        self.tables = [None] * (n + 1)
        for m in range(n, 0, -1):
            if m == n:
                keys, counts = self.raw[m]
            else:
                keys, counts = np.unique(self.tables[m + 1][0] % a**m, return_counts=True)
            ctx, inv = np.unique(keys // a, return_inverse=True)
            denom = np.bincount(inv, weights=counts)
            distinct = np.bincount(inv).astype(np.float64)
            # The discount $D = n_1 / (n_1 + 2 n_2)$ from the counts of counts (0.5 when either
            # is zero).
            n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
            d = n1 / (n1 + 2 * n2) if n1 > 0 and n2 > 0 else 0.5
            self.tables[m] = (keys, counts.astype(np.float64), ctx, denom, distinct, d)

    @property
    def discounts(self) -> list[float]:
        """The discount $D_m$ of each order $m = 1..n$."""
        return [self.tables[m][5] for m in range(1, self.order + 1)]

    # The recursion, vectorised over positions: start from the uniform distribution and
    # interpolate order by order up to $n$. Where a history was never seen ($c(h) = 0$), the
    # lower-order estimate passes through unchanged.
    def _cond_probs(self, ctx: list[np.ndarray], w: np.ndarray) -> np.ndarray:
        p = np.full(w.shape, 1.0 / self.vocab_size)
        for m in range(1, self.order + 1):
            keys, counts, ctx_keys, denom, distinct, d = self.tables[m]
            h = ctx[m]
            c_hw = _lookup(keys, counts, h * self.base + w)
            c_h = _lookup(ctx_keys, denom, h)
            n1p = _lookup(ctx_keys, distinct, h)
            seen = c_h > 0
            safe = np.where(seen, c_h, 1.0)
            p = np.where(seen, (np.maximum(c_hw - d, 0.0) + d * n1p * p) / safe, p)
        return p
