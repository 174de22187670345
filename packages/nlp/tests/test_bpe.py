"""Tests for byte-level BPE: training against a naive full-recount trainer, encoding against tiktoken
and Hugging Face `tokenizers` built from our vocabulary, exact round trips, streaming, errors."""

from __future__ import annotations

import random
from collections import Counter
from itertools import pairwise
from types import SimpleNamespace

import pytest
import regex
import tiktoken
import tokenizers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import masterclass.nlp.bpe as bpe_module
import masterclass.nlp.bpe_training as training_module
from masterclass.nlp import BPETokenizer
from masterclass.nlp.pretokenize import GPT2_PATTERN, GPT4_PATTERN

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim|>"]

PROSE = (
    "It was the best of times, it was the worst of times; it was the age of wisdom. "
    "We'll see—can't say. I'd've thought they're fine! DON'T SHOUT. 1234567 + 3.14159 = ?\n\n"
)


def _varied_text(seed: int = 0) -> str:
    # Code points from many scripts, combining marks, emoji (ZWJ sequences, skin tones, flags),
    # exotic whitespace and digits, and long runs that take the long-piece path of the encoder.
    rng = random.Random(seed)
    ranges = [
        (0x20, 0x7E), (0xA0, 0x17F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
        (0x900, 0x97F), (0x300, 0x36F), (0x3040, 0x30FF), (0x4E00, 0x4F00), (0xAC00, 0xAD00),
        (0x1F300, 0x1F64F), (0x660, 0x669), (0xFF10, 0xFF5A),
    ]  # fmt: skip
    words = []
    for _ in range(3000):
        lo, hi = rng.choice(ranges)
        words.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 8))))
        words.append(
            rng.choice([" ", "  ", "\n", "\t", "\r\n", "\u00a0", "\u2028", "\u3000", "", " \n "])
        )
    emoji = "👨‍👩‍👧‍👦 👍🏽 🇫🇷 ❤️ 🧑🏿‍🚀 e\u0301 ﬁ Ａ²\n"
    runs = " " * 5000 + "a" * 3000 + "\n" + "7" * 2000 + "!" * 1000 + "\n\n\n   \n"
    return "".join(words) + emoji * 20 + PROSE * 20 + runs


@pytest.fixture(scope="module")
def tok(train_texts) -> BPETokenizer:
    return BPETokenizer.train(train_texts, 1500, special_tokens=SPECIALS, num_workers=1)


@pytest.fixture(scope="module")
def tt(tok) -> tiktoken.Encoding:
    return tok.to_tiktoken()


@pytest.fixture(scope="module")
def varied(heldout_texts) -> list[str]:
    return [
        *heldout_texts,
        _varied_text(0),
        PROSE * 50 + "<|endoftext|>" + PROSE + "<|fim|><|fim_prefix|>x",
    ]


# ## Training


def _naive_train(word_counts: dict[bytes, int], vocab_size: int) -> list[bytes]:
    # The textbook algorithm: recount every pair of every word at every merge; take the most frequent
    # pair, the smallest ids on a tie; reuse the id when the merged bytes are already a token.
    vocab = [bytes([i]) for i in range(256)]
    ids = {t: i for i, t in enumerate(vocab)}
    words = {w: list(w) for w in word_counts}
    while len(vocab) < vocab_size:
        counts: dict[tuple[int, int], int] = {}
        for w, seq in words.items():
            for p in pairwise(seq):
                counts[p] = counts.get(p, 0) + word_counts[w]
        if not counts:
            break
        a, b = min(counts, key=lambda p: (-counts[p], p))
        merged = vocab[a] + vocab[b]
        if merged not in ids:
            ids[merged] = len(vocab)
            vocab.append(merged)
        new = ids[merged]
        for w, seq in words.items():
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and seq[i] == a and seq[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            words[w] = out
    return vocab


def test_training_matches_naive_full_recount(train_texts):
    # Same specification, independent algorithm: the vocabularies must be identical, in order.
    texts = [t[:2000] for t in train_texts[:10]]
    counts = training_module.count_pretokens(texts, GPT4_PATTERN, num_workers=1)
    word_counts = {k.encode(): v for k, v in counts.items()}
    ours = BPETokenizer.train(texts, 600, num_workers=1)
    assert ours._vocab == _naive_train(word_counts, 600)


def test_training_handles_merges_into_existing_tokens():
    # "ab"+"c" and "a"+"bc" both give "abc": the second merge must reuse the id, as the naive
    # reference does, and the vocabulary stays duplicate-free.
    wc = {b"abc": 5, b"bc": 4, b"ab": 4, b"xab": 3, b"abcq": 1}
    assert training_module.learn_merges(wc, 270) == _naive_train(wc, 270)


def test_pretoken_counts_match_findall_and_skip_specials(train_texts):
    texts = [t + "<|endoftext|>" for t in train_texts[:5]]
    ours = training_module.count_pretokens(texts, GPT4_PATTERN, ["<|endoftext|>"], num_workers=1)
    ref: dict[str, int] = {}
    for t in texts:
        for piece in regex.findall(GPT4_PATTERN, t.replace("<|endoftext|>", "\0")):
            if piece != "\0":
                ref[piece] = ref.get(piece, 0) + 1
    assert dict(ours) == ref


def test_parallel_streaming_training_is_deterministic(train_texts, monkeypatch):
    # Tiny batches force the process pool and many batches; the result must equal the serial run.
    monkeypatch.setattr(training_module, "_BATCH_CHARS", 20_000)
    texts = train_texts[:20]
    serial = BPETokenizer.train(texts, 700, special_tokens=SPECIALS, num_workers=1)
    parallel = BPETokenizer.train(iter(texts), 700, special_tokens=SPECIALS, num_workers=2)
    assert parallel._vocab == serial._vocab
    assert parallel.special_tokens == serial.special_tokens


def test_special_tokens_are_never_merged(tok):
    assert tok.special_tokens == {s: 1497 + i for i, s in enumerate(SPECIALS)}
    assert not any(b"<|" in t and b"|>" in t for t in tok._vocab)
    assert tok.vocab_size == 1500


def test_training_stops_when_no_pair_is_left():
    # "abc" gives "ab" then "abc"; after that no word has a pair left (a pair whose count fell
    # to 0 must not be merged), so the vocabulary stops at 258, below the 300 asked for.
    wc = {b"abc": 2, b"d": 5}
    vocab = training_module.learn_merges(wc, 300)
    assert vocab == _naive_train(wc, 300) and vocab[256:] == [b"ab", b"abc"]


def test_a_batch_closes_as_soon_as_it_holds_batch_chars(monkeypatch):
    monkeypatch.setattr(training_module, "_BATCH_CHARS", 10)
    texts = ["a" * n for n in (9, 1, 9, 1, 5)]
    batches = [[len(t) for t in b] for b in training_module._batches(texts)]
    assert batches == [[9, 1], [9, 1], [5]]


class _InlinePool:
    """Stands in for a process pool: runs each task at once, and records the number of workers
    asked for and the most tasks submitted but not yet collected."""

    def __init__(self, log: dict, workers: int):
        self.log = log
        log.update(workers=workers, in_flight=0, peak=0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def apply_async(self, fn, args):
        result, log = fn(*args), self.log
        log["in_flight"] += 1
        log["peak"] = max(log["peak"], log["in_flight"])

        def get():
            log["in_flight"] -= 1
            return result

        return SimpleNamespace(get=get)


@pytest.mark.parametrize(
    ("num_workers", "cpus", "pool_workers"),
    [(1, 4, None), (3, 4, 3), (None, 4, 4), (None, None, None)],
)
def test_workers_and_batches_in_flight(monkeypatch, num_workers, cpus, pool_workers):
    # `num_workers=1` counts in this process; None means one per CPU (one if the count is
    # unknown); a pool keeps exactly two batches per worker in flight. Counts: regex.findall.
    log: dict = {}
    fake = SimpleNamespace(
        get_context=lambda method: SimpleNamespace(Pool=lambda n: _InlinePool(log, n))
    )
    monkeypatch.setattr(training_module, "multiprocessing", fake)
    monkeypatch.setattr(training_module.os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(training_module, "_BATCH_CHARS", 10)
    texts = [f"ab cd ef {i:02d}" for i in range(40)]  # 11 characters: one batch each
    got = training_module.count_pretokens(texts, GPT4_PATTERN, num_workers=num_workers)
    assert got == Counter(p for t in texts for p in regex.findall(GPT4_PATTERN, t))
    assert log.get("workers") == pool_workers
    if pool_workers is not None:
        assert log["peak"] == 2 * pool_workers and log["in_flight"] == 0


# ## Encoding against the references


def test_encode_matches_tiktoken_on_varied_text(tok, tt, varied):
    for text in varied:
        assert tok.encode(text, allowed_special="all") == tt.encode(text, allowed_special="all")
        assert tok.encode_ordinary(text) == tt.encode_ordinary(text)


def test_encode_matches_huggingface_tokenizers(tok, varied):
    hf = tokenizers.Tokenizer.from_str(tok.to_hf_json())
    for text in varied:
        assert hf.encode(text).ids == tok.encode(text, allowed_special="all")
    ids = tok.encode(varied[-1], allowed_special="all")
    assert hf.decode(ids, skip_special_tokens=False) == varied[-1]


def test_gpt2_pattern_matches_tiktoken_and_huggingface(train_texts, heldout_texts):
    tok2 = BPETokenizer.train(train_texts[:10], 800, pattern=GPT2_PATTERN, num_workers=1)
    tt2 = tok2.to_tiktoken()
    hf2 = tokenizers.Tokenizer.from_str(tok2.to_hf_json())
    for text in [*heldout_texts[:10], _varied_text(1), "a  \n", "x   ", "  \n\n  y \t"]:
        assert tok2.encode(text) == tt2.encode_ordinary(text) == hf2.encode(text).ids


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200))
def test_any_text_matches_tiktoken_and_round_trips(tok, tt, text):
    ids = tok.encode(text, allowed_special="all")
    assert ids == tt.encode(text, allowed_special="all")
    assert tok.decode(ids) == text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200))
def test_any_bytes_round_trip_and_match_tiktoken_pieces(tok, tt, data):
    # Invalid UTF-8: each maximal invalid run is one piece, valid runs are text. The reference is
    # tiktoken on the same decomposition (`encode_ordinary` and its piece-level `_encode_single_piece`).
    ids = tok.encode_bytes(data)
    assert tok.decode_bytes(ids) == data
    ref = []
    text = data.decode("utf-8", "surrogateescape")
    for i, chunk in enumerate(regex.split(r"([\udc80-\udcff]+)", text)):
        if i % 2 == 0:
            ref += tt.encode_ordinary(chunk)
        else:
            ref += tt._encode_single_piece(chunk.encode("utf-8", "surrogateescape"))
    assert ids == ref


def test_invalid_utf8_inside_text(tok):
    data = "héllo wörld ".encode() + b"\xff\xfe\x80abc" + "日本".encode()[:-1] + b" tail \xc3"
    ids = tok.encode_bytes(data)
    assert tok.decode_bytes(ids) == data
    assert "\ufffd" in tok.decode(ids)


def test_special_token_modes(tok, tt):
    text = "a<|endoftext|>b<|fim|>c"
    assert tok.encode(text, allowed_special="none") == tt.encode_ordinary(text)
    only = tok.encode(text, allowed_special={"<|fim|>"}, disallowed_special=())
    assert only == tt.encode(text, allowed_special={"<|fim|>"}, disallowed_special=())
    assert tok.special_tokens["<|fim|>"] in only and tok.special_tokens["<|endoftext|>"] not in only


def test_longest_special_token_wins():
    base = BPETokenizer.train(["hello world"], 258, special_tokens=["<|a|>", "<|a|>b"])
    assert base.encode("<|a|>b<|a|>", allowed_special="all") == [
        base.special_tokens["<|a|>b"],
        base.special_tokens["<|a|>"],
    ]


def test_special_tokens_in_text_are_refused_by_default_like_tiktoken(tok, tt):
    # tiktoken's safe default: a special token's string in the text is an error unless the caller
    # allows it (as a control token) or disallows nothing (encodes it as text). Ours must agree
    # on every combination, and the message must say what to do.
    text = "user says <|endoftext|> and <|fim|>"
    with pytest.raises(ValueError):
        tt.encode(text)
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>'.*allowed_special"):
        tok.encode(text)
    with pytest.raises(ValueError, match="fim"):
        tok.encode(text, allowed_special={"<|endoftext|>"})
    with pytest.raises(ValueError, match="endoftext"):
        list(tok.encode_iterable(iter([text[:12], text[12:]])))
    assert tok.encode(text, disallowed_special=()) == tt.encode(text, disallowed_special=())
    assert tok.encode(text, allowed_special="none") == tt.encode_ordinary(text)
    assert tok.encode(text, allowed_special="all") == tt.encode(text, allowed_special="all")
    assert tok.encode("no specials here") == tt.encode("no specials here")
    one = {"<|fim|>"}
    assert tok.encode(text, allowed_special=one, disallowed_special=()) == tt.encode(
        text, allowed_special=one, disallowed_special=()
    )
    with pytest.raises(ValueError, match=r"unknown special tokens.*disallowed_special"):
        tok.encode("x", disallowed_special={"<|nope|>"})


def test_encode_batch(tok, heldout_texts):
    assert tok.encode_batch(heldout_texts[:3]) == [tok.encode(t) for t in heldout_texts[:3]]


# ## Streaming


_STREAM_UNITS = [" ", "\n", "\r", "\t", "a", "Z", "1", "!", "'", "l", "<|fim|>", "<|", "é"]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pieces=st.lists(
        st.lists(st.sampled_from(_STREAM_UNITS), max_size=12).map("".join),
        max_size=40,
    )
)
def test_encode_iterable_equals_encode(tok, monkeypatch, pieces):
    # A tiny buffer forces a cut after nearly every line, at whitespace, digits, contractions and
    # special tokens: the stream must still encode exactly like the joined text.
    monkeypatch.setattr(bpe_module, "_STREAM_CHARS", 3)
    whole = tok.encode("".join(pieces), allowed_special="all")
    assert list(tok.encode_iterable(pieces, allowed_special="all")) == whole


def test_encode_iterable_on_a_file(tok, heldout_texts, tmp_path):
    path = tmp_path / "corpus.txt"
    text = "<|endoftext|>".join(heldout_texts[:5])
    path.write_text(text, encoding="utf-8")
    with open(path, encoding="utf-8", newline="") as f:
        assert list(tok.encode_iterable(f, allowed_special="all")) == tok.encode(
            text, allowed_special="all"
        )


# ## Persistence


def test_save_load_round_trip(tok, varied, tmp_path):
    path = tmp_path / "tok.json"
    tok.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded.special_tokens == tok.special_tokens and loaded.pattern == tok.pattern
    assert loaded.encode(varied[-2], allowed_special="all") == tok.encode(
        varied[-2], allowed_special="all"
    )
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="not a masterclass-bpe"):
        BPETokenizer.load(path)
    path.write_text("not json")
    with pytest.raises(ValueError, match="not a masterclass-bpe"):
        BPETokenizer.load(path)


# ## Bad input


def test_errors_are_clear(tok):
    with pytest.raises(ValueError, match=r"at least 256 \+ 2 special tokens = 258"):
        BPETokenizer.train(["abc"], 257, special_tokens=["<a>", "<b>"])
    with pytest.raises(ValueError, match="empty corpus"):
        BPETokenizer.train([], 300)
    with pytest.raises(ValueError, match="empty corpus"):
        BPETokenizer.train(["", ""], 300)
    with pytest.raises(TypeError, match="not a single string"):
        BPETokenizer.train("some text", 300)
    with pytest.raises(ValueError, match="distinct non-empty"):
        BPETokenizer.train(["abc"], 300, special_tokens=["<a>", "<a>"])
    with pytest.raises(ValueError, match="unknown special tokens"):
        tok.encode("x", allowed_special={"<|nope|>"})
    for bad in ([tok.vocab_size], [-1], [0, 10**9]):
        with pytest.raises(ValueError, match="cannot decode ids"):
            tok.decode(bad)
