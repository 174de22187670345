r"""# Stage 3 · The data: tokens on disk, once

Tokenizing is slow compared to a training step's data needs, and the corpus may not fit in memory,
so the corpus is encoded **once** and written as token shards (`infra`'s format: a small header
and a flat array of `uint16` ids, `uint32` for vocabularies over 65,536) that training reads through
a memory map (`masterclass.infra.shards`). Each split becomes one token stream
$$ [\text{EOT}, d_1, \text{EOT}, d_2, \ldots, \text{EOT}, d_n], $$
every document preceded by the end-of-text token, so that the model learns where documents start
and the first token of each document is predicted from "a new document begins" rather than from
the end of an unrelated one.

The encoder is `BPETokenizer.encode_bytes`, exact for any bytes (see the corpus chapter), and the
documents are streamed from the corpus split's memory map into `write_token_shards`, which flushes
a shard whenever its buffer is full: memory stays one shard whatever the corpus size.

**Too little data.** Training cuts the train stream into windows of `max_seq_len + 1` tokens and needs
at least one batch of them; evaluation needs at least one target. A corpus smaller than that is
refused here with the numbers, before any training starts. The windows are the ones `infra`'s
[`ShardBatcher`](../infra/shards.md) cuts: window $k$ starts at token $kT$ and holds $T + 1$ tokens ($T$ inputs, and
the same shifted by one as targets), so a stream of $n$ tokens holds $\lfloor (n-1)/T \rfloor$
of them, and a batch of $B$ needs $n \ge BT + 1$.

**A worked example.** With a toy vocabulary (`ab` is id 256, ` ab` id 257, the end-of-text token
259), two documents become one stream of five `uint16` ids on disk, each document after an EOT:

>>> import tempfile
>>> tok = BPETokenizer.train(["ab ab ab abc"], 260, special_tokens=[END_OF_TEXT])
>>> tok.special_tokens[END_OF_TEXT], [tok.token_bytes(i) for i in (256, 257)]
(259, [b'ab', b' ab'])
>>> with tempfile.TemporaryDirectory() as tmp:
...     folder = Path(tmp) / "train"
...     _ = write_token_shards(_documents(tok, [b"ab ab", b"c"]), folder, vocab_size=260)
...     shards = TokenShards(folder)
...     shards.to_numpy().tolist(), shards.shards[0].dtype.name
([259, 256, 257, 259, 99], 'uint16')

## Exercises

1. Write `token_stream(documents, eot)`: the ids of each document (lists of ids) preceded by
   `eot`, concatenated into one int64 array. Check it against the shards this stage writes:
   `uv run pytest --exercise capstone.data`.
2. Write `enough_tokens(n_tokens, batch_size, context)`: whether a train stream of `n_tokens`
   holds one batch of training windows as described above. Check it against `infra`'s
   `ShardBatcher`: `uv run pytest --exercise capstone.data`.
3. Write `shard_dtype(vocab_size)`: the name of the smallest unsigned numpy integer type that
   holds every id of the vocabulary (why are 4,096 ids stored in 2 bytes, and 100,000 in 4?).
   Check it: `uv run pytest --exercise capstone.data`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from masterclass.capstone.config import END_OF_TEXT, RunConfig
from masterclass.capstone.run_folder import CORPUS_SPLITS, CapstoneError, CorpusSplit, RunFolder
from masterclass.infra.shards import TokenShards, write_token_shards
from masterclass.nlp.bpe import BPETokenizer


# Each document is encoded from its raw bytes and preceded by end-of-text, so the stream reads
# `[EOT, d1, EOT, d2, ...]` and the model learns where documents start.
def _documents(tok: BPETokenizer, split: CorpusSplit, progress=None) -> Iterator[list[int]]:
    eot = tok.special_tokens[END_OF_TEXT]
    for doc in split:
        if progress is not None:
            progress(len(doc))
        yield [eot, *tok.encode_bytes(doc)]


def run_data(cfg: RunConfig, run: RunFolder, out: Path, *, progress=None) -> dict[str, Any]:
    """The data stage: encode both splits into shards under `out`, check sizes, return statistics."""
    # Bytes per token leaves out the end-of-text tokens (one per document), which stand for no
    # text.
    tok = run.load_tokenizer()
    metrics: dict[str, Any] = {}
    for name in CORPUS_SPLITS:
        split = run.corpus_split(name)
        write_token_shards(_documents(tok, split, progress), out / name, vocab_size=tok.vocab_size)
        tokens = len(TokenShards(out / name))
        metrics[f"{name}_tokens"] = tokens
        metrics[f"{name}_bytes_per_token"] = round(split.n_bytes / max(tokens - len(split), 1), 4)
    # One context for the model, and a full batch of windows for the training loop.
    context, batch = cfg.model.max_seq_len, cfg.train.batch_size
    needed = batch * context + 1
    if metrics["train_tokens"] < needed:
        raise CapstoneError(
            f"corpus too small: the train split has {metrics['train_tokens']} tokens, fewer than "
            f"one batch of {batch} contexts of {context} tokens ({needed}); add text, or lower "
            "model.max_seq_len or train.batch_size"
        )
    if metrics["heldout_tokens"] < 2:
        raise CapstoneError("corpus too small: the held-out split has no token to predict")
    # How much of the vocabulary the train split uses: ids never seen are never trained.
    used = np.zeros(tok.vocab_size, dtype=bool)
    for shard in TokenShards(out / "train").shards:
        used[np.unique(np.asarray(shard))] = True
    metrics["vocab_used_fraction"] = round(float(used.mean()), 4)
    metrics["dtype"] = str(TokenShards(out / "train").shards[0].dtype)
    metrics["tokens_per_epoch_windows"] = (metrics["train_tokens"] - 1) // context
    return metrics
