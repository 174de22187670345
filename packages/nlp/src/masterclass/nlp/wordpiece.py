r"""# WordPiece

WordPiece (Schuster & Nakajima, 2012; used by BERT, Devlin et al., 2019) is BPE's sibling. Words are
split on whitespace and punctuation; inside a word, pieces after the first carry a `##` prefix, so
`"tokenization"` may become `token ##ization`. Two things differ from BPE:

**Training** merges the pair that most increases the likelihood of the training data under a
unigram model of the units, not the most frequent pair. Merging $a, b$ into $ab$ changes the
log-likelihood by approximately
$$\Delta \mathcal L \approx c(ab)\,\log\frac{c(ab)\,N}{c(a)\,c(b)},$$
and the standard criterion keeps the ranking part, the pointwise mutual information-like score
$$\operatorname{score}(a, b) = \frac{c(ab)}{c(a)\,c(b)}:$$
a pair is merged when its parts occur together more often than their own frequencies predict, so a
frequent pair of frequent units ranks below a pair of rare units that always appear together. Since
merging changes the unit counts $c(a), c(b)$, every score involving $a$ or $b$ changes; we keep pair
and unit counts up to date incrementally (as in BPE) and take the best score by a scan over the
pairs, which is fine for the teaching-sized vocabularies trained here.

**Encoding** is greedy, not merge-based: take the longest vocabulary entry that prefixes the word,
then the longest `##` entry that prefixes the rest, and so on; if at some point nothing matches, the
whole word becomes `[UNK]`. Only the vocabulary is needed, no merge list.

Pre-tokenization follows BERT: split on whitespace (dropped) and isolate every punctuation character
(Unicode category P, plus the ASCII symbols BERT counts as punctuation). Reference: Hugging Face
`tokenizers`' `WordPiece` model with `BertPreTokenizer`, which the tests match id for id.

Left out: BERT's normaliser (accent stripping, Chinese character spacing); we offer lowercasing only.

## Exercises

1. Write `word_pieces(word, vocab)`: greedy longest-match-first segmentation of one word with
   `##` continuation pieces, `["[UNK]"]` when there is none. Find a vocabulary and a word for
   which greedy matching fails although a segmentation exists. Check it:
   `uv run pytest --exercise nlp.wordpiece`.
2. Write `decode(pieces)`: glue the pieces back into words. What spacing is lost? Check it:
   `uv run pytest --exercise nlp.wordpiece`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

import regex

__all__ = ["WordPieceTokenizer", "bert_pretokenize"]

# Whitespace separates words and is dropped; each punctuation character is a word of its own.
_BERT_SPLIT = regex.compile(r"[\p{P}!-/:-@\[-`{-~]|[^\p{White_Space}\p{P}!-/:-@\[-`{-~]+")
DEFAULT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def bert_pretokenize(text: str) -> list[str]:
    """BERT's pre-tokenization: words and single punctuation characters, whitespace dropped.

    >>> bert_pretokenize("Hello, world! it's 3.14")
    ['Hello', ',', 'world', '!', 'it', "'", 's', '3', '.', '14']
    """
    return _BERT_SPLIT.findall(text)


# The tokenizer holds a vocabulary list (index = id) and its `[UNK]` fallback: a word it cannot
# split, or one that is too long, becomes `[UNK]` whole.
class WordPieceTokenizer:
    """A WordPiece vocabulary with greedy longest-match-first encoding.

    Args:
        vocab: token strings, index = id; continuation pieces start with `prefix`.
        unk_token: the token for words that cannot be segmented (must be in `vocab`).
        prefix: the continuation marker, `"##"` as in BERT.
        lowercase: lowercase text before splitting.
        max_chars_per_word: longer words become `unk_token` (BERT: 100).

    >>> tok = WordPieceTokenizer(["[UNK]", "un", "##aff", "##able", "aff"])
    >>> tok.tokenize("unaffable aff unx")
    ['un', '##aff', '##able', 'aff', '[UNK]']
    """

    def __init__(
        self,
        vocab: Sequence[str],
        unk_token: str = "[UNK]",
        prefix: str = "##",
        lowercase: bool = False,
        max_chars_per_word: int = 100,
    ) -> None:
        # Ids are list positions, so duplicates would make two ids for one token.
        self.vocab = list(vocab)
        self.token_to_id = {t: i for i, t in enumerate(self.vocab)}
        if len(self.token_to_id) != len(self.vocab):
            raise ValueError("vocab has duplicate entries")
        if unk_token not in self.token_to_id:
            raise ValueError(f"unk_token {unk_token!r} is not in the vocabulary")
        self.unk_token, self.prefix = unk_token, prefix
        self.lowercase, self.max_chars_per_word = lowercase, max_chars_per_word
        self._cache: dict[str, list[str]] = {}

    # ## Greedy longest-match-first
    #
    # At each position try the longest remaining substring first and shorten it until it is in the
    # vocabulary (with the `##` prefix past the first piece). $O(n^2)$ lookups per word of $n$
    # characters in the worst case; words are short, and a cache makes repeats free.
    def _word_pieces(self, word: str) -> list[str]:
        if len(word) > self.max_chars_per_word:
            return [self.unk_token]
        pieces, start, vocab = [], 0, self.token_to_id
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in vocab:
                    break
                end -= 1
            else:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    # Tokenizing splits the text as BERT does and segments each distinct word once, through the
    # cache.
    def tokenize(self, text: str) -> list[str]:
        """Split `text` into WordPiece token strings."""
        if self.lowercase:
            text = text.lower()
        out: list[str] = []
        for word in bert_pretokenize(text):
            pieces = self._cache.get(word)
            if pieces is None:
                pieces = self._cache[word] = self._word_pieces(word)
            out += pieces
        return out

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`."""
        return [self.token_to_id[t] for t in self.tokenize(text)]

    # Decoding glues a `##` piece onto the word before it; any other piece starts a new word.
    def decode(self, ids: Iterable[int]) -> str:
        """Join pieces back into words separated by spaces (the original spacing is not kept)."""
        words: list[str] = []
        for i in ids:
            if not 0 <= i < len(self.vocab):
                raise ValueError(f"cannot decode id {i}: valid ids are 0..{len(self.vocab) - 1}")
            t = self.vocab[i]
            if t.startswith(self.prefix) and words:
                words[-1] += t[len(self.prefix) :]
            else:
                words.append(t)
        return " ".join(words)

    # ## Training by likelihood gain
    #
    # Each distinct word is a list of units (`"low"` → `l ##o ##w`) with its count. `pairs` counts
    # adjacent unit pairs and `units` counts units, both weighted by word counts; `where` indexes the
    # words containing each pair, so a merge only rewrites those words.
    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        *,
        special_tokens: Sequence[str] = DEFAULT_SPECIALS,
        lowercase: bool = False,
        prefix: str = "##",
    ) -> WordPieceTokenizer:
        """Learn a vocabulary of at most `vocab_size` tokens (specials first, then the alphabet)."""
        specials = list(special_tokens)
        if "[UNK]" not in specials:
            raise ValueError("special_tokens must include '[UNK]'")
        # Count the pre-tokenized words once: training works on distinct words and their counts.
        word_counts: Counter[str] = Counter()
        for text in texts:
            word_counts.update(bert_pretokenize(text.lower() if lowercase else text))
        if not word_counts:
            raise ValueError("cannot train on an empty corpus: texts contained no words")
        # Each word starts as its first character and `##`-prefixed continuations. The alphabet
        # (first characters before continuations) follows the specials in the vocabulary.
        words = [[w[0]] + [prefix + ch for ch in w[1:]] for w in word_counts]
        counts = list(word_counts.values())
        alphabet = sorted({u for w in words for u in w}, key=lambda u: (u.startswith(prefix), u))
        if vocab_size < len(specials) + len(alphabet):
            raise ValueError(
                f"vocab_size must be at least {len(specials)} specials + {len(alphabet)} alphabet "
                f"symbols = {len(specials) + len(alphabet)}, got {vocab_size}"
            )
        # Count units and adjacent pairs over all words, weighted by word frequency, and note the
        # words that hold each pair.
        vocab = specials + alphabet
        known = set(vocab)
        units: Counter[str] = Counter()
        pairs: Counter[tuple[str, str]] = Counter()
        where: dict[tuple[str, str], set[int]] = {}
        for wi, (w, c) in enumerate(zip(words, counts)):
            for u in w:
                units[u] += c
            for p in pairwise(w):
                pairs[p] += c
                where.setdefault(p, set()).add(wi)
        while len(vocab) < vocab_size and pairs:
            # Highest score; ties by higher pair count, then the smaller pair of strings.
            a, b = min(pairs, key=lambda p: (-pairs[p] / (units[p[0]] * units[p[1]]), -pairs[p], p))
            merged = a + b[len(prefix) :]
            # Rewrite, left to right, every word that holds the pair.
            for wi in where.pop((a, b), ()):
                w, c = words[wi], counts[wi]
                out, i = [], 0
                while i < len(w):
                    if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                        out.append(merged)
                        i += 2
                    else:
                        out.append(w[i])
                        i += 1
                # Update the counts by difference, as in BPE training: take out the old word's
                # units and pairs, put in the new word's.
                if len(out) == len(w):
                    continue
                for p in pairwise(w):
                    pairs[p] -= c
                for u in w:
                    units[u] -= c
                for p in pairwise(out):
                    pairs[p] += c
                    where.setdefault(p, set()).add(wi)
                for u in out:
                    units[u] += c
                words[wi] = out
            # A merged unit joins the vocabulary once, even if two different pairs spell it.
            pairs = +pairs  # drop pairs whose count fell to zero
            if merged not in known:
                known.add(merged)
                vocab.append(merged)
        return cls(vocab, "[UNK]", prefix, lowercase)

    # The export maps one to one onto Hugging Face's WordPiece model and BERT pre-tokenizer.
    def to_hf_json(self) -> str:
        """A Hugging Face `tokenizers` JSON with the same vocabulary and pre-tokenization."""
        doc = {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [],
            "normalizer": {"type": "Lowercase"} if self.lowercase else None,
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": None,
            "decoder": {"type": "WordPiece", "prefix": self.prefix, "cleanup": False},
            "model": {
                "type": "WordPiece",
                "unk_token": self.unk_token,
                "continuing_subword_prefix": self.prefix,
                "max_input_chars_per_word": self.max_chars_per_word,
                "vocab": self.token_to_id,
            },
        }
        return json.dumps(doc, ensure_ascii=False)
