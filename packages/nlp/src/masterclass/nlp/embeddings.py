r"""# Word embeddings: word2vec and GloVe

"You shall know a word by the company it keeps" (Firth, 1957). Dense word vectors are learned so
that words used in similar contexts get similar vectors; their dot products then encode
similarity, and (famously) vector offsets encode relations:
$\vec{\text{paris}} - \vec{\text{france}} + \vec{\text{italy}} \approx \vec{\text{rome}}$.

**word2vec** (Mikolov et al., 2013) has two architectures, each with an input table $V$ (the word
vectors) and an output table $U$:

* **Skip-gram** predicts each context word $o$ within a window of the centre word $c$. The full
  softmax over the vocabulary is replaced by **negative sampling**: the true pair should score high
  and $k$ random "noise" words $n_1..n_k$, drawn from the unigram distribution raised to $3/4$,
  should score low,
  $$\ell(c, o) = -\log\sigma(u_o^\top v_c) - \sum_{i=1}^k \log\sigma(-u_{n_i}^\top v_c).$$
* **CBOW** predicts the centre word from the *average* of its context vectors,
  $\bar v = \frac{1}{|C|}\sum_{j \in C} v_j$, with the same loss on $u_c^\top \bar v$.

**GloVe** (Pennington, Socher & Manning, 2014) fits the co-occurrence counts $X_{ij}$ directly (here
weighted by $1/\text{distance}$ within the window, as in the paper) by weighted least squares on their
logarithm,
$$J = \sum_{X_{ij} > 0} f(X_{ij})\,\big(w_i^\top \tilde w_j + b_i + \tilde b_j - \log X_{ij}\big)^2,
  \qquad f(x) = \min\big(1, (x / x_{\max})^{3/4}\big),$$
with AdaGrad as in the paper; the final vectors are $w + \tilde w$.

**Evaluation.** No standard benchmark (WordSim, Google analogies) is available offline, so the
project generates a corpus with known structure (`relational_corpus`): capitals, countries and
languages in templated sentences, where each capital shares contexts with all capitals ("the city of
...") and with its own country (its language). We check that nearest neighbours of a capital are
capitals or its country, and that the analogy $\text{capital}_i - \text{country}_i +
\text{country}_j \approx \text{capital}_j$ holds by cosine nearest neighbour, excluding the three
query words (the usual protocol). On this corpus skip-gram and CBOW solve most analogies, while
GloVe gets the categories (neighbours) right but few analogies: the pair-specific signal lives in
which language a capital does *not* co-occur with, and GloVe's loss skips $X_{ij} = 0$ entirely,
whereas negative sampling explicitly pushes such pairs apart. On large corpora the difference
fades; on a tiny one it is a useful reminder of what each objective sees.

Left out: hierarchical softmax, frequent-word subsampling, fastText subword vectors.

## Exercises

1. Write `sgns_loss(v_c, u_o, u_neg)`: skip-gram's negative-sampling loss. Derive its gradient
   with respect to $v_c$; the checker compares autograd's with that closed form. Check it:
   `uv run pytest --exercise nlp.embeddings`.
2. Write `cooccurrence(ids, vocab_size, window)`: GloVe's symmetric counts, each pair at distance
   $d$ adding $1/d$. Check it: `uv run pytest --exercise nlp.embeddings`.
3. Write `glove_weight(x, x_max, alpha)`: the weighting $f(x)$ of GloVe's loss. What would go
   wrong with $f \equiv 1$? Check it: `uv run pytest --exercise nlp.embeddings`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CBOW",
    "GloVe",
    "SkipGram",
    "Vocabulary",
    "analogy",
    "cooccurrence",
    "nearest",
    "relational_corpus",
    "sgns_loss",
    "train_word2vec",
]

# Ten (capital, country, language) triples: the relations the analogy test looks for.
_PAIRS = [
    ("paris", "france", "french"), ("rome", "italy", "italian"), ("berlin", "germany", "german"),
    ("madrid", "spain", "spanish"), ("lisbon", "portugal", "portuguese"), ("athens", "greece", "greek"),
    ("warsaw", "poland", "polish"), ("tokyo", "japan", "japanese"), ("beijing", "china", "chinese"),
    ("moscow", "russia", "russian"),
]  # fmt: skip


# Three families of templates: sentences about a city, about a country, and about the language
# that links them. Only the last kind puts a capital and its language in one window.
def relational_corpus(
    n_sentences: int, seed: int = 0
) -> tuple[list[list[str]], list[tuple[str, str, str]]]:
    """Templated sentences about capitals, countries and languages, and the (capital, country,
    language) triples they are built from."""
    rng = random.Random(seed)
    city = [
        "the city of {c} is big",
        "we flew to the city of {c}",
        "{c} is a busy city",
        "the streets of {c} are old",
    ]
    country = [
        "the country {k} is large",
        "{k} is a country with a long history",
        "we visited the country {k}",
    ]
    both = [
        "in {c} people speak {l}",
        "in {k} people speak {l}",
        "{l} is spoken in {k}",
        "{l} is spoken in {c}",
    ]
    # Each sentence draws a triple and a template, so a word keeps meeting its relatives.
    sentences = []
    for _ in range(n_sentences):
        c, k, lang = rng.choice(_PAIRS)
        template = rng.choice([*city, *country, *both])
        sentences.append(template.format(c=c, k=k, l=lang).split())
    return sentences, list(_PAIRS)


# The vocabulary orders words by frequency, so id 0 is the most common word; `counts` later gives
# the noise distribution.
class Vocabulary:
    """Word ↔ id maps and counts, in decreasing frequency (ties alphabetical).

    >>> vocab = Vocabulary([['the', 'cat'], ['the', 'dog']])
    >>> vocab.words, vocab.encode([['the', 'dog']])
    (['the', 'cat', 'dog'], [[0, 2]])
    """

    def __init__(self, sentences: Sequence[Sequence[str]], min_count: int = 1) -> None:
        counts = Counter(w for s in sentences for w in s)
        self.words = sorted(
            (w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w)
        )
        if not self.words:
            raise ValueError("the corpus has no word with count >= min_count")
        self.ids = {w: i for i, w in enumerate(self.words)}
        self.counts = np.array([counts[w] for w in self.words], dtype=np.float64)

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[list[int]]:
        """Sentences as id lists, dropping out-of-vocabulary words."""
        return [[self.ids[w] for w in s if w in self.ids] for s in sentences]


# ## Skip-gram and CBOW with negative sampling
def sgns_loss(v_c: torch.Tensor, u_o: torch.Tensor, u_neg: torch.Tensor) -> torch.Tensor:
    """Mean negative-sampling loss: `v_c`, `u_o` `(B, C)`, negatives `u_neg` `(B, k, C)`."""
    pos = F.logsigmoid((u_o * v_c).sum(-1))  # (B,)
    neg = F.logsigmoid(-(u_neg @ v_c[:, :, None]).squeeze(-1)).sum(-1)  # (B,)
    return -(pos + neg).mean()


# Skip-gram: the centre word's input vector predicts each context word's output vector. `U`
# starts at zero, as in word2vec, so the first gradients move only `U`.
class SkipGram(nn.Module):
    """Input vectors `V` and output vectors `U`, each `(vocab, C)`."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.inp = nn.Embedding(vocab_size, dim)
        self.out = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.inp.weight, -0.5 / dim, 0.5 / dim)  # word2vec's initialisation
        nn.init.zeros_(self.out.weight)

    def loss(
        self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """Loss of `(B,)` centre ids predicting `(B,)` context ids against `(B, k)` noise ids."""
        return sgns_loss(self.inp(centre), self.out(context), self.out(negatives))

    @property
    def vectors(self) -> torch.Tensor:
        """The word vectors `(vocab, C)`."""
        return self.inp.weight.detach()


# CBOW averages the input vectors of the context, masking the padded positions, and predicts the
# centre word from that mean.
class CBOW(SkipGram):
    """Continuous bag of words: the mean of the context vectors predicts the centre word."""

    def loss(
        self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """`context` is `(B, 2w)` with -1 for missing positions; `centre` `(B,)` is the target."""
        mask = (context >= 0).to(self.inp.weight.dtype)  # (B, 2w)
        ctx = self.inp(context.clamp(min=0)) * mask[..., None]  # (B, 2w, C)
        mean = ctx.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)  # (B, C)
        return sgns_loss(mean, self.out(centre), self.out(negatives))


def _windows(ids: list[list[int]], window: int) -> tuple[np.ndarray, np.ndarray]:
    # (centre, context-window) rows; missing positions are -1.
    centres, contexts = [], []
    for s in ids:
        for i, c in enumerate(s):
            ctx = [
                s[j] if 0 <= j < len(s) else -1 for j in range(i - window, i + window + 1) if j != i
            ]
            centres.append(c)
            contexts.append(ctx)
    return np.array(centres), np.array(contexts)


# Training is the same for both architectures: only the rows and the model's loss differ.
def train_word2vec(
    sentences: Sequence[Sequence[str]],
    dim: int = 32,
    window: int = 3,
    negatives: int = 5,
    epochs: int = 5,
    lr: float = 0.01,
    batch_size: int = 512,
    architecture: str = "skipgram",
    seed: int = 0,
) -> tuple[Vocabulary, SkipGram]:
    """Train skip-gram or CBOW with negative sampling (Adam); returns the vocabulary and model."""
    if architecture not in ("skipgram", "cbow"):
        raise ValueError(f"architecture must be 'skipgram' or 'cbow', got {architecture!r}")
    # Skip-gram trains on one row per (centre, context word) pair, CBOW on one row per centre
    # with its whole window.
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vocab = Vocabulary(sentences)
    centres, contexts = _windows(vocab.encode(sentences), window)
    if architecture == "skipgram":  # one (centre, context) row per real context position
        rows, cols = np.nonzero(contexts >= 0)
        centres, contexts = centres[rows], contexts[rows, cols]
    # Negatives are drawn from the unigram distribution raised to the power 3/4 (word2vec's
    # choice, which gives rare words more weight); Adam then works through shuffled batches.
    noise = vocab.counts**0.75
    noise /= noise.sum()
    model = (SkipGram if architecture == "skipgram" else CBOW)(len(vocab.words), dim)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        order = rng.permutation(len(centres))
        for k in range(0, len(order), batch_size):
            b = order[k : k + batch_size]
            neg = torch.from_numpy(rng.choice(len(noise), size=(len(b), negatives), p=noise))
            loss = model.loss(torch.from_numpy(centres[b]), torch.from_numpy(contexts[b]), neg)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return vocab, model


# ## GloVe
def cooccurrence(ids: list[list[int]], vocab_size: int, window: int) -> np.ndarray:
    """Symmetric co-occurrence counts weighted by 1/distance, `(vocab, vocab)` (dense: small vocabularies)."""
    x = np.zeros((vocab_size, vocab_size))
    for s in ids:
        for i, w in enumerate(s):
            for d in range(1, window + 1):
                if i + d < len(s):
                    x[w, s[i + d]] += 1.0 / d
                    x[s[i + d], w] += 1.0 / d
    return x


# GloVe fits $w_i \cdot \tilde w_j + b_i + \tilde b_j \approx \log X_{ij}$, weighted by $f(X_{ij})$,
# which caps the pull of frequent pairs and mutes rare, noisy ones.
class GloVe(nn.Module):
    r"""Word and context vectors with biases; `vectors` is $w + \tilde w$."""

    def __init__(self, vocab_size: int, dim: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter((torch.rand(vocab_size, dim, generator=g) - 0.5) / dim)
        self.w_ctx = nn.Parameter((torch.rand(vocab_size, dim, generator=g) - 0.5) / dim)
        self.b = nn.Parameter(torch.zeros(vocab_size))
        self.b_ctx = nn.Parameter(torch.zeros(vocab_size))

    def loss(
        self,
        i: torch.Tensor,
        j: torch.Tensor,
        x: torch.Tensor,
        x_max: float = 100.0,
        alpha: float = 0.75,
    ) -> torch.Tensor:
        """Weighted least-squares loss over co-occurring pairs `(i, j)` with counts `x`, all `(N,)`."""
        # $f(x) = \min(1, (x / x_{max})^\alpha)$ times the squared error against $\log x$.
        f = (x / x_max).pow(alpha).clamp(max=1.0)
        pred = (self.w[i] * self.w_ctx[j]).sum(-1) + self.b[i] + self.b_ctx[j]
        return (f * (pred - x.log()) ** 2).sum()

    # The word and context tables play symmetric roles in the loss, so the vectors are their sum.
    @property
    def vectors(self) -> torch.Tensor:
        """The final word vectors `(vocab, C)`."""
        return (self.w + self.w_ctx).detach()

    @classmethod
    def train(
        cls,
        sentences: Sequence[Sequence[str]],
        dim: int = 32,
        window: int = 5,
        epochs: int = 1000,
        lr: float = 0.1,
        seed: int = 0,
    ) -> tuple[Vocabulary, GloVe]:
        """Fit on the co-occurrence counts of `sentences` with full-batch AdaGrad."""
        # Only the non-zero cells enter the loss (it needs $\log X_{ij}$), all in one batch.
        vocab = Vocabulary(sentences)
        x = cooccurrence(vocab.encode(sentences), len(vocab.words), window)
        i, j = np.nonzero(x)
        ti, tj, tx = torch.from_numpy(i), torch.from_numpy(j), torch.from_numpy(x[i, j]).float()
        model = cls(len(vocab.words), dim, seed)
        opt = torch.optim.Adagrad(model.parameters(), lr=lr)
        for _ in range(epochs):
            loss = model.loss(ti, tj, tx)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return vocab, model


# ## Evaluation
def nearest(
    vectors: torch.Tensor,
    vocab: Vocabulary,
    query: torch.Tensor | str,
    k: int = 5,
    exclude: Sequence[str] = (),
) -> list[str]:
    """The `k` words whose vectors have the highest cosine similarity to `query` (a word or vector)."""
    q = vectors[vocab.ids[query]] if isinstance(query, str) else query
    sims = F.cosine_similarity(vectors, q[None, :], dim=-1)  # (vocab,)
    banned = set(exclude) | ({query} if isinstance(query, str) else set())
    ranked = [vocab.words[i] for i in sims.argsort(descending=True).tolist()]
    return [w for w in ranked if w not in banned][:k]


# 3CosAdd works on unit vectors, and the three words of the question are never the answer.
def analogy(vectors: torch.Tensor, vocab: Vocabulary, a: str, b: str, c: str) -> str:
    """The answer $d$ to "$a$ is to $b$ as $c$ is to $d$": nearest to $b - a + c$ (3CosAdd)."""
    unit = F.normalize(vectors, dim=-1)
    q = unit[vocab.ids[b]] - unit[vocab.ids[a]] + unit[vocab.ids[c]]
    return nearest(unit, vocab, q, k=1, exclude=(a, b, c))[0]
