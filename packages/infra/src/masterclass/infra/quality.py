r"""# Quality metrics: perplexity, a fastText classifier and readability

Heuristic filters (`filtering.py`) remove what is obviously broken. What remains still ranges
from careful prose to keyword spam that passes every rule, and a corpus is better when it keeps
the best part of it. Three families of **quality scores** rank documents:

1. **Perplexity under a reference language model.** A model trained on text we trust (CCNet used
   a 5-gram KenLM model of Wikipedia) assigns a document $x_1 \dots x_T$ the perplexity
   $$ \mathrm{PPL}(x) = \exp\Bigl(-\frac1T \sum_{t=1}^{T} \ln P(x_t \mid x_{<t})\Bigr), $$
   the inverse geometric mean of the probabilities of its symbols: a document "like" the
   reference gets a low value, gibberish a high one. Two reference models here, both over bytes
   so that any text can be scored: the interpolated Kneser–Ney $n$-gram of Module 5
   (`masterclass.nlp.ngram.KneserNeyLM`, the model KenLM estimates) and a tiny transformer of
   Module 7 (`masterclass.llm`) trained for seconds. The reference corpus is the English prose of
   Python's own documentation, which ships with every Python (`pydoc_data.topics`).
2. **A linear classifier** trained to tell reference text (positive) from junk (negative), as
   GPT-3, the Pile and DCLM did with fastText (Joulin et al., 2017). A document is a bag of hashed
   features $f_1 \dots f_n$ (its words, word bigrams and character $n$-grams, each hashed into one
   of $B$ buckets); each bucket has an embedding row $E_f \in \mathbb{R}^d$, the document is their
   mean, and a linear layer $W \in \mathbb{R}^{K \times d}$ gives the class probabilities:
   $$ h = \frac1n \sum_{i=1}^{n} E_{f_i}, \qquad z = W h, \qquad p = \mathrm{softmax}(z),
      \qquad \ell = -\ln p_y . $$
   The score of a document is $p_{\text{good}}$.
3. **Readability statistics** (Flesch, 1948; Kincaid et al., 1975), from counts of words $w$,
   sentences $s$ and syllables $y$:
   $$ \text{reading ease} = 206.835 - 1.015\,\frac{w}{s} - 84.6\,\frac{y}{w}, \qquad
      \text{grade} = 0.39\,\frac{w}{s} + 11.8\,\frac{y}{w} - 15.59 . $$
   Long sentences and long words lower the ease and raise the US school grade needed to read a
   text. They say nothing about whether the text is sensible; they flag lists, fragments and
   walls of jargon.

## The classifier's gradient, step by step

With $\delta = p - e_y$ (the softmax cross-entropy gradient with respect to $z$, $e_y$ the
one-hot label),
$$ \frac{\partial \ell}{\partial W} = \delta\, h^{\top}, \qquad
   \frac{\partial \ell}{\partial h} = W^{\top} \delta, \qquad
   \frac{\partial \ell}{\partial E_{f}} = \frac{c_f}{n}\, W^{\top} \delta , $$
where $c_f$ counts the occurrences of bucket $f$ in the document: $h$ is linear in each row, with
coefficient $c_f / n$. Only the rows of the document's features change, so one SGD step costs
$O(nd + Kd)$ whatever $B$ is, which is why fastText trains on billions of words on a CPU. As in
fastText, the input rows start uniform in $[-1/d, 1/d]$, the output matrix at zero, and the
learning rate decays linearly to zero over the run. The test replays the same computation with
`torch.nn.EmbeddingBag(mode="mean")` and compares losses, gradients and SGD steps.

## The ranking on a mixed sample

`data/quality_sample.tsv` holds twenty short documents, four each of prose, code, boilerplate,
spam and gibberish. The figure shows where each metric puts them, computed when the site is
built:

![Four quality scores of the mixed sample, documents coloured by kind](figures/quality_ranking.png)

What to look for: the $n$-gram perplexity and the classifier put prose apart from code, spam and
random letters (the tests assert it); the tiny transformer, trained for seconds, separates less
sharply, with repetitive spam close to prose. None of them rejects the star, a "word salad" of
the most frequent English words in random order. Every local statistic of it is right (its
bytes, its 5-grams, its bag of words), and none of these models sees further than a few words; a
model that does (a larger transformer, or a classifier over sentence structure) would be needed
to reject it. Reading ease ranks nothing by
quality: code and lists of short words read as "easy", and one spam text of endless run-on
clauses as harder than any prose. It is a filter for one property, not a quality score.

References: G. Wenzek et al., *CCNet: Extracting High Quality Monolingual Datasets from Web
Crawl Data*, LREC 2020, <https://arxiv.org/abs/1911.00359>; A. Joulin et al., *Bag of Tricks for
Efficient Text Classification*, EACL 2017, <https://arxiv.org/abs/1607.01759>; K. Weinberger et
al., *Feature Hashing for Large Scale Multitask Learning*, ICML 2009; J. Li et al.,
*DataComp-LM*, 2024, <https://arxiv.org/abs/2406.11794>; R. Flesch, *A new readability
yardstick*, J. Applied Psychology 32, 1948; J. P. Kincaid et al., *Derivation of New Readability
Formulas for Navy Enlisted Personnel*, 1975.

Left out: fastText's hierarchical softmax and its vocabulary of exact word ids (every feature is
hashed here, words too), KenLM's modified Kneser–Ney with pruning and quantisation, perplexity
*buckets* (CCNet keeps head/middle/tail thirds rather than a threshold), model-based raters
(FineWeb-Edu's LLM-annotated classifier), and syllable dictionaries (CMUdict); the syllable count
is a rule of thumb, right on most words, as the tests measure.

On the command line: `python -m masterclass.infra.quality IN.jsonl OUT.jsonl` adds a
`"quality"` object (reading ease, grade, $n$-gram perplexity, $p_{\text{good}}$) to each document.

## Exercises

1. Write `count_syllables(word)` with the rules of `syllables` below (vowel groups, a silent final
   *e*, *-ed* and *-es*, hiatus). Check it: `uv run pytest --exercise infra.quality`
2. Write `flesch_reading_ease(words, sentences, syllables)` from the counts.
   Check it: `uv run pytest --exercise infra.quality`
3. Write `fasttext_grad_w(E, W, features, label)`: the gradient of the loss with respect to $W$
   for one document, as a NumPy array. Check it: `uv run pytest --exercise infra.quality`
"""

from __future__ import annotations

import argparse
import math
import re
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# The perplexity references come from earlier chapters: the Kneser-Ney n-gram model, and a tiny
# Transformer with its training run. The classifier and the readability formulas are built here.
from masterclass.infra.data_cli import progress, read_documents, run_tool, write_documents
from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.llm.tiny_runs import train_tiny
from masterclass.nlp.ngram import KneserNeyLM

# The quality signals: readability formulas, n-gram and tiny-model perplexity against a reference
# corpus, and a fastText-style classifier trained against generated junk.
__all__ = [
    "FastTextClassifier",
    "FastTextConfig",
    "Readability",
    "hashed_features",
    "junk_corpus",
    "lm_perplexity",
    "load_quality_sample",
    "main",
    "ngram_perplexity",
    "readability",
    "reference_corpus",
    "syllables",
    "train_ngram_reference",
    "train_tiny_reference",
]

_DATA = Path(__file__).with_name("data")


# ## The reference corpus
#
# `pydoc_data.topics` is the text of the Python reference manual's main sections. Its paragraphs
# of prose are kept (code blocks are indented, headings are underlined with `*`, `=` or `-`), and
# long ones are cut into pieces of about `words` words, the size of the documents scored.
def reference_corpus(words: int = 60, max_docs: int | None = None) -> list[str]:
    """English prose paragraphs from Python's documentation, about `words` words each."""
    import pydoc_data.topics

    docs = []
    for topic in pydoc_data.topics.topics.values():
        for para in topic.split("\n\n"):
            if para.startswith(" ") or re.search(r"^[*=\-~]{3,}$", para, re.M) or "::=" in para:
                continue
            tokens = para.split()
            for i in range(0, len(tokens) - words // 2, words):
                docs.append(" ".join(tokens[i : i + words]))
    return docs[:max_docs] if max_docs is not None else docs


# ## Junk, for the negative class
#
# DCLM trained its classifier against random web pages. Offline, a seeded generator stands in:
# words drawn uniformly from the reference vocabulary (a salad with the right words in no
# order), random letter strings, repeated keyword spam, navigation menus, and slices of the
# standard library's Python source. None of these is text from the shipped sample.
_SPAM = [
    "buy",
    "cheap",
    "free",
    "best",
    "deal",
    "offer",
    "win",
    "money",
    "discount",
    "click",
    "now",
    "online",
    "sale",
    "bonus",
]
# Navigation-menu words, for the boilerplate kind of junk.
_MENU = [
    "Home",
    "About",
    "Contact",
    "Blog",
    "Shop",
    "Login",
    "Register",
    "Privacy",
    "Terms",
    "Help",
    "Careers",
    "Cart",
    "FAQ",
]


def junk_corpus(n: int, seed: int = 0, vocabulary: Sequence[str] = ()) -> list[str]:
    """`n` junk documents of five kinds, in turn, from a seeded generator."""
    # The code kind slices real Python source: three standard-library modules, read from this
    # interpreter's own installation.
    rng = np.random.default_rng(seed)
    vocab = sorted(set(vocabulary)) or _SPAM + _MENU
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = "".join((stdlib / name).read_text() for name in ("textwrap.py", "bisect.py", "shlex.py"))
    # The kinds in turn: word salad from the vocabulary, random letter strings, repeated spam
    # keywords, menus joined by `|`, and a 300-character slice of code.
    docs = []
    for i in range(n):
        length = int(rng.integers(20, 60))
        kind = i % 5
        if kind == 0:
            doc = " ".join(rng.choice(vocab, length))
        elif kind == 1:
            letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
            doc = " ".join(
                "".join(rng.choice(letters, int(rng.integers(3, 9)))) for _ in range(length)
            )
        elif kind == 2:
            # Spam repeats three keywords, some with a shout or a "now".
            words = rng.choice(_SPAM, 3)
            doc = " ".join(
                str(rng.choice(words)) + str(rng.choice(["", "!!!", " now"])) for _ in range(length)
            )
        elif kind == 3:
            doc = " | ".join(rng.choice(_MENU, length // 3))
        else:
            # A slice of source code, cut at any character.
            start = int(rng.integers(0, len(code) - 400))
            doc = code[start : start + 300]
        docs.append(doc)
    return docs


# ## Perplexity under the n-gram reference
#
# Bytes, not words: the byte model needs no tokenizer and gives every text a finite perplexity
# (Kneser–Ney's recursion ends in the uniform $1/256$).
def train_ngram_reference(corpus: Sequence[str], order: int = 5) -> KneserNeyLM:
    """A byte-level interpolated Kneser–Ney model of the documents of `corpus`."""
    if not corpus:
        raise ValueError("corpus is empty: pass the reference documents to train on")
    return KneserNeyLM(order).fit([doc.encode("utf-8") for doc in corpus])


def ngram_perplexity(model: KneserNeyLM, text: str) -> float:
    """Perplexity per byte of `text` (UTF-8) under the n-gram model."""
    if not text:
        raise ValueError("text is empty: perplexity needs at least one byte")
    return model.perplexity(text.encode("utf-8"))


# ## Perplexity under a tiny transformer
#
# The transformer sees at most `max_seq_len` bytes, so a long text is scored in consecutive
# windows: window $k$ predicts bytes $kL+1 \dots (k+1)L$ from the bytes before them in the
# window. Summing the losses before dividing by the number of predicted bytes gives the same
# average as one long pass would, up to the shorter contexts at window starts. The first byte
# has no context and is not predicted.
def train_tiny_reference(corpus: Sequence[str], steps: int = 60, seed: int = 0) -> LanguageModel:
    """A one-layer byte-level LLaMA-style model trained for `steps` steps on `corpus`."""
    data = torch.frombuffer(bytearray("\n".join(corpus).encode("utf-8")), dtype=torch.uint8).long()
    cut = int(0.95 * data.numel())
    config = LMConfig.llama(vocab_size=256, d_model=32, n_layers=1, n_heads=2, max_seq_len=64)
    return train_tiny(
        config, (data[:cut], data[cut:]), steps=steps, batch_size=8, seq_len=64, lr=1e-2, seed=seed
    ).model


# Scoring walks the text in windows of the model's context: each window predicts its next bytes, and
# the losses are summed over every byte but the first.
@torch.no_grad()
def lm_perplexity(model: LanguageModel, text: str) -> float:
    """Perplexity per byte of `text` under a byte-level `LanguageModel`."""
    x = torch.tensor(list(text.encode("utf-8")), dtype=torch.long)
    if x.numel() < 2:
        raise ValueError(f"text must have at least 2 bytes to be scored, got {x.numel()}")
    L = model.config.max_seq_len
    total = 0.0
    for start in range(0, x.numel() - 1, L):
        window = x[start : start + L + 1]  # (<= L + 1,)
        logits = model(window[None, :-1])  # (1, T, V)
        total += torch.nn.functional.cross_entropy(logits[0], window[1:], reduction="sum").item()
    return math.exp(total / (x.numel() - 1))


# ## Hashed features
#
# fastText's string hash is 32-bit FNV-1a: for each byte, xor it in, then multiply by the FNV
# prime modulo $2^{32}$. A prefix keeps the three kinds of feature apart (the word `ab` and the
# character trigram `ab` are different features). Words are lower-cased runs of letters and
# digits, and each punctuation mark is a word of its own, so `!!!` and `{` count.
def _fnv1a(s: str) -> int:
    h = 2166136261
    for byte in s.encode("utf-8"):
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


# fastText's features: every word, every word n-gram, and every character n-gram of the word wrapped
# in `<` and `>`, each hashed into one of `buckets` rows. Hashing keeps the table a fixed size with
# no vocabulary, at the price of occasional collisions.
def hashed_features(
    text: str, buckets: int = 2**18, word_ngrams: int = 2, minn: int = 3, maxn: int = 5
) -> np.ndarray:
    """Bucket ids of the words, word n-grams up to `word_ngrams` and character n-grams
    (`minn`..`maxn` characters of `<word>`) of `text`, shape `(n,)`, int64.

    >>> hashed_features("Buy now!", buckets=1000, minn=0, maxn=0).tolist()
    [132, 820, 39, 295, 376]
    """
    if not isinstance(buckets, int) or buckets < 1:
        raise ValueError(f"buckets must be a positive int, got {buckets!r}")
    # Words are runs of word characters or single punctuation marks, lower-cased. The prefixes `w:`,
    # `n:` and `c:` keep a word, a word n-gram and a character n-gram with the same text apart.
    words = re.findall(r"\w+|[^\w\s]", text.lower())
    feats = [f"w:{w}" for w in words]
    for n in range(2, word_ngrams + 1):
        feats += [f"n:{' '.join(words[i : i + n])}" for i in range(len(words) - n + 1)]
    for w in words if minn > 0 else ():
        padded = f"<{w}>"
        for n in range(minn, maxn + 1):
            feats += [f"c:{padded[i : i + n]}" for i in range(len(padded) - n + 1)]
    return np.array([_fnv1a(f) % buckets for f in feats], dtype=np.int64)


@dataclass(frozen=True)
class FastTextConfig:
    """Hyper-parameters of the fastText-style classifier (fastText's defaults, smaller)."""

    # Embedding width d.
    dim: int = 16
    # Number of hash buckets B.
    buckets: int = 2**18
    # Longest word n-gram.
    word_ngrams: int = 2
    # Shortest and longest character n-gram of "<word>" (0, 0: none).
    minn: int = 3
    maxn: int = 5
    # Initial learning rate, decayed linearly to 0.
    lr: float = 0.5
    # Passes over the training set.
    epochs: int = 5
    # Seed of the initialisation and of the example order.
    seed: int = 0


class FastTextClassifier:
    """A linear classifier over averaged hashed-feature embeddings (fastText's supervised model)."""

    def __init__(self, n_classes: int, config: FastTextConfig | None = None) -> None:
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
        self.config = c = config or FastTextConfig()
        rng = np.random.default_rng(c.seed)
        self.E = rng.uniform(-1 / c.dim, 1 / c.dim, (c.buckets, c.dim))  # (B, d)
        self.W = np.zeros((n_classes, c.dim))  # (K, d)

    def features(self, text: str) -> np.ndarray:
        """The hashed feature ids of `text` under this model's configuration."""
        c = self.config
        return hashed_features(text, c.buckets, c.word_ngrams, c.minn, c.maxn)

    # ## Forward and backward, by hand
    #
    # The gradient of every embedding row is the same vector $W^\top \delta / n$, added once per
    # occurrence; `np.add.at` does the accumulation for repeated ids (plain fancy-index `+=`
    # would count a repeated id once).
    def loss_and_grads(
        self, features: np.ndarray, label: int
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """`(loss, dE_rows, dW)`; `dE_rows` is `(n, d)`: the gradient of each feature occurrence."""
        if len(features) == 0:
            raise ValueError("a document needs at least one feature; got an empty text")
        # Forward: the document vector is the mean of its feature embeddings, then a linear layer
        # and a softmax (shifted by the maximum logit, so `exp` cannot overflow).
        h = self.E[features].mean(axis=0)  # (d,)
        z = self.W @ h  # (K,)
        z = z - z.max()
        p = np.exp(z) / np.exp(z).sum()  # (K,)
        loss = -math.log(p[label])
        # Backward: the cross-entropy's gradient on the logits is `p - onehot(label)`; from it, the
        # outer product gives `dW`, and `W^T delta` the gradient of the mean, shared by each
        # occurrence.
        delta = p.copy()
        delta[label] -= 1.0  # (K,)
        dW = np.outer(delta, h)  # (K, d)
        dh = self.W.T @ delta  # (d,)
        return loss, np.broadcast_to(dh / len(features), (len(features), h.size)), dW

    # Plain SGD, one document at a time, as fastText does; `np.add.at` adds the gradient once per
    # occurrence of a feature id.
    def sgd_step(self, features: np.ndarray, label: int, lr: float) -> float:
        """One SGD step on one document; returns its loss before the step."""
        loss, dE, dW = self.loss_and_grads(features, label)
        np.add.at(self.E, features, -lr * dE)
        self.W -= lr * dW
        return loss

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> list[float]:
        """SGD over `epochs` shuffled passes with a linearly decaying rate; mean loss per epoch."""
        if len(texts) != len(labels) or not texts:
            raise ValueError(
                "texts and labels must be non-empty and of equal length, "
                f"got {len(texts)} and {len(labels)}"
            )
        # Features are computed once; each epoch visits the documents in a fresh order, and the rate
        # falls linearly from `lr` to 0 over all the steps of all the epochs.
        c = self.config
        feats = [self.features(t) for t in texts]
        rng = np.random.default_rng(c.seed + 1)
        total, t, history = c.epochs * len(texts), 0, []
        for _ in range(c.epochs):
            losses = []
            for i in rng.permutation(len(texts)):
                lr = c.lr * (1 - t / total)
                losses.append(self.sgd_step(feats[i], int(labels[i]), lr))
                t += 1
            history.append(float(np.mean(losses)))
        return history

    # Prediction repeats the forward pass; a text with no features gets the uniform distribution.
    def predict_proba(self, text: str) -> np.ndarray:
        """Class probabilities of `text`, shape `(K,)`."""
        features = self.features(text)
        if len(features) == 0:
            return np.full(self.W.shape[0], 1 / self.W.shape[0])
        z = self.W @ self.E[features].mean(axis=0)
        p = np.exp(z - z.max())
        return p / p.sum()


# ## Syllables and readability
#
# The syllable count is the classic rule of thumb: count groups of vowels (with *y*), then
# remove a silent final *e* (*make*, but not *table*), and the *-ed* and *-es* endings that add
# no syllable (*jumped*, *makes*; but *wanted*, *boxes*), and add the vowel pairs that are spoken
# as two (hiatus). Every word has at least one syllable.
def syllables(word: str) -> int:
    """Estimated number of syllables of an English word.

    >>> [syllables(w) for w in ["the", "table", "measure", "readability", "jumped", "wanted"]]
    [1, 2, 2, 5, 1, 2]
    """
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    if len(w) <= 3:
        return 1
    count = len(re.findall(r"[aeiouy]+", w))
    if (
        (w.endswith("e") and not w.endswith(("le", "ee", "ye")))
        or (w.endswith("ed") and not w.endswith(("ted", "ded")))
        or (
            w.endswith("es") and not w.endswith(("ses", "zes", "ces", "ges", "xes", "shes", "ches"))
        )
    ):
        count -= 1
    # Hiatus: two vowels spoken apart (di-o-xide, pi-a-no, cli-ent, po-em, i-de-a), except in
    # -tion, -sion, -cial, -tient, which are one syllable.
    count += len(re.findall(r"(?<![cst])i(?:[ao]|en[tc])|oe[mt]", w)) + w.endswith("ea")
    return max(1, count)


@dataclass(frozen=True)
class Readability:
    """Counts and the two Flesch formulas of one text."""

    # Words (runs of letters, digits and apostrophes).
    words: int
    # Sentences (runs ended by `.`, `!` or `?`, at least 1).
    sentences: int
    # Estimated syllables.
    syllables: int
    # Flesch reading ease (higher is easier; 60-70 is plain English).
    reading_ease: float
    # Flesch-Kincaid grade level (US school years).
    grade: float


def readability(text: str) -> Readability:
    """Flesch reading ease and Flesch–Kincaid grade of `text`.

    >>> r = readability("The cat sat on the mat.")
    >>> r.words, r.sentences, r.syllables, round(r.reading_ease, 3), round(r.grade, 2)
    (6, 1, 6, 116.145, -1.45)
    """
    # Counts first: words are runs of letters, digits and apostrophes; a sentence is a run that
    # contains a word and ends in `.`, `!` or `?` (a text without one is one sentence).
    words = re.findall(r"[A-Za-z0-9']+", text)
    if not words:
        raise ValueError("text has no words: readability needs at least one")
    sentences = max(1, len(re.findall(r"[^.!?]*[A-Za-z0-9][^.!?]*[.!?]+", text)))
    syl = sum(syllables(w) for w in words)
    # Both Flesch formulas are linear in words per sentence and syllables per word.
    wps, spw = len(words) / sentences, syl / len(words)
    return Readability(
        len(words),
        sentences,
        syl,
        206.835 - 1.015 * wps - 84.6 * spw,
        0.39 * wps + 11.8 * spw - 15.59,
    )


def load_quality_sample() -> list[tuple[str, str]]:
    """The shipped mixed sample: `(kind, text)` pairs (prose, code, boilerplate, spam, gibberish)."""
    rows = (_DATA / "quality_sample.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [(kind, text.replace("\\n", "\n")) for kind, text in (r.split("\t", 1) for r in rows)]


# ## Command line
#
# The reference models are trained at start-up (seconds): the $n$-gram on the reference corpus,
# the classifier on it against as many junk documents.
def _main(argv: Sequence[str] | None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m masterclass.infra.quality", description="Add quality scores to documents."
    )
    parser.add_argument("input", help=".jsonl (objects with a 'text') or .txt (one per line)")
    parser.add_argument("output", help="JSON Lines with a 'quality' object added")
    args = parser.parse_args(argv)
    # Train the references once: the n-gram model on the reference corpus, and the classifier on it
    # against as many junk documents.
    docs = read_documents(args.input)
    corpus = reference_corpus()
    ngram = train_ngram_reference(corpus)
    clf = FastTextClassifier(2)
    junk = junk_corpus(len(corpus), vocabulary=" ".join(corpus).split())
    clf.fit(corpus + junk, [1] * len(corpus) + [0] * len(junk))
    # Readability needs a letter or a digit, the n-gram perplexity a non-empty text; the classifier
    # scores anything.
    for doc in progress(docs, "quality"):
        text = doc["text"]
        r = readability(text) if re.search(r"[A-Za-z0-9]", text) else None
        doc["quality"] = {
            "reading_ease": None if r is None else round(r.reading_ease, 2),
            "grade": None if r is None else round(r.grade, 2),
            "ngram_perplexity": round(ngram_perplexity(ngram, text), 3) if text else None,
            "p_good": round(float(clf.predict_proba(text)[1]), 4),
        }
    write_documents(args.output, docs)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit status (2 with one line on bad input)."""
    return run_tool(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
