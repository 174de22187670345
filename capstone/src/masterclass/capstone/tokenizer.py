r"""# Stage 2 · The tokenizer: byte-level BPE on the train split

The model reads token ids, so the first thing learned from the corpus is the vocabulary:
`nlp`'s byte-level BPE (`masterclass.nlp.BPETokenizer`, see Module 5 for the algorithm), trained
on the **train split only** (a tokenizer fitted on held-out text would leak it: its merges would
make the held-out text look more regular than unseen text is). The vocabulary has
`vocab_size` ids: the 256 bytes, `vocab_size − 257` merges, and one special token,
`<|endoftext|>`, which separates documents in the token stream.

**Why a small vocabulary.** A larger vocabulary makes sequences shorter (more bytes per token) but
costs $V \cdot d_{model}$ parameters in both the embedding and the output layer, and spreads the
training signal over more rare tokens. At width 192 a 4,096-token vocabulary already makes the
embedding and the output head almost half of the model's weights; on a fixed CPU budget 8,192
did worse (see the config chapter).

**Invalid UTF-8.** The trainer counts pre-tokens of text, so documents are decoded with
`errors="replace"` for training only: an invalid byte counts as U+FFFD in the merge statistics.
Encoding (the data stage) uses `encode_bytes`, which carries invalid bytes through
`surrogateescape` as their own pieces, so every document's bytes come back exactly from
`decode_bytes`. The statistics here tell how well the vocabulary compresses: bytes per token on a
sample of each split (held-out close to train means the merges generalise).
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


def _texts(split: CorpusSplit, progress=None) -> Iterator[str]:
    for doc in split:
        if progress is not None:
            progress(len(doc))
        yield doc.decode("utf-8", "replace")


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
