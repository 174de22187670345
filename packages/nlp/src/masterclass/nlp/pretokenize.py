r"""# Tokenization strategies

A model sees integers, so text must be cut into units and each unit given an id. Where to cut is a
trade-off between the size of the vocabulary $V$ and the length $T$ of the sequences:

| strategy | unit | $V$ | $T$ | out-of-vocabulary? |
|---|---|---|---|---|
| whitespace | word | unbounded ($10^5$–$10^6$) | one per word | yes: unseen words |
| regex (GPT-2/GPT-4) | word-ish piece | unbounded | a little more (punctuation, spaces) | yes, until a subword model runs on each piece |
| character | Unicode code point | ~$1.5\times10^5$ possible | one per character | rare characters |
| byte | UTF-8 byte | 256 | one to four per character | never |

`compare_strategies` measures the lengths on any text; on one English sentence:

>>> {name: s["length"] for name, s in compare_strategies("The cat didn't sit, it sat.").items()}
{'whitespace': 6, 'gpt2': 9, 'gpt4': 9, 'chars': 27, 'bytes': 27}

Subword tokenizers (BPE, WordPiece, Unigram: the next chapters) sit in between: they start from bytes
or characters and learn a vocabulary of frequent pieces, so that common words are one token and any
string is still representable.

**Pre-tokenization.** Before a subword model runs, text is split into *pre-tokens* by a regular
expression, and merges never cross a pre-token boundary. This keeps tokens linguistically sane
(no token spanning `"dog."`), and makes training cheap: only the *distinct* pre-tokens and their
counts matter. GPT-2's pattern (Radford et al., 2019) splits off English contractions, runs of
letters or digits with an optional leading space, runs of punctuation, and whitespace; the GPT-4
pattern (`cl100k_base`, tiktoken) makes contractions case-insensitive, caps digit runs at three
(numbers tokenize consistently: `1234567` → `123 456 7`), and keeps newlines apart from other
whitespace. `\s+(?!\S)` leaves the last space of a run to be glued to the next word, so `" the"`
is one unit whether one or ten spaces precede it.

**Normalisation.** Unicode lets the same text be written several ways: `"é"` is one code point
(U+00E9, NFC) or `"e"` plus a combining acute (NFD). NFC composes canonical equivalents; NFKC also
folds *compatibility* variants (`"ﬁ"` → `"fi"`, full-width `"Ａ"` → `"A"`, `"²"` → `"2"`), which
helps matching but loses information. Byte-level BPE (GPT-2 onwards) normalises nothing and is
lossless; SentencePiece and BERT normalise with NFKC-like rules.

Reference: Sennrich et al. (2016) for subwords; `tiktoken`'s `cl100k_base` for the GPT-4 pattern.
Left out: language-specific word segmentation (Chinese, Japanese), and morphological analysis.

## Exercises

1. Write `utf8_encode(code_point)`: the UTF-8 bytes of one code point, by bit manipulation. How
   many bytes does a Chinese character take, and what does that mean for a byte-level model's
   sequence length? Check it: `uv run pytest --exercise nlp.pretokenize`.
2. Write `utf8_decode(data)`: the code points of a list of valid UTF-8 bytes. Check it:
   `uv run pytest --exercise nlp.pretokenize`.
3. Write `digit_groups(digits)`: how the GPT-4 pattern cuts a run of digits. Why is
   `1234567` → `123 456 7` better for arithmetic than GPT-2's single piece? Check it:
   `uv run pytest --exercise nlp.pretokenize`.
"""

from __future__ import annotations

import unicodedata

import regex

__all__ = [
    "GPT2_PATTERN",
    "GPT4_PATTERN",
    "byte_tokenize",
    "char_tokenize",
    "compare_strategies",
    "normalize",
    "regex_pretokenize",
    "whitespace_tokenize",
]

# The two split patterns, verbatim from `tiktoken` (`r50k_base`/`gpt2` and `cl100k_base`). The
# `regex` module is needed, not `re`: `\p{L}` (any letter) and `\p{N}` (any number) are Unicode
# property classes. The possessive quantifiers (`++`, `?+`) never give back what they matched, which
# makes matching linear-time and lets `\s++$` mean "trailing whitespace is one piece".
GPT2_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
)
GPT4_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""


# Four ways to cut text, from the lossiest to the most general: whitespace words, regex pieces,
# code points, bytes.
def whitespace_tokenize(text: str) -> list[str]:
    r"""Split on runs of Unicode whitespace, dropping it (lossy: the spacing cannot be recovered).

    >>> whitespace_tokenize("the  cat\tsat\n")
    ['the', 'cat', 'sat']
    """
    return text.split()


def regex_pretokenize(text: str, pattern: str = GPT4_PATTERN) -> list[str]:
    r"""Split `text` into pre-tokens with a GPT-style pattern; the pieces concatenate back to `text`.

    >>> regex_pretokenize("I'll pay 1234567 dollars!!\n\n  ok")
    ['I', "'ll", ' pay', ' ', '123', '456', '7', ' dollars', '!!\n\n', ' ', ' ok']
    >>> regex_pretokenize("I'll pay 1234567", GPT2_PATTERN)
    ['I', "'ll", ' pay', ' 1234567']
    """
    return regex.findall(pattern, text)


# Below the word level: one id per code point, or one per UTF-8 byte.
def char_tokenize(text: str) -> list[int]:
    """Code points: one id per Unicode character (vocabulary up to 0x10FFFF).

    >>> char_tokenize("né")
    [110, 233]
    """
    return [ord(ch) for ch in text]


def byte_tokenize(text: str) -> list[int]:
    """UTF-8 bytes: vocabulary 256, never out-of-vocabulary, ~1-4 ids per character.

    >>> byte_tokenize("né")
    [110, 195, 169]
    """
    return list(text.encode("utf-8"))


# Normalisation is a pure function of the text; we expose the four Unicode forms and no others, since
# the lower-casing and accent-stripping of BERT-style tokenizers belong with those tokenizers.
def normalize(text: str, form: str = "NFC") -> str:
    r"""Unicode normalisation: `form` is one of `"NFC"`, `"NFD"`, `"NFKC"`, `"NFKD"`.

    >>> normalize("ﬁne Ａ²", "NFKC")
    'fine A2'
    >>> len(normalize("e\u0301", "NFC"))
    1
    """
    if form not in ("NFC", "NFD", "NFKC", "NFKD"):
        raise ValueError(f"form must be one of NFC, NFD, NFKC, NFKD; got {form!r}")
    return unicodedata.normalize(form, text)


# The comparison the table above summarises, computed on any text: the number of units each strategy
# produces, the number of distinct units (the vocabulary that text alone would need), and whether the
# units can be joined back into exactly the input.
def compare_strategies(text: str) -> dict[str, dict[str, int | bool]]:
    """Sequence length, distinct units and losslessness of each strategy on `text`.

    >>> stats = compare_strategies("the cat sat on the mat.")
    >>> stats["whitespace"]["length"], stats["bytes"]["length"], stats["gpt4"]["lossless"]
    (6, 23, True)
    """
    units: dict[str, list] = {
        "whitespace": whitespace_tokenize(text),
        "gpt2": regex_pretokenize(text, GPT2_PATTERN),
        "gpt4": regex_pretokenize(text, GPT4_PATTERN),
        "chars": list(text),
        "bytes": byte_tokenize(text),
    }
    # Losslessness: whitespace words are rejoined with single spaces, regex pieces and characters
    # with nothing, and bytes are decoded.
    lossless = {
        "whitespace": " ".join(units["whitespace"]) == text,
        "gpt2": "".join(units["gpt2"]) == text,
        "gpt4": "".join(units["gpt4"]) == text,
        "chars": "".join(units["chars"]) == text,
        "bytes": bytes(units["bytes"]).decode("utf-8") == text,
    }
    return {
        name: {"length": len(u), "distinct": len(set(u)), "lossless": lossless[name]}
        for name, u in units.items()
    }
