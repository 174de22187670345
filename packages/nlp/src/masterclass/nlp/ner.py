r"""# Named entity recognition with a linear-chain CRF

Named entity recognition finds spans of text that name things (people, places, organisations) and
types them. It is cast as tagging: **BIO** marks the first token of an entity `B-TYPE`, the
following ones `I-TYPE`, the rest `O`; **BILOU** adds `L-` for the last token of a multi-token
entity and `U-` for a single-token (unit) entity, which makes boundaries explicit. Systems are scored
on **spans**, not tokens: a predicted entity counts only if its type, start and end all match, and
$$P = \frac{\text{correct}}{\text{predicted}}, \quad R = \frac{\text{correct}}{\text{gold}}, \quad
F_1 = \frac{2PR}{P + R}.$$

Tags are not independent (`I-PER` cannot follow `O` in BIO), so we model the whole sequence with a
**linear-chain conditional random field** (Lafferty, McCallum & Pereira, 2001):
$$P(y \mid x) = \frac{1}{Z(x)} \exp\Big(\sum_{t=1}^T e_t(y_t) + \sum_{t=2}^T A_{y_{t-1} y_t}
  + s_{y_1} + f_{y_T}\Big),$$
with emission scores $e_t(k)$ from any network over the input, a learned transition matrix $A$,
and start/end scores $s, f$. Three algorithms, all $O(T K^2)$:

* the **forward algorithm** computes $\log Z(x)$ by the recursion
  $\alpha_t(j) = e_t(j) + \log\sum_i \exp(\alpha_{t-1}(i) + A_{ij})$;
* training minimises the negative log-likelihood $\log Z(x) - \operatorname{score}(x, y)$; its
  **gradient comes from autograd** through the forward algorithm (the expected feature counts that
  one would derive by hand with forward–backward);
* **Viterbi** finds $\arg\max_y$, replacing the log-sum-exp by a max.

Sequences of different lengths are batched with a mask `(B, T)`; a padded step keeps the previous
$\alpha$ unchanged. The emission network here is deliberately simple, a sum of learned embeddings of
sparse features (word, suffix, shape, neighbours), i.e. a log-linear CRF; any encoder (a BiLSTM, a
transformer) can supply `emissions` instead.

Left out: semi-Markov CRFs, nested entities, constrained decoding.

## Exercises

1. Write `entity_spans(tags)`: the sorted `(type, start, end)` spans of a BIO sequence, reading a
   stray `I-` as the start of an entity. Check it: `uv run pytest --exercise nlp.ner`.
2. Write `log_partition(emissions, transitions, start, end)`: $\log Z$ of one sequence `(T, K)`
   by the forward algorithm. Check it: `uv run pytest --exercise nlp.ner`.
3. Write `viterbi(emissions, transitions, start, end)`: the best tag sequence. Why can a CRF
   learn that `I-PER` never follows `O`, where a per-token softmax cannot? Check it:
   `uv run pytest --exercise nlp.ner`.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence

import torch
from torch import nn

from masterclass.nlp.corpus import Sentence

__all__ = ["CRFTagger", "LinearChainCRF", "bilou_to_bio", "bio_to_bilou", "span_f1", "spans"]


# ## Tag schemes and spans
def spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """Entity spans `(type, start, end_exclusive)` of a BIO or BILOU tag sequence.

    An `I-`/`L-` tag that does not continue an entity of its type starts a new one (the lenient
    reading used by the CoNLL evaluation script).

    >>> sorted(spans(["B-PER", "I-PER", "O", "U-LOC", "I-ORG"]))
    [('LOC', 3, 4), ('ORG', 4, 5), ('PER', 0, 2)]
    """
    out, start, kind = set(), None, None
    # A final "O" closes an entity still open at the end. At each tag: close the open entity
    # unless the tag continues it, open one at B or U (or a stray I or L), and close it at U or L.
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, typ = tag.partition("-")
        continues = prefix in ("I", "L") and kind == typ and start is not None
        if not continues and start is not None:
            out.add((kind, start, i))
            start, kind = None, None
        if prefix in ("B", "U") or (prefix in ("I", "L") and not continues):
            start, kind = i, typ
        if prefix in ("U", "L") and start is not None:
            out.add((kind, start, i + 1))
            start, kind = None, None
    return out


# Converting between schemes goes through the spans. BILOU marks the last token of an entity (L)
# and single-token entities (U) as well as the beginnings.
def bio_to_bilou(tags: Sequence[str]) -> list[str]:
    """Convert BIO tags to BILOU.

    >>> bio_to_bilou(["B-PER", "I-PER", "I-PER", "O", "B-LOC"])
    ['B-PER', 'I-PER', 'L-PER', 'O', 'U-LOC']
    """
    out = ["O"] * len(tags)
    for typ, a, b in spans(tags):
        if b - a == 1:
            out[a] = f"U-{typ}"
        else:
            out[a], out[b - 1] = f"B-{typ}", f"L-{typ}"
            for i in range(a + 1, b - 1):
                out[i] = f"I-{typ}"
    return out


# BIO keeps only the beginnings: every token of an entity after the first is `I-`.
def bilou_to_bio(tags: Sequence[str]) -> list[str]:
    """Convert BILOU tags to BIO.

    >>> bilou_to_bio(["B-PER", "L-PER", "U-LOC"])
    ['B-PER', 'I-PER', 'B-LOC']
    """
    out = ["O"] * len(tags)
    for typ, a, b in spans(tags):
        out[a] = f"B-{typ}"
        for i in range(a + 1, b):
            out[i] = f"I-{typ}"
    return out


# Span F1 counts an entity as found only if its type, start and end all match: a partial overlap
# scores nothing.
def span_f1(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """Span-level precision, recall and F1 (exact type and boundaries) over many sentences.

    >>> span_f1([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
    {'precision': 0.0, 'recall': 0.0, 'f1': 0.0}
    """
    g = p = correct = 0
    for gs, ps in zip(gold, predicted, strict=True):
        a, b = spans(gs), spans(ps)
        g, p, correct = g + len(a), p + len(b), correct + len(a & b)
    precision = correct / p if p else 0.0
    recall = correct / g if g else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


# ## The CRF layer
class LinearChainCRF(nn.Module):
    """Transition, start and end scores of a linear-chain CRF over `K` tags.

    All methods take emissions `(B, T, K)` and a boolean mask `(B, T)` whose `True` entries are a
    prefix of each row (the first position of every sequence must be real).
    """

    def __init__(self, n_tags: int) -> None:
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(n_tags, n_tags))  # (K, K): from i to j
        self.start = nn.Parameter(torch.zeros(n_tags))  # (K,)
        self.end = nn.Parameter(torch.zeros(n_tags))  # (K,)

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        r"""$\log Z(x)$ by the forward algorithm, shape `(B,)`."""
        alpha = self.start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.shape[1]):
            # (B, K, 1) + (K, K) -> (B, K, K); logsumexp over the previous tag i
            nxt = (
                torch.logsumexp(alpha[:, :, None] + self.transitions, dim=1) + emissions[:, t]
            )  # (B, K)
            alpha = torch.where(mask[:, t, None], nxt, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)  # (B,)

    # The score of one tag path: its emissions and transitions at the real positions (the mask
    # zeroes the rest), plus the start score of its first tag and the end score of its last real
    # one. The loss is $\log Z$ minus this score.
    def score(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Unnormalised log-score of the tag sequences `tags` `(B, T)`, shape `(B,)`."""
        m = mask.to(emissions.dtype)  # (B, T)
        emit = emissions.gather(2, tags[:, :, None]).squeeze(2)  # (B, T)
        trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        lengths = mask.sum(1)  # (B,)
        last = tags.gather(1, (lengths - 1)[:, None]).squeeze(1)  # (B,)
        return (
            (emit * m).sum(1) + (trans * m[:, 1:]).sum(1) + self.start[tags[:, 0]] + self.end[last]
        )

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        r"""Mean negative log-likelihood $\log Z - \operatorname{score}$ over the batch."""
        return (self.log_partition(emissions, mask) - self.score(emissions, tags, mask)).mean()

    # Viterbi is the forward recursion with max in place of logsumexp; `back` keeps each argmax.
    @torch.no_grad()
    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The best tag sequence of each batch row (lists of their true lengths)."""
        b, t_len, _ = emissions.shape
        delta = self.start + emissions[:, 0]  # (B, K)
        back = []
        for t in range(1, t_len):
            cand = delta[:, :, None] + self.transitions  # (B, K, K)
            best, arg = cand.max(1)  # (B, K)
            back.append(arg)
            delta = torch.where(mask[:, t, None], best + emissions[:, t], delta)
        delta = delta + self.end
        # A padded step leaves `delta` unchanged, so each row's best last tag is the one at its
        # true end; trace back from there through that row's own back-pointers.
        lengths = mask.sum(1).tolist()
        out = []
        for row in range(b):
            tag = int(delta[row].argmax())
            path = [tag]
            for t in range(lengths[row] - 1, 0, -1):
                tag = int(back[t - 1][row, tag])
                path.append(tag)
            out.append(path[::-1])
        return out


# ## A feature-based CRF tagger
class CRFTagger(nn.Module):
    """Emissions from summed embeddings of hashed sparse features, decoded by a CRF."""

    def __init__(self, tags: Sequence[str], n_buckets: int = 1 << 14) -> None:
        super().__init__()
        self.tags = list(tags)
        self.tag_ids = {t: i for i, t in enumerate(self.tags)}
        self.n_buckets = n_buckets
        self.features = nn.EmbeddingBag(n_buckets, len(self.tags), mode="sum")  # weights (F, K)
        nn.init.zeros_(self.features.weight)
        self.crf = LinearChainCRF(len(self.tags))

    # The sparse features of one token: the word, its suffix and shape, whether it starts the
    # sentence, and its neighbours' words and capitalisation.
    def _feature_ids(self, tokens: Sequence[str], i: int) -> list[int]:
        w = tokens[i]
        lw = w.lower()
        shape = "".join(
            "X" if c.isupper() else "x" if c.isalpha() else "d" if c.isdigit() else c for c in w
        )[:4]
        feats = [
            f"w={lw}", f"suf3={lw[-3:]}", f"shape={shape}", f"first={i == 0}",
            f"w-1={tokens[i - 1].lower() if i else '<s>'}",
            f"w+1={tokens[i + 1].lower() if i + 1 < len(tokens) else '</s>'}",
            f"shape-1={tokens[i - 1][:1].isupper() if i else '<s>'}",
            f"shape+1={tokens[i + 1][:1].isupper() if i + 1 < len(tokens) else '</s>'}",
        ]  # fmt: skip
        # A stable hash (Python's `hash` of a str is salted per process): CRC-32 into the buckets.
        return [zlib.crc32(f.encode()) % self.n_buckets for f in feats]

    def emissions(self, batch: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Emission scores `(B, T, K)` and mask `(B, T)` for a batch of token lists."""
        t_len = max(len(s) for s in batch)
        # Padded positions repeat the last token's features; the mask hides them from the CRF.
        ids = [self._feature_ids(s, min(i, len(s) - 1)) for s in batch for i in range(t_len)]
        x = torch.tensor(ids)  # (B*T, n_features)
        e = self.features(x).view(len(batch), t_len, len(self.tags))  # (B, T, K)
        mask = torch.tensor([[i < len(s) for i in range(t_len)] for s in batch])  # (B, T)
        return e, mask

    # Training is plain minibatch maximum likelihood: shuffle the sentences, and take an Adam
    # step on each batch's mean negative log-likelihood.
    def fit(
        self,
        sentences: Sequence[Sentence],
        epochs: int = 5,
        lr: float = 0.05,
        batch_size: int = 32,
        seed: int = 0,
    ) -> list[float]:
        """Train with Adam on the CRF negative log-likelihood; returns the mean loss per epoch."""
        torch.manual_seed(seed)
        rng = random.Random(seed)
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        order, history = list(range(len(sentences))), []
        for _ in range(epochs):
            rng.shuffle(order)
            total = 0.0
            for k in range(0, len(order), batch_size):
                batch = [sentences[j] for j in order[k : k + batch_size]]
                e, mask = self.emissions([s.tokens for s in batch])
                # Gold tags padded with 0 to the batch length; the mask keeps the padding out of
                # both the path score and $\log Z$.
                t_len = e.shape[1]
                tags = torch.tensor(
                    [[self.tag_ids[t] for t in s.ner] + [0] * (t_len - len(s.ner)) for s in batch]
                )
                loss = self.crf.nll(e, tags, mask)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(batch)
            history.append(total / len(sentences))
        return history

    # Tagging computes the emissions without gradients and maps each Viterbi path to tag names.
    def tag(self, batch: Sequence[Sequence[str]]) -> list[list[str]]:
        """Viterbi tags for a batch of token lists."""
        with torch.no_grad():
            e, mask = self.emissions(batch)
        return [[self.tags[i] for i in path] for path in self.crf.viterbi(e, mask)]
