r"""# The Unigram language-model tokenizer

BPE and WordPiece build a vocabulary bottom-up by merging. The **Unigram** tokenizer (Kudo, 2018,
*Subword Regularization*; the default of SentencePiece) goes top-down: start from a large set of
candidate pieces, fit a probabilistic model, and prune. The model is as simple as it gets: a word's
segmentation $x = (x_1, \dots, x_m)$ has probability $P(x) = \prod_i p(x_i)$, with one probability
per piece and $\sum_v p(v) = 1$. A word has many segmentations $S(w)$; its likelihood is
$P(w) = \sum_{x \in S(w)} P(x)$.

* **Segmentation** of a word is the most probable $x^* = \arg\max_{x \in S(w)} P(x)$: Viterbi over
  the lattice whose nodes are the positions $0..n$ of the word and whose edges are the vocabulary
  pieces $w[s{:}e]$, in $O(n L)$ for pieces of length at most $L$.
* **Training** maximises $\sum_w c_w \log P(w)$ by EM, the piece segmentation being the hidden
  variable: the E-step runs forward–backward on each word's lattice,
  $\alpha_e = \log\sum_{s} \exp(\alpha_s + \log p(w[s{:}e]))$, and collects the expected count of
  every piece; the M-step sets $p(v) \propto$ its expected count.
* **Pruning**: the candidate set starts at several times the target size (all frequent substrings);
  after EM, each piece's *loss* is how much the likelihood would drop without it, estimated as
  $c(v)\,[\log p(v) - \log P(\text{best segmentation of } v \text{ without } v)]$; the top 75%
  survive, single characters always do, and EM runs again until the target size is reached.
* **Subword regularisation**: instead of the best segmentation, *sample* one with probability
  $\propto P(x)^{\alpha}$ by forward-filtering, backward-sampling; training a model on sampled
  segmentations makes it robust to segmentation noise.

Words are SentencePiece-style: text is split on whitespace and each word gets the prefix `▁`
(U+2581), so spaces are recoverable. The tests compare with `sentencepiece`'s own unigram trainer on
the same corpus (segmentation agreement and likelihood) and check that our Viterbi, given
sentencepiece's pieces and scores, segments exactly as sentencepiece does.

Left out: the Bayesian (digamma) M-step of SentencePiece, normalisation rules, byte fallback.

## Exercises

1. Write `viterbi(log_probs, word)`: the most probable segmentation of `word` under a unigram
   model given as `{piece: log p}`. Check it: `uv run pytest --exercise nlp.unigram`.
2. Write `log_likelihood(log_probs, word)`: $\log P(w)$ summed over all segmentations, by the
   forward algorithm. Why does EM need this sum rather than the Viterbi score? Check it:
   `uv run pytest --exercise nlp.unigram`.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable

__all__ = ["UnigramTokenizer"]

SPACE = "\u2581"
_NEG_INF = -math.inf


# $\log(e^a + e^b)$ without overflow, exact when either side is $-\infty$ (a lattice position
# not reached yet).
def _logaddexp(a: float, b: float) -> float:
    if a == _NEG_INF:
        return b
    if b == _NEG_INF:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


# SentencePiece's convention: each word carries its leading space as `▁`, so decoding is a join.
def _words(text: str) -> list[str]:
    return [SPACE + w for w in text.split()]


# The model is a table of piece log-probabilities; the ids follow decreasing probability.
class UnigramTokenizer:
    r"""A unigram LM over pieces: `log_probs[piece]` = $\log p(\text{piece})$.

    >>> tok = UnigramTokenizer({"▁": -3.0, "h": -3.0, "e": -3.0, "y": -3.0, "▁he": -1.0, "y!": -9.0})
    >>> tok.segment("▁hey")
    ['▁he', 'y']
    """

    def __init__(
        self,
        log_probs: dict[str, float],
        max_piece_len: int | None = None,
        unk_penalty: float = 10.0,
    ) -> None:
        if not log_probs:
            raise ValueError("log_probs must contain at least one piece")
        self.log_probs = dict(log_probs)
        self.max_piece_len = max_piece_len or max(map(len, self.log_probs))
        # An unknown character costs more than any known piece, so it is used only when needed.
        self.unk_log_prob = min(self.log_probs.values()) - unk_penalty
        self.pieces = sorted(self.log_probs, key=lambda p: (-self.log_probs[p], p))
        self.piece_ids = {p: i for i, p in enumerate(self.pieces)}

    # ## The lattice
    #
    # `edges[e]` lists the pieces ending at position `e` as (start, log p). A character that no piece
    # covers becomes a one-character edge with the unknown penalty, so every word has a segmentation.
    def _edges(self, word: str) -> list[list[tuple[int, float]]]:
        n, lp, lmax = len(word), self.log_probs, self.max_piece_len
        edges: list[list[tuple[int, float]]] = [[] for _ in range(n + 1)]
        for e in range(1, n + 1):
            for s in range(max(0, e - lmax), e):
                v = lp.get(word[s:e])
                if v is not None:
                    edges[e].append((s, v))
            if not any(s == e - 1 for s, _ in edges[e]):
                edges[e].append((e - 1, self.unk_log_prob))
        return edges

    def segment(self, word: str) -> list[str]:
        """The Viterbi (most probable) segmentation of one word."""
        return self._viterbi(word)[0]

    def _viterbi(self, word: str, without_whole: bool = False) -> tuple[list[str], float]:
        # `without_whole` forbids the single edge covering the whole word (used by pruning).
        n = len(word)
        edges = self._edges(word)
        best = [0.0] + [_NEG_INF] * n
        back = [0] * (n + 1)
        for e in range(1, n + 1):
            for s, v in edges[e]:
                if without_whole and s == 0 and e == n:
                    continue
                if best[s] + v > best[e]:
                    best[e], back[e] = best[s] + v, s
        # Read the best path back from the end through the back-pointers.
        pieces, e = [], n
        while e > 0:
            pieces.append(word[back[e] : e])
            e = back[e]
        return pieces[::-1], best[n]

    # The forward algorithm puts a log-sum where Viterbi has a max: `alpha[e]` is the log of the
    # total probability of all segmentations of the first `e` characters. `scale` raises each
    # piece's probability to a power, for sampling.
    def _forward(self, word: str, edges, scale: float = 1.0) -> list[float]:
        alpha = [0.0] + [_NEG_INF] * len(word)
        for e in range(1, len(word) + 1):
            for s, v in edges[e]:
                alpha[e] = _logaddexp(alpha[e], alpha[s] + scale * v)
        return alpha

    def word_log_likelihood(self, word: str) -> float:
        r"""$\log P(w) = \log \sum_{x \in S(w)} P(x)$, by the forward algorithm."""
        return self._forward(word, self._edges(word))[-1]

    # Encoding segments each `▁`-prefixed word on its own; decoding joins the pieces and turns `▁`
    # back into spaces.
    def encode(self, text: str) -> list[str]:
        """Viterbi pieces of `text` (whitespace-split, `▁`-prefixed words)."""
        return [p for w in _words(text) for p in self.segment(w)]

    def decode(self, pieces: Iterable[str]) -> str:
        """Join pieces and turn `▁` back into spaces."""
        return "".join(pieces).replace(SPACE, " ").strip()

    # ## Sampling segmentations
    #
    # Forward filtering with scores scaled by $\alpha$, then walk back from the end choosing each
    # incoming edge with probability $\propto \exp(\alpha_s + \alpha \log p)$.
    def sample(self, text: str, alpha: float = 0.1, seed: int = 0) -> list[str]:
        r"""A segmentation drawn with probability $\propto P(x)^{\alpha}$ (subword regularisation)."""
        rng = random.Random(seed)
        out = []
        for word in _words(text):
            edges = self._edges(word)
            fwd = self._forward(word, edges, alpha)
            pieces, e = [], len(word)
            while e > 0:
                weights = [math.exp(fwd[s] + alpha * v - fwd[e]) for s, v in edges[e]]
                s = rng.choices([s for s, _ in edges[e]], weights=weights)[0]
                pieces.append(word[s:e])
                e = s
            out += pieces[::-1]
        return out

    # ## Training
    def _expected_counts(self, word_counts: dict[str, int]) -> tuple[Counter[str], float]:
        # E-step: forward-backward on every word's lattice.
        counts: Counter[str] = Counter()
        total = 0.0
        for word, c in word_counts.items():
            n = len(word)
            edges = self._edges(word)
            alpha = self._forward(word, edges)
            # The backward pass mirrors the forward one: `beta[s]` sums, in log space, over every
            # way to finish the word from position `s`.
            beta = [_NEG_INF] * n + [0.0]
            for e in range(n, 0, -1):
                for s, v in edges[e]:
                    beta[s] = _logaddexp(beta[s], beta[e] + v)
            # A piece's expected count is the posterior of its edge, $\alpha_s p \beta_e / Z$, times
            # the word's count; edges of unknown characters count for nothing.
            z = alpha[n]
            total += c * z
            for e in range(1, n + 1):
                for s, v in edges[e]:
                    piece = word[s:e]
                    if piece in self.log_probs:
                        counts[piece] += c * math.exp(alpha[s] + v + beta[e] - z)
        return counts, total

    # Training starts from a large seed vocabulary and alternates EM with pruning, dropping each
    # time the pieces whose loss would cost the likelihood least.
    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        *,
        max_piece_len: int = 12,
        seed_factor: int = 8,
        shrink: float = 0.75,
        em_iters: int = 2,
    ) -> UnigramTokenizer:
        """EM and pruning from all frequent substrings down to `vocab_size` pieces."""
        word_counts = Counter(w for t in texts for w in _words(t))
        if not word_counts:
            raise ValueError("cannot train on an empty corpus: texts contained no words")
        chars = {ch for w in word_counts for ch in w}
        if vocab_size < len(chars):
            raise ValueError(
                f"vocab_size must be at least the {len(chars)} distinct characters, got {vocab_size}"
            )
        # Seed: every character plus the most frequent substrings, weighted by frequency x length.
        subs: Counter[str] = Counter()
        for w, c in word_counts.items():
            for s in range(len(w)):
                for e in range(s + 2, min(len(w), s + max_piece_len) + 1):
                    subs[w[s:e]] += c
        seed = sorted((p for p, c in subs.items() if c > 1), key=lambda p: (-subs[p] * len(p), p))
        seed = seed[: seed_factor * vocab_size]
        freq = {p: subs[p] for p in seed}
        freq.update({ch: sum(c * w.count(ch) for w, c in word_counts.items()) for ch in chars})
        total = sum(freq.values())
        model = cls({p: math.log(f / total) for p, f in freq.items()}, max_piece_len)
        # Alternate a few EM iterations (pieces whose expected count falls to zero drop out,
        # characters never do) with pruning by `shrink`, until the vocabulary is small enough.
        while True:
            for _ in range(em_iters):
                counts, _ = model._expected_counts(word_counts)
                kept = {p: c for p, c in counts.items() if c > 0 or p in chars}
                z = sum(kept.values())
                model = cls(
                    {p: math.log(max(c, 1e-12) / z) for p, c in kept.items()}, max_piece_len
                )
            if len(model.log_probs) <= vocab_size:
                return model
            model = model._prune(counts, chars, max(vocab_size, int(len(model.log_probs) * shrink)))

    def _prune(self, counts: Counter[str], chars: set[str], keep: int) -> UnigramTokenizer:
        # Loss of removing v: its count times the log-probability lost by segmenting v otherwise.
        loss = {}
        for p in self.log_probs:
            if p in chars:
                continue
            _, alt = self._viterbi(p, without_whole=True)
            loss[p] = counts.get(p, 0.0) * (self.log_probs[p] - alt)
        ranked = sorted(loss, key=lambda p: (-loss[p], p))[: keep - len(chars)]
        return UnigramTokenizer(
            {p: self.log_probs[p] for p in [*chars, *ranked]}, self.max_piece_len
        )
