r"""# The byte-level BPE tokenizer

A trained BPE vocabulary is a list of byte strings $t_0, t_1, \dots$ in the order they were learned:
the 256 single bytes, then one token per merge. The index is at once the token id and the **rank**:
lower rank means learned earlier, i.e. more frequent. Encoding a pre-token (a piece of text cut by
the split pattern) repeats one rule, the one `tiktoken` implements:

> start from the piece's bytes; while some adjacent pair $(x, y)$ has $xy$ in the vocabulary, merge
> the pair whose concatenation has the lowest rank (the leftmost one on a tie).

and, as a shortcut, a piece that is itself a token is that token.

**Why the lowest rank first.** Training defined the tokenization of its corpus *procedurally*:
apply merge 0 everywhere, then merge 1, and so on. Encoding a new piece must reproduce that
procedure, and the rank rule does, without looping over all $M$ merges:

1. A token created by merge $r$ did not exist before step $r$, so every pair that contains it was
   counted, and merged, later: its rank is greater than $r$.
2. So merging the lowest-rank pair present, say rank $r$, can only create pairs of rank $> r$.
   The ranks merged by the rule never decrease, and no pair of rank $< r$ can appear later.
3. Hence the rule applies the merges in exactly the training order, each at every place it
   applies (leftmost first, as training's left-to-right replacement does for overlaps like
   `aaa`). Merges whose pair never occurs are skipped at no cost.

**A hand trace** (the example of Wikipedia's BPE article). Train on `aaabdaaabac` up to 259 ids:
the pair counts are `aa` 4, `ab` 2, `bd` 1, ...; so merge 0 (id 256) is `aa`. Now the word is
`aa a b d aa a b a c`; `(aa, a)` and `(a, b)` both occur twice, and the tie goes to the smaller
ids, `(97, 98)`: merge 1 (id 257) is `ab`. The word is `aa ab d aa ab a c`, and merge 2 (id 258)
is `(aa, ab)` = `aaab`. Encoding the same string with the rank rule retraces the three steps:

![BPE merge trace on aaabdaaabac](figures/bpe_merges.png)

>>> tok = BPETokenizer.train(["aaabdaaabac"], 259)
>>> [tok.token_bytes(i) for i in (256, 257, 258)]
[b'aa', b'ab', b'aaab']
>>> [tok.token_bytes(i) for i in tok.encode("aaabdaaabac")]
[b'aaab', b'd', b'aaab', b'a', b'c']

The encoder then has three layers,
from outside in:

1. **special tokens** (`<|endoftext|>`...) are found first, longest match first, and map straight to
   their ids; they never take part in merges. Only the ones the caller allows count: by default
   `encode` refuses text that contains a special token, as `tiktoken` does, because a tokenizer
   that obeys control tokens typed by a user lets the user forge them (see "Special tokens in
   untrusted text" below);
2. the text between them is cut into pre-tokens by the split regex;
3. each pre-token goes through the rank rule, memoised in a cache, since the same pieces
   (`" the"`, `"self"`, `"    "`) recur constantly: on real text more than 95% of lookups hit.

Decoding concatenates the tokens' bytes: `decode_bytes(encode_bytes(b)) == b` for **any** byte
string, including invalid UTF-8 (bytes that are not UTF-8 are carried through Python's
`surrogateescape` and encoded as their own pieces), and `decode` turns bytes into text with
`errors="replace"`, because a slice of ids can end in the middle of a character.

The vocabulary is saved as JSON (`save`/`load`, format below) and exported to a `tiktoken.Encoding`
and to a Hugging Face `tokenizers` JSON, both of which encode to identical ids (the tests check it
on code, prose, Unicode and emoji).

References: [Sennrich et al. (2016)](https://arxiv.org/abs/1508.07909); [Radford et al. (2019,
GPT-2, byte-level)](https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf);
`tiktoken`'s `_byte_pair_merge`; Karpathy's [minbpe](https://github.com/karpathy/minbpe).
Training is the [previous chapter](bpe_training.md). Left out: BPE-dropout, and offsets
(character spans) of tokens.

## Exercises

1. Write `most_frequent_pair(word_counts)`: given `{word_bytes: count}`, return the pair of
   adjacent byte values `(a, b)` that training merges first (highest weighted count; on a tie
   the smallest `(a, b)`). Check it: `uv run pytest --exercise nlp.bpe`.
2. Write `merge(ids, pair, new_id)`: replace every occurrence of `pair` in the list `ids`, left to
   right, by `new_id` (so `merge([1, 1, 1], (1, 1), 9) == [9, 1]`). Check it:
   `uv run pytest --exercise nlp.bpe`.
3. Write `encode_piece(piece, ranks)`: the rank rule on one pre-token, where `ranks` maps each
   token's bytes to its id (the 256 single bytes included); return the ids. Check it (against
   tiktoken): `uv run pytest --exercise nlp.bpe`.
"""

from __future__ import annotations

import base64
import heapq
import json
import os
import tempfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import regex

from masterclass.nlp.bpe_training import count_pretokens, learn_merges
from masterclass.nlp.pretokenize import GPT4_PATTERN

if TYPE_CHECKING:
    import tiktoken

__all__ = ["BPETokenizer"]

AllowedSpecial = Literal["all", "none"] | Collection[str]

# The cache holds at most this many pre-tokens, then starts afresh: bounded memory on endless streams.
_CACHE_MAX = 1 << 18
# Pieces longer than this go through the heap version of the merge rule ($O(n \log n)$, not $O(n^2)$).
_LONG_PIECE = 48
# `encode_iterable` encodes its buffer once it holds this many characters.
_STREAM_CHARS = 1 << 16
_FORMAT = "masterclass-bpe"
# Larger than any rank: marks an adjacent pair that is not a token.
_NO_RANK = 1 << 62


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2's reversible map from bytes to printable characters, which the Hugging Face byte-level
    # models use as their alphabet: printable Latin-1 bytes map to themselves, the others to
    # code points from 256 up, in order.
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


# ## The tokenizer
#
# The state is the vocabulary (bytes by id), the special tokens and the split pattern; the rank
# table, the decoder and the caches are derived from them.
class BPETokenizer:
    """A byte-level BPE tokenizer: train, encode, decode, save, load, export.

    Args:
        vocab: the mergeable tokens as byte strings, index = id = rank; must contain all 256 single
            bytes and no duplicates.
        special_tokens: special strings and their ids (ids must follow the vocabulary).
        pattern: the pre-tokenization regex.

    >>> tok = BPETokenizer.train(["low lower lowest"] * 10, 260, special_tokens=["<|eot|>"])
    >>> tok.vocab_size, tok.special_tokens
    (260, {'<|eot|>': 259})
    >>> ids = tok.encode("lower<|eot|>", allowed_special={"<|eot|>"})
    >>> ids[-1], tok.decode(ids)
    (259, 'lower<|eot|>')
    """

    def __init__(
        self,
        vocab: Sequence[bytes],
        special_tokens: dict[str, int] | None = None,
        pattern: str = GPT4_PATTERN,
    ) -> None:
        # `_vocab[i]` is the bytes of id `i` and `_ranks` its inverse: an id is also a merge
        # rank, so lower ids merge first. A valid vocabulary has no duplicates and all 256 bytes.
        self._vocab: list[bytes] = list(vocab)
        self._ranks: dict[bytes, int] = {tok: i for i, tok in enumerate(self._vocab)}
        if len(self._ranks) != len(self._vocab):
            raise ValueError("vocab has duplicate byte strings; each token must be unique")
        missing = [b for b in range(256) if bytes([b]) not in self._ranks]
        if missing:
            raise ValueError(f"vocab must contain all 256 single bytes; missing {missing[:8]}...")
        # Special ids form one block right after the vocabulary; the decoder appends their UTF-8
        # bytes, and the caches start empty.
        specials = dict(special_tokens or {})
        n = len(self._vocab)
        if sorted(specials.values()) != list(range(n, n + len(specials))):
            raise ValueError(
                f"special token ids must be {n}..{n + len(specials) - 1} (after the vocabulary), "
                f"got {sorted(specials.values())}"
            )
        if any(not s for s in specials):
            raise ValueError("special tokens must be non-empty strings")
        self.special_tokens: dict[str, int] = specials
        self.pattern = pattern
        self._pat = regex.compile(pattern)
        # Decoding table: every id's bytes, special tokens included.
        self._decoder: list[bytes] = self._vocab + [
            s.encode("utf-8") for s, _ in sorted(specials.items(), key=lambda kv: kv[1])
        ]
        self._cache: dict[str, list[int]] = {}
        self._special_regex: dict[frozenset[str], regex.Pattern | None] = {}

    # ## Training
    #
    # Counting and merging live in `bpe_training`; here we check the arguments and assemble the
    # tokenizer. The special tokens take the last ids, so the merge ranks stay contiguous from 0.
    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        *,
        special_tokens: Sequence[str] = (),
        pattern: str = GPT4_PATTERN,
        num_workers: int | None = None,
    ) -> BPETokenizer:
        """Learn a vocabulary of `vocab_size` ids (special tokens included) from a stream of texts.

        Streaming: `texts` is consumed once and memory grows with the number of distinct
        pre-tokens. Pre-tokenization runs on `num_workers` processes (default: one per CPU).
        Stops early, with a smaller vocabulary, if every pre-token becomes a single token.
        """
        # Check the arguments first: a bare string would iterate as characters, and the
        # vocabulary must have room for the 256 single bytes plus every special token.
        if isinstance(texts, str | bytes):
            raise TypeError(
                "texts must be an iterable of strings, not a single string; wrap it in a list"
            )
        specials = list(special_tokens)
        if len(set(specials)) != len(specials) or any(
            not isinstance(s, str) or not s for s in specials
        ):
            raise ValueError(f"special_tokens must be distinct non-empty strings, got {specials!r}")
        if not isinstance(vocab_size, int) or vocab_size < 256 + len(specials):
            raise ValueError(
                f"vocab_size must be at least 256 + {len(specials)} special tokens = "
                f"{256 + len(specials)}, got {vocab_size!r}"
            )
        # Count pre-tokens on worker processes, turn each into its UTF-8 bytes (`surrogatepass`
        # keeps lone surrogates encodable), and learn merges for the ids the specials leave.
        counts = count_pretokens(texts, pattern, specials, num_workers)
        if not counts:
            raise ValueError("cannot train on an empty corpus: texts yielded no characters")
        word_counts: dict[bytes, int] = {}
        for piece, c in counts.items():
            key = piece.encode("utf-8", "surrogatepass")
            word_counts[key] = word_counts.get(key, 0) + c
        vocab = learn_merges(word_counts, vocab_size - len(specials))
        return cls(vocab, {s: len(vocab) + i for i, s in enumerate(specials)}, pattern)

    @property
    def vocab_size(self) -> int:
        """Number of ids: mergeable tokens plus special tokens."""
        return len(self._decoder)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one id."""
        return self.decode_bytes([token_id])

    # ## The merge rule on one pre-token
    #
    # Short pieces (almost all) use the direct loop: find the lowest-rank adjacent pair, merge it,
    # repeat, $O(n^2)$ for $n$ bytes. Long pieces (a run of 10,000 spaces, minified data) use a heap
    # of candidate pairs keyed by (rank, start position) over a linked list of parts, with stale
    # entries skipped, which applies the same merges in the same order in $O(n \log n)$.
    def _encode_piece(self, piece: bytes) -> list[int]:
        ranks = self._ranks
        tok = ranks.get(piece)
        if tok is not None:
            return [tok]
        if len(piece) > _LONG_PIECE:
            return self._encode_long_piece(piece)
        # `pair_ranks[i]` is the rank of `parts[i] + parts[i+1]` (or a sentinel): `min` and
        # `index` scan it in C, and a merge recomputes only the two neighbouring entries.
        parts = [piece[i : i + 1] for i in range(len(piece))]
        none = _NO_RANK
        pair_ranks = [ranks.get(piece[i : i + 2], none) for i in range(len(piece) - 1)]
        while pair_ranks:
            best = min(pair_ranks)
            if best == none:
                break
            i = pair_ranks.index(best)  # the leftmost pair of lowest rank
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
            del pair_ranks[i]
            if i > 0:
                pair_ranks[i - 1] = ranks.get(parts[i - 1] + parts[i], none)
            if i < len(pair_ranks):
                pair_ranks[i] = ranks.get(parts[i] + parts[i + 1], none)
        return [ranks[p] for p in parts]

    # The heap version: `parts[i]` holds the bytes of the live part that starts at byte `i` (None
    # once merged into its left neighbour), `nxt` and `prv` link the live parts, and the heap
    # starts with every adjacent byte pair that is a token.
    def _encode_long_piece(self, piece: bytes) -> list[int]:
        ranks = self._ranks
        n = len(piece)
        parts: list[bytes | None] = [piece[i : i + 1] for i in range(n)]
        nxt = list(range(1, n + 1))
        prv = list(range(-1, n - 1))
        heap = []
        for i in range(n - 1):
            r = ranks.get(piece[i : i + 2])
            if r is not None:
                heap.append((r, i))
        heapq.heapify(heap)
        # Pop the best pair. An entry is stale if either side changed since it was pushed, which
        # re-checking its rank detects. A merge links past the right part and pushes the two new
        # pairs it forms with its neighbours.
        while heap:
            r, i = heapq.heappop(heap)
            j = nxt[i]
            if parts[i] is None or j >= n or ranks.get(parts[i] + parts[j]) != r:
                continue  # stale: one side was merged away since this entry was pushed
            parts[i] = parts[i] + parts[j]
            parts[j] = None
            nxt[i] = nxt[j]
            if nxt[j] < n:
                prv[nxt[j]] = i
            for left, right in ((prv[i], i), (i, nxt[i])):
                if left >= 0 and right < n:
                    rr = ranks.get(parts[left] + parts[right])
                    if rr is not None:
                        heapq.heappush(heap, (rr, left))
        return [ranks[p] for p in parts if p is not None]

    # ## Encoding text
    #
    # The hot path runs almost entirely in C: `findall` applies the split regex, a set difference
    # finds the pieces not yet in the cache (only those reach the merge rule), `map(cache.get, ...)`
    # looks up every piece, and `chain` flattens the result.
    def encode_ordinary(self, text: str) -> list[int]:
        """Encode `text`, treating special-token strings as ordinary text."""
        pieces = self._pat.findall(text)
        cache = self._cache
        missing = set(pieces).difference(cache)
        if missing:
            if len(cache) + len(missing) > _CACHE_MAX:
                cache.clear()
                missing = set(pieces)
            for piece in missing:
                cache[piece] = self._encode_piece(piece.encode("utf-8", "surrogatepass"))
        return list(chain.from_iterable(map(cache.__getitem__, pieces)))

    # One alternation per set of allowed specials, longest first so that a token that contains
    # another wins the match; each is compiled once and kept.
    def _specials_matcher(self, allowed_special: AllowedSpecial) -> regex.Pattern | None:
        if allowed_special == "all":
            allowed = frozenset(self.special_tokens)
        elif allowed_special == "none":
            allowed = frozenset()
        else:
            allowed = self._known_specials(allowed_special, "allowed_special")
        if allowed not in self._special_regex:
            longest_first = sorted(allowed, key=len, reverse=True)
            self._special_regex[allowed] = (
                regex.compile("|".join(regex.escape(s) for s in longest_first)) if allowed else None
            )
        return self._special_regex[allowed]

    # ## Special tokens in untrusted text
    #
    # A special token is a control signal: `<|endoftext|>` ends a document, a chat template's
    # `<|im_start|>` opens a turn. If `encode` turned every occurrence of those strings in *any*
    # text into their ids, a user could type `<|im_start|>system` into a chat box and forge a turn
    # of the template: a prompt injection done by the tokenizer. So, like `tiktoken`, `encode`
    # allows no special token by default and refuses text that contains one (`disallowed_special`
    # = `"all"`, every special not allowed): the caller decides. Code that assembles its own
    # control tokens passes `allowed_special={"<|endoftext|>"}` (or `"all"`) for text it trusts;
    # code that encodes user text passes `allowed_special="none"`, which encodes the strings as
    # ordinary bytes, the ids `encode_ordinary` gives.
    def _check_disallowed(
        self, text: str, allowed: regex.Pattern | None, disallowed_special: AllowedSpecial
    ) -> None:
        if disallowed_special == "all":
            banned = [s for s in self.special_tokens if allowed is None or not allowed.fullmatch(s)]
        elif disallowed_special == "none":
            banned = []
        else:
            banned = list(self._known_specials(disallowed_special, "disallowed_special"))
        for token in banned:
            if token in text:
                raise ValueError(
                    f"text contains the special token {token!r}, which encode does not allow by "
                    f"default (a user could inject it). Pass allowed_special={{{token!r}}} (or "
                    f"'all') if the text is trusted and the token is meant as a control token, or "
                    f"allowed_special='none' to encode it as ordinary text"
                )

    # A set of named special tokens must name only tokens this tokenizer has. A bare string is
    # refused: as a collection it would be its characters.
    def _known_specials(self, tokens: Collection[str], argument: str) -> frozenset[str]:
        if not isinstance(tokens, Collection) or isinstance(tokens, str):
            raise ValueError(f"{argument} must be 'all', 'none' or a set, got {tokens!r}")
        unknown = set(tokens) - set(self.special_tokens)
        if unknown:
            raise ValueError(
                f"unknown special tokens {sorted(unknown)!r} in {argument}; this tokenizer has "
                f"{sorted(self.special_tokens)!r}"
            )
        return frozenset(tokens)

    # `encode` puts the two policies together: `allowed_special` picks the tokens that become ids,
    # `disallowed_special` the ones whose presence is an error.
    def encode(
        self,
        text: str,
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> list[int]:
        """Encode `text`; occurrences of allowed special tokens become their ids.

        `allowed_special` is a set of special-token strings (default: none), `"all"`, or `"none"`
        (special-token strings are ordinary text, and nothing is refused). `disallowed_special`
        (default `"all"`: every special token not allowed) names the tokens whose presence in
        `text` is a `ValueError`, as in `tiktoken`; pass `"none"` or `()` to encode them as text.
        Naming a token this tokenizer does not have is a `ValueError`.

        >>> tok = BPETokenizer.train(["a b c"] * 4, 260, special_tokens=["<|eot|>"])
        >>> tok.encode("a<|eot|>", allowed_special={"<|eot|>"})[-1] == tok.special_tokens["<|eot|>"]
        True
        >>> len(tok.encode("a<|eot|>", allowed_special="none"))  # as text: 8 bytes' pieces
        8
        >>> tok.encode("a<|eot|>")
        Traceback (most recent call last):
        ...
        ValueError: text contains the special token '<|eot|>', which encode does not allow by default ...
        """
        # Refuse first, then cut the text at each allowed special token: the gaps are ordinary
        # text, each match is a single id.
        matcher = self._specials_matcher(allowed_special)
        if allowed_special != "none":
            self._check_disallowed(text, matcher, disallowed_special)
        if matcher is None:
            return self.encode_ordinary(text)
        ids: list[int] = []
        start = 0
        for m in matcher.finditer(text):
            ids += self.encode_ordinary(text[start : m.start()])
            ids.append(self.special_tokens[m.group()])
            start = m.end()
        ids += self.encode_ordinary(text[start:])
        return ids

    # The batch and byte variants reuse the same machinery. `encode_bytes` decodes with
    # `surrogateescape`, so each invalid byte survives as a lone surrogate; the split isolates
    # those runs, and they are merged as raw bytes.
    def encode_batch(
        self,
        texts: Iterable[str],
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> list[list[int]]:
        """Encode each text of `texts` (the arguments mean what they mean for `encode`)."""
        return [self.encode(t, allowed_special, disallowed_special) for t in texts]

    def encode_bytes(self, data: bytes) -> list[int]:
        """Encode arbitrary bytes (no special tokens); `decode_bytes` gives back exactly `data`.

        Valid UTF-8 runs are encoded as text; each maximal run of invalid bytes is one piece.
        """
        text = data.decode("utf-8", "surrogateescape")
        ids: list[int] = []
        for i, chunk in enumerate(regex.split(r"([\udc80-\udcff]+)", text)):
            if i % 2 == 0:
                ids += self.encode_ordinary(chunk)
            else:
                ids += self._encode_piece(chunk.encode("utf-8", "surrogateescape"))
        return ids

    # ## Streaming
    #
    # `encode_iterable` must give the ids that `encode` would give on the concatenated text, without
    # holding it. It buffers about 64k characters, encodes them, and carries over the part that more
    # text could still change: the last pre-token (a run of letters may continue), the whitespace
    # pieces just before it (`\s*[\r\n]` can absorb them into a longer newline run), and a tail that
    # could be the beginning of a special token.
    def encode_iterable(
        self,
        lines: Iterable[str],
        allowed_special: AllowedSpecial = frozenset(),
        disallowed_special: AllowedSpecial = "all",
    ) -> Iterator[int]:
        """Lazily encode a stream of strings (e.g. an open file) in bounded memory.

        Yields the same ids as `encode("".join(lines), allowed_special, disallowed_special)`
        (and raises the same `ValueError` for a disallowed special token, once it is reached).
        """
        matcher = self._specials_matcher(allowed_special)
        # A buffer's tail that could begin a special token, allowed or refused, waits for more text.
        watched = self.special_tokens if allowed_special != "none" else {}
        prefixes = {s[:k] for s in watched for k in range(1, len(s))}
        parts: list[str] = []
        size = 0
        for line in lines:
            parts.append(line)
            size += len(line)
            if size < _STREAM_CHARS:
                continue
            buf = "".join(parts)
            cut = self._stable_prefix(buf, matcher, prefixes)
            yield from self.encode(buf[:cut], allowed_special, disallowed_special)
            parts, size = [buf[cut:]], len(buf) - cut
        yield from self.encode("".join(parts), allowed_special, disallowed_special)

    def _stable_prefix(self, buf: str, matcher: regex.Pattern | None, prefixes: set[str]) -> int:
        # Where to cut `buf` so that the head encodes as it would inside the whole stream.
        # First hold back a tail that could be the start of a special token.
        end = len(buf)
        for k in range(min(len(buf), max(map(len, prefixes), default=0)), 0, -1):
            if buf[-k:] in prefixes:
                end = len(buf) - k
                break
        # Then split from the last special token on (a special token ends every piece), and hold
        # back the last piece with the whitespace pieces just before it.
        seg_start = 0
        if matcher is not None:
            for m in matcher.finditer(buf, 0, end):
                seg_start = m.end()
        pieces = self._pat.findall(buf, seg_start, end)
        cut = end
        if pieces:
            cut -= len(pieces[-1])
            for piece in reversed(pieces[:-1]):
                if not piece.isspace():
                    break
                cut -= len(piece)
        return cut

    # ## Decoding
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Concatenate the bytes of `ids`; a `ValueError` names any id outside `0..vocab_size-1`."""
        table = self._decoder
        ids = list(ids)
        try:
            if ids and min(ids) < 0:
                raise IndexError
            return b"".join([table[i] for i in ids])
        except (IndexError, TypeError):
            bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < len(table)][:5]
            raise ValueError(
                f"cannot decode ids {bad!r}: valid ids are integers 0..{len(table) - 1}"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """Decode to text; bytes that are not valid UTF-8 become U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # ## Saving and loading
    #
    # The file is JSON, readable and diffable:
    #
    # ```
    # {"format": "masterclass-bpe", "version": 1,
    #  "pattern": "<split regex>",
    #  "vocab": ["<base64 of token 0>", "<base64 of token 1>", ...],   # index = id = rank
    #  "special_tokens": {"<|endoftext|>": 8191}}
    # ```
    #
    # Token bytes are base64 because tokens need not be valid UTF-8. It is written to a temporary
    # file in the same folder and renamed into place, so an interrupted save never leaves half a file.
    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer to `path` in the JSON format above."""
        path = Path(path)
        doc = {
            "format": _FORMAT,
            "version": 1,
            "pattern": self.pattern,
            "vocab": [base64.b64encode(t).decode("ascii") for t in self._vocab],
            "special_tokens": self.special_tokens,
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f, ensure_ascii=False)
            # Module 9 and later share one version: `masterclass.infra.atomic.atomic_write`.
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        """Read a tokenizer written by `save`."""
        with open(path, encoding="utf-8") as f:
            try:
                doc = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path} is not a {_FORMAT} JSON file: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT or doc.get("version") != 1:
            raise ValueError(f"{path} is not a {_FORMAT} version 1 file")
        vocab = [base64.b64decode(t) for t in doc["vocab"]]
        return cls(vocab, doc["special_tokens"], doc["pattern"])

    # ## Exports
    #
    # tiktoken's `Encoding` takes exactly our representation: token bytes → rank, the split pattern
    # and the special tokens.
    def to_tiktoken(self, name: str = "masterclass-bpe") -> tiktoken.Encoding:
        """A `tiktoken.Encoding` with this vocabulary (needs the `tiktoken` package)."""
        import tiktoken

        return tiktoken.Encoding(
            name,
            pat_str=self.pattern,
            mergeable_ranks=dict(self._ranks),
            special_tokens=dict(self.special_tokens),
        )

    # Hugging Face's BPE model applies a list of *pairs* by rank, while our rule merges any adjacent
    # pair whose concatenation is a token. We export every split $t = xy$ of every token into two
    # tokens as a merge, ordered by the rank of $t$: the candidate pairs are then the same as ours and
    # the lowest-rank pair wins in both. `ignore_merges` gives the whole-piece shortcut. Token strings
    # use GPT-2's byte-to-character map, with the `ByteLevel` pre-tokenizer and decoder. One dialect
    # difference: in Oniguruma (the regex engine of `tokenizers`) `X{1,3}+` is not possessive but
    # "one or more runs of one to three", so `\p{N}{1,3}+` would swallow a whole number. We drop the
    # `+` after a counted repetition; where it ends an alternative, as in the GPT-4 pattern, greedy
    # and possessive match the same text.
    def to_hf_json(self) -> str:
        """A Hugging Face `tokenizers` `tokenizer.json` (as a string) that encodes identically."""
        b2u = _bytes_to_unicode()
        hf_pattern = regex.sub(r"(\{\d+(?:,\d*)?\})\+", r"\1", self.pattern)

        def show(t: bytes) -> str:
            return "".join(b2u[b] for b in t)

        # Every split of a token into two tokens is a merge; walking the vocabulary in id order
        # lists them by the rank of the token they make. Specials are added tokens, matched whole.
        merges = []
        for tok in self._vocab:
            for k in range(1, len(tok)):
                if tok[:k] in self._ranks and tok[k:] in self._ranks:
                    merges.append([show(tok[:k]), show(tok[k:])])
        added = [
            {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for s, i in sorted(self.special_tokens.items(), key=lambda kv: kv[1])
        ]  # fmt: skip
        # The pipeline: split with the dialect-safe pattern, map bytes to GPT-2 characters, then
        # BPE with `ignore_merges`, so a piece that is already a token is taken whole.
        doc = {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": hf_pattern}, "behavior": "Isolated", "invert": False},
                    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
                ],
            },
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            "model": {
                "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                "ignore_merges": True,
                "vocab": {show(t): i for i, t in enumerate(self._vocab)},
                "merges": merges,
            },
        }  # fmt: skip
        return json.dumps(doc, ensure_ascii=False)
