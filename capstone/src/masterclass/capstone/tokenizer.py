r"""# Stage 2 · The tokenizer: byte-level BPE on the train split

The model reads token ids, so the first thing learned from the corpus is the vocabulary:
`nlp`'s byte-level BPE (`masterclass.nlp.BPETokenizer`, see Module 5 for the algorithm), trained
on the **train split only** (a tokenizer fitted on held-out text would leak it: its merges would
make the held-out text look more regular than unseen text is). The vocabulary has
`vocab_size` ids: the 256 bytes, `vocab_size − 257` merges, and one special token,
`<|endoftext|>`, which separates documents in the token stream.

**Why a small vocabulary.** A larger vocabulary makes sequences shorter (more bytes per token) but
costs $V \cdot d_{model}$ parameters in both the embedding and the output layer, and spreads the
training signal over more rare tokens, and on a CPU the output head and its softmax over $V$ are
a large part of every step. At width 128 a 2,048-token vocabulary makes the embedding and the
head over a third of the model's weights; in the same eight minutes 4,096 scored alike per byte
with a slower step and 1,024 did worse, its tokens carrying 2.6 bytes instead of 3.1 (see the
config chapter and `bench/results/preset.txt`).

**Invalid UTF-8.** The trainer counts pre-tokens of text, so documents are decoded with
`errors="replace"` for training only: an invalid byte counts as U+FFFD in the merge statistics.
Encoding (the data stage) uses `encode_bytes`, which carries invalid bytes through
`surrogateescape` as their own pieces, so every document's bytes come back exactly from
`decode_bytes`. The statistics here tell how well the vocabulary compresses: bytes per token on a
sample of each split (held-out close to train means the merges generalise).

**Bytes per token and bits per byte.** If the model's loss is $\ell$ nats per token and the
tokenizer packs $\bar b$ bytes into a token on average, then over $N$ tokens the text costs
$N\ell / \ln 2$ bits for $N \bar b$ bytes:
$$ \mathrm{bpb} = \frac{\ell}{\bar b \ln 2}. $$
A vocabulary with longer tokens raises the loss per token (each prediction carries more text)
without changing what the text costs, which is why runs with different tokenizers are compared
in bits per byte, never in loss per token ([the measuring chapter](measure.md) counts it
exactly).

**A worked example.** A vocabulary of 270 ids trained on two small functions: the first merges
are the pairs that recur (`"  "`, `" b"`, `" a"`), and a function the tokenizer never saw still
comes out in pieces longer than a byte, though fewer bytes per token than the training text:

>>> train = ["def add(a, b):\n    return a + b\n\n" * 8, "def sub(a, b):\n    return a - b\n"]
>>> tok = BPETokenizer.train(train, 270, special_tokens=[END_OF_TEXT])
>>> tok.vocab_size, tok.special_tokens
(270, {'<|endoftext|>': 269})
>>> [tok.token_bytes(i) for i in range(256, 259)]
[b'  ', b' b', b' a']
>>> unseen = b"def mul(a, b):\n    return a * b\n"
>>> [tok.token_bytes(i) for i in tok.encode_bytes(unseen)][:8]
[b'de', b'f', b' ', b'm', b'u', b'l', b'(a', b',']
>>> round(bytes_per_token(tok, [train[0].encode()]), 2), round(bytes_per_token(tok, [unseen]), 2)
(1.83, 1.78)

## Exercises

1. Write `bits_per_byte(loss, bytes_per_token)`: the rate above, from a mean loss in nats per
   token and the mean bytes per token. Check it against a cross-entropy computed in numpy:
   `uv run pytest --exercise capstone.tokenizer`.
2. Write `bytes_per_token(tok, documents)`: the documents' total bytes over the number of tokens
   `tok.encode_bytes` makes of them. Check it against tiktoken's count with the same vocabulary:
   `uv run pytest --exercise capstone.tokenizer`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from masterclass.capstone.config import END_OF_TEXT, TokenizerConfig
from masterclass.capstone.run_folder import TOKENIZER_FILE, CorpusSplit, RunFolder
from masterclass.nlp.bpe import BPETokenizer

# Bytes of each split encoded to measure bytes per token.
_SAMPLE_BYTES = 1 << 20


# BPE training takes `str`s: bytes that are not valid UTF-8 become U+FFFD here, while the trained
# tokenizer itself encodes any bytes.
def _texts(split: CorpusSplit, progress=None) -> Iterator[str]:
    for doc in split:
        if progress is not None:
            progress(len(doc))
        yield doc.decode("utf-8", "replace")


# Compression rate on a sample: enough documents to pass `limit` bytes, whole documents only.
def bytes_per_token(tok: BPETokenizer, split: CorpusSplit, limit: int = _SAMPLE_BYTES) -> float:
    """Average bytes per token over the first `limit` bytes of documents of `split`."""
    n_bytes = n_tokens = 0
    for doc in split:
        n_bytes += len(doc)
        n_tokens += len(tok.encode_bytes(doc))
        if n_bytes >= limit:
            break
    return n_bytes / max(n_tokens, 1)


def run_tokenizer(
    cfg: TokenizerConfig, run: RunFolder, out: Path, *, progress=None
) -> dict[str, Any]:
    """The tokenizer stage: train BPE on the train split, save it in `out`, return statistics."""
    # Training sees the train split only; the end-of-text token is reserved before the merges.
    train = run.corpus_split("train")
    start = time.perf_counter()
    tok = BPETokenizer.train(
        _texts(train, progress),
        cfg.vocab_size,
        special_tokens=[END_OF_TEXT],
        num_workers=cfg.num_workers,
    )
    seconds = time.perf_counter() - start
    tok.save(out / TOKENIZER_FILE)
    # Statistics: speed, bytes per token on both splits (close values mean the merges generalise),
    # and the ten longest tokens, which show what the corpus repeats most.
    longest = sorted(
        (tok.token_bytes(i) for i in range(tok.vocab_size - 1)), key=len, reverse=True
    )[:10]
    return {
        "vocab_size": tok.vocab_size,
        "requested_vocab_size": cfg.vocab_size,
        "merges": tok.vocab_size - 256 - 1,
        "train_seconds": round(seconds, 3),
        "train_mb_per_s": round(train.n_bytes / 1e6 / max(seconds, 1e-9), 3),
        "bytes_per_token_train": round(bytes_per_token(tok, train), 4),
        "bytes_per_token_heldout": round(bytes_per_token(tok, run.corpus_split("heldout")), 4),
        "longest_tokens": [t.decode("utf-8", "replace") for t in longest],
    }
