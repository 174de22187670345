"""Tests for the tokenization strategies: the split patterns against tiktoken's own (the same
regexes run by tiktoken's Rust engine), losslessness, and Unicode normalisation against the
definitions."""

from __future__ import annotations

import unicodedata

import pytest
import regex
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.nlp.pretokenize import (
    GPT2_PATTERN,
    GPT4_PATTERN,
    byte_tokenize,
    char_tokenize,
    compare_strategies,
    normalize,
    regex_pretokenize,
    whitespace_tokenize,
)

SAMPLES = [
    "Hello, world! I'm here; they've gone.  Tabs\tand\nnewlines\r\n\r\n",
    "x = [1, 22, 333, 4444, 55555]  # numbers\n    return f'{x!r}'\n",
    "日本語のテキスト、中文、한국어, Ελληνικά, русский, العربية 😀👍🏽",
    "   leading and trailing   ",
    "WE'LL SHOUT IT'S FINE'S",
]


def _tiktoken_pieces(text: str, pattern: str) -> list[bytes]:
    # tiktoken does not expose its regex split, but it shows through the ids: with a vocabulary
    # holding every substring of `text`, each piece tiktoken cuts is itself a token (its whole-piece
    # shortcut), so decoding the ids token by token gives back exactly tiktoken's pieces.
    data = text.encode("utf-8")
    subs = {data[i:j] for i in range(len(data)) for j in range(i + 1, len(data) + 1)}
    subs |= {bytes([b]) for b in range(256)}
    ranks = {tok: r for r, tok in enumerate(sorted(subs, key=lambda t: (len(t), t)))}
    enc = tiktoken.Encoding(
        "all-substrings", pat_str=pattern, mergeable_ranks=ranks, special_tokens={}
    )
    return enc.decode_tokens_bytes(enc.encode_ordinary(text))


def _shipped_pattern(name: str, monkeypatch) -> str:
    # The split pattern as tiktoken itself ships it, read from tiktoken_ext's encoding constructor.
    # The constructor would download the rank file first (offline here), so its loader is replaced
    # by one that returns no ranks; the pattern string is tiktoken's, not ours.
    import tiktoken_ext.openai_public as openai_public

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *a, **k: {})
    return getattr(openai_public, name)()["pat_str"]


@pytest.mark.parametrize(
    ("ours", "name"), [(GPT2_PATTERN, "r50k_base"), (GPT4_PATTERN, "cl100k_base")]
)
def test_patterns_cut_like_the_patterns_tiktoken_ships(ours, name, monkeypatch):
    # Our regex engine with our pattern against tiktoken's Rust engine with tiktoken's pattern.
    # (r50k_base is GPT-2's pattern; its constructor is the one that reads a rank file.)
    shipped = _shipped_pattern(name, monkeypatch)
    extra = ["don't  stop\n\n\n  123456789 abc\u00e9DEF!!?", "a\r\nb\u3000c  \t d's'S'LL"]
    for text in SAMPLES + extra:
        pieces = regex_pretokenize(text, ours)
        assert "".join(pieces) == text
        assert [p.encode("utf-8") for p in pieces] == _tiktoken_pieces(text, shipped)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100))
def test_gpt4_pattern_is_lossless(text):
    assert "".join(regex_pretokenize(text)) == text
    assert bytes(byte_tokenize(text)).decode("utf-8") == text
    assert "".join(map(chr, char_tokenize(text))) == text


def test_gpt4_splits_digits_in_threes_and_contractions_case_insensitively():
    assert regex_pretokenize("1234567") == ["123", "456", "7"]
    assert regex_pretokenize("WE'LL") == ["WE", "'LL"]
    assert regex_pretokenize("WE'LL", GPT2_PATTERN) == ["WE", "'", "LL"]


def test_whitespace_tokenize_matches_str_split():
    for text in SAMPLES:
        assert whitespace_tokenize(text) == text.split()


@pytest.mark.parametrize("form", ["NFC", "NFD", "NFKC", "NFKD"])
def test_normalize_matches_unicodedata_and_is_idempotent(form):
    text = "e\u0301 ﬁ Ａ² Å Å ½"
    out = normalize(text, form)
    assert out == unicodedata.normalize(form, text)
    assert normalize(out, form) == out
    assert unicodedata.is_normalized(form, out)


def test_normalize_rejects_unknown_form():
    with pytest.raises(ValueError, match="NFC, NFD, NFKC, NFKD"):
        normalize("x", "NFX")


def test_compare_strategies():
    stats = compare_strategies(SAMPLES[0])
    assert stats["bytes"]["length"] == len(SAMPLES[0].encode())
    assert stats["chars"]["length"] == len(SAMPLES[0])
    assert not stats["whitespace"]["lossless"] and stats["gpt4"]["lossless"]
    assert stats["whitespace"]["length"] < stats["gpt4"]["length"] < stats["chars"]["length"]


def test_compare_strategies_lossless_flags():
    # Regex splits, characters and UTF-8 bytes lose nothing by construction; splitting on
    # whitespace is lossless exactly when the text is single-space-separated words.
    for text in [*SAMPLES, "one two three", "one  two", " lead"]:
        stats = compare_strategies(text)
        for name in ("gpt2", "gpt4", "chars", "bytes"):
            assert stats[name]["lossless"], (name, text)
        single_spaced = regex.fullmatch(r"\S+(?: \S+)*", text) is not None
        assert stats["whitespace"]["lossless"] == single_spaced, text
