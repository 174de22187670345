r"""# Token shards: a corpus on disk, streamed into batches

A language model is trained on a stream of token ids. Tokenizing is slow and the corpus may be
larger than memory, so the standard practice (GPT-2's `OpenWebText` `.bin` files, nanoGPT,
Megatron's indexed datasets) is to tokenize **once**, write the ids as a flat array of small
unsigned integers, and let training read windows of that array through a **memory map**: the
operating system pages in only the bytes that are touched, so a 100 GB corpus trains on a
laptop.

**Layout.** A shard is a file with a 64-byte header followed by the ids:

| bytes | content |
|---|---|
| 0–7 | magic `MCTOKENS` |
| 8–11 | format version (`uint32`, little-endian) |
| 12–15 | bytes per token: 2 (`uint16`) or 4 (`uint32`) |
| 16–23 | number of tokens (`uint64`) |
| 24–31 | vocabulary size (`uint64`) |
| 32–63 | zero padding |
| 64– | the ids |

`uint16` suffices for vocabularies up to $2^{16} = 65\,536$ (GPT-2's 50 257 fits), halving the
disk and page-cache footprint compared to `uint32`. An `index.json` beside the shards lists them.

**Sampling.** Training sees the corpus as $N$ non-overlapping windows of $T + 1$ tokens (input
$x = w_{0..T-1}$, target $y = w_{1..T}$), windows never crossing a shard boundary. Each epoch
visits the windows in a fresh pseudo-random order that depends only on `(seed, epoch)`, so the
whole stream of batches is a pure function of the seed, and the *position* in it — two integers,
epoch and windows consumed — is all a checkpoint needs to resume exactly. With $W$ data-parallel
ranks, each step consumes $B \cdot W$ consecutive windows of the order, rank $r$ taking the
$r$-th block of $B$: the ranks together see exactly the batch a single process with batch
$B \cdot W$ would see.

**A worked example.** Forty ids, 0 to 39, in shards of at most 21 tokens: a shard of 21 tokens
takes $64 + 21 \cdot 2 = 106$ bytes, and with $T = 4$ it holds $\lfloor 20 / 4 \rfloor = 5$
windows, the second shard (19 tokens) $\lfloor 18 / 4 \rfloor = 4$. Every row of `x` is a run of
consecutive ids and `y` is `x` moved by one; the position saved after one step resumes the same
stream; two ranks with batch 2 read together exactly the batch 4 of one process.

>>> import tempfile
>>> tmp = tempfile.TemporaryDirectory()
>>> paths = write_token_shards([range(40)], tmp.name, vocab_size=50257, shard_tokens=21)
>>> [(p.name, p.stat().st_size) for p in paths]
[('shard_00000.bin', 106), ('shard_00001.bin', 102)]
>>> shards = TokenShards(tmp.name)
>>> shards
TokenShards(2 shards, 40 tokens, V=50257)
>>> batcher = ShardBatcher(shards, batch_size=2, seq_len=4, seed=0)
>>> batcher.n_windows
9
>>> x, y = batcher.next_batch()
>>> x.shape, (y - x).unique().tolist(), (x[:, 1:] - x[:, :-1]).unique().tolist()
(torch.Size([2, 4]), [1], [1])
>>> state = batcher.state_dict()
>>> ahead = [batcher.next_batch()[0] for _ in range(3)]
>>> resumed = ShardBatcher(TokenShards(tmp.name), batch_size=2, seq_len=4, seed=0)
>>> resumed.load_state_dict(state)
>>> all(torch.equal(a, resumed.next_batch()[0]) for a in ahead)
True
>>> one = ShardBatcher(shards, batch_size=4, seq_len=4, seed=0).next_batch()[0]
>>> ranks = [
...     ShardBatcher(shards, 2, 4, seed=0, rank=r, world_size=2).next_batch()[0] for r in (0, 1)
... ]
>>> torch.equal(torch.cat(ranks), one)
True
>>> tmp.cleanup()

Left out: document-aware packing (attention masks that stop at document boundaries), mixing
several corpora with weights, and remote object storage.

## Exercises

1. Write `shard_header(n_tokens, vocab_size)`: the 64 bytes a shard starts with, from the layout
   table above. Check it (against the files `write_token_shards` writes):
   `uv run pytest --exercise infra.shards`.
2. Write `locate_window(shard_lengths, seq_len, w)`: `(shard, offset)` such that window `w` of the
   whole corpus is tokens `[offset, offset + seq_len + 1)` of shard `shard`, windows numbered
   shard after shard. Check it: `uv run pytest --exercise infra.shards`.
3. Write `position_after(steps, n_windows, batch_size, world_size)`: the `(epoch, position)` a
   batcher's `state_dict()` holds after `steps` calls of `next_batch` (an epoch drops the windows
   that do not fill a whole step, and rolls over only when the next step needs them). Check it:
   `uv run pytest --exercise infra.shards`.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from masterclass.infra.atomic import atomic_write, atomic_write_text

__all__ = ["ShardBatcher", "TokenShards", "write_token_shards"]

_MAGIC = b"MCTOKENS"
_VERSION = 1
_HEADER = 64
_INDEX = "index.json"


def _dtype_for(vocab_size: int) -> np.dtype:
    # The smallest unsigned type that holds every id in [0, vocab_size).
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def _write_shard(path: Path, tokens: np.ndarray, vocab_size: int) -> None:
    # Written through `atomic_write` (a temporary name, fsync, rename), so a reader never sees a
    # half-written shard.
    header = struct.pack("<8sIIQQ", _MAGIC, _VERSION, tokens.itemsize, len(tokens), vocab_size)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(header.ljust(_HEADER, b"\0"))
            f.write(tokens.astype(tokens.dtype.newbyteorder("<"), copy=False).tobytes())

    atomic_write(path, write)


# ## Writing
#
# The input is streamed: ids (or documents of ids) are appended to a fixed-size buffer that is
# flushed to a new shard whenever it is full, so memory use is one shard whatever the corpus
# size. Every id is range-checked: an id $\\ge V$ would silently wrap around in `uint16`.
def write_token_shards(
    token_iter: Iterable[int] | Iterable[Sequence[int]],
    out_dir: str | os.PathLike,
    *,
    vocab_size: int,
    shard_tokens: int = 1 << 24,
) -> list[Path]:
    """Write a stream of token ids to memory-mappable shard files; return their paths.

    Args:
        token_iter: ids, or sequences of ids (e.g. one per document, already including any
            end-of-document token); they are concatenated in order.
        out_dir: directory for `shard_00000.bin`, ... and `index.json` (created if needed).
        vocab_size: every id must lie in `[0, vocab_size)`; picks `uint16` or `uint32`.
        shard_tokens: tokens per shard (the last one may be shorter).
    """
    # The id type follows from the vocabulary: two bytes per token up to 65,536 ids, four beyond.
    # One buffer of `shard_tokens` ids is the only memory the writer holds.
    if vocab_size < 1 or vocab_size > 2**32:
        raise ValueError(f"vocab_size must be in [1, 2**32], got {vocab_size}")
    if shard_tokens < 2:
        raise ValueError(f"shard_tokens must be >= 2, got {shard_tokens}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dtype = _dtype_for(vocab_size)
    buffer = np.empty(shard_tokens, dtype=dtype)
    fill = 0
    paths: list[Path] = []

    # `flush` writes the filled part of the buffer as the next numbered shard; `append` range-checks
    # a chunk of ids and copies it in, flushing each time the buffer fills, so a chunk may span
    # shards.
    def flush() -> None:
        nonlocal fill
        path = out / f"shard_{len(paths):05d}.bin"
        _write_shard(path, buffer[:fill], vocab_size)
        paths.append(path)
        fill = 0

    def append(chunk: np.ndarray) -> None:
        nonlocal fill
        if chunk.size and (chunk.min() < 0 or chunk.max() >= vocab_size):
            bad = chunk[(chunk < 0) | (chunk >= vocab_size)][0]
            raise ValueError(f"token id {bad} is outside [0, vocab_size={vocab_size})")
        while chunk.size:
            take = min(shard_tokens - fill, chunk.size)
            buffer[fill : fill + take] = chunk[:take]
            fill += take
            chunk = chunk[take:]
            if fill == shard_tokens:
                flush()

    # Bare ids are gathered into blocks first: a numpy call per id would be slow.
    # A document of ids is appended whole, after any pending single ids, so the order is kept.
    pending: list[int] = []
    for item in token_iter:
        if isinstance(item, (int, np.integer)):
            pending.append(int(item))
            if len(pending) >= 1 << 16:
                append(np.asarray(pending, dtype=np.int64))
                pending.clear()
            continue
        if pending:
            append(np.asarray(pending, dtype=np.int64))
            pending.clear()
        append(np.asarray(item, dtype=np.int64).reshape(-1))  # (n,)
    if pending:
        append(np.asarray(pending, dtype=np.int64))
    # The last, partial shard (or one empty shard for an empty stream), then `index.json`, written
    # last and atomically: the index lists only complete shards with their token counts.
    if fill or not paths:
        flush()
    index = {
        "format": _VERSION,
        "vocab_size": vocab_size,
        "dtype": dtype.name,
        "shards": [{"file": p.name, "tokens": _read_header(p)[1]} for p in paths],
    }
    atomic_write_text(out / _INDEX, json.dumps(index, indent=2))
    return paths


# Reading checks everything the header promises: the magic bytes, the version, a valid token size,
# and a file size that matches the token count, so a truncated shard fails on opening.
def _read_header(path: Path) -> tuple[np.dtype, int, int]:
    with open(path, "rb") as f:
        raw = f.read(_HEADER)
    if len(raw) < _HEADER or raw[:8] != _MAGIC:
        raise ValueError(f"{path} is not a token shard (bad magic)")
    _, version, itemsize, n_tokens, vocab_size = struct.unpack("<8sIIQQ", raw[:32])
    if version != _VERSION:
        raise ValueError(f"{path} has shard format {version}; this version reads {_VERSION}")
    if itemsize not in (2, 4):
        raise ValueError(f"{path} has an invalid token size {itemsize}")
    dtype = np.dtype("<u2" if itemsize == 2 else "<u4")
    if os.path.getsize(path) != _HEADER + n_tokens * itemsize:
        raise ValueError(f"{path} is truncated: header says {n_tokens} tokens")
    return dtype, n_tokens, vocab_size


class TokenShards:
    """Read-only, memory-mapped view of token shards.

    `TokenShards(dir)` opens the shards listed in `dir/index.json` (or every `*.bin`);
    `TokenShards([paths])` opens the given files in order. `len()` is the total token count.
    """

    # A folder is read through its index (in the order written), or, without one, as every `.bin`
    # file in name order; a file or a list of files is taken as given.
    def __init__(self, paths_or_dir: str | os.PathLike | Sequence[str | os.PathLike]) -> None:
        if isinstance(paths_or_dir, (str, os.PathLike)):
            root = Path(paths_or_dir)
            if root.is_dir():
                if (root / _INDEX).is_file():
                    index = json.loads((root / _INDEX).read_text())
                    paths = [root / s["file"] for s in index["shards"]]
                else:
                    paths = sorted(root.glob("*.bin"))
            else:
                paths = [root]
        else:
            paths = [Path(p) for p in paths_or_dir]
        if not paths:
            raise ValueError(f"no token shards found in {paths_or_dir}")
        # Each shard is memory-mapped past its header: nothing is read until a window is sliced, so
        # opening a corpus of any size is instant. An empty shard gets an empty array (`memmap`
        # refuses size zero).
        headers = [_read_header(p) for p in paths]
        self.paths = paths
        self.vocab_size = max(h[2] for h in headers)
        # np.memmap of a zero-length region is an error, so empty shards are kept as arrays.
        self.shards: list[np.ndarray] = [
            np.memmap(p, dtype=d, mode="r", offset=_HEADER, shape=(n,))
            if n
            else np.empty(0, dtype=d)
            for p, (d, n, _) in zip(paths, headers)
        ]

    # The shards read as one stream: the length is the sum, and `to_numpy` copies everything into
    # memory, for corpora small enough to allow it.
    def __len__(self) -> int:
        return sum(len(s) for s in self.shards)

    def __repr__(self) -> str:
        return f"TokenShards({len(self.shards)} shards, {len(self)} tokens, V={self.vocab_size})"

    def to_numpy(self) -> np.ndarray:
        """All tokens concatenated into one in-memory `int64` array (for small corpora)."""
        return np.concatenate([np.asarray(s, dtype=np.int64) for s in self.shards])


# The batcher cuts the stream into non-overlapping windows and serves them in a seeded random order,
# one epoch after another.
class ShardBatcher:
    """Deterministic, resumable (x, y) batches of windows from `TokenShards`.

    Yields `(x, y)`, two `LongTensor`s of shape (B, T) with `y[:, t] = x[:, t + 1]` in the
    underlying stream. The sequence of batches depends only on `seed`; `state_dict()` records the
    position and `load_state_dict()` continues exactly there. With `world_size` ranks, rank `r`
    gets the `r`-th of `world_size` consecutive blocks of `batch_size` windows per step.
    """

    def __init__(
        self,
        shards: TokenShards,
        batch_size: int,
        seq_len: int,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        # A rank is one of `world_size`: each step consumes `batch_size * world_size` windows of the
        # shared order, and rank `r` takes the `r`-th block of them.
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"batch_size and seq_len must be >= 1, got {batch_size}, {seq_len}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
        self.shards, self.batch_size, self.seq_len = shards, batch_size, seq_len
        self.seed, self.rank, self.world_size = seed, rank, world_size
        # Window k of shard s starts at k * T and holds T + 1 tokens: (n - 1) // T per shard.
        counts = np.array([max(len(s) - 1, 0) // seq_len for s in shards.shards], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(counts)])  # (n_shards + 1,)
        self.n_windows = int(self._starts[-1])
        self.per_step = batch_size * world_size
        if self.n_windows < self.per_step:
            raise ValueError(
                f"the shards hold {self.n_windows} windows of {seq_len + 1} tokens but one step "
                f"needs {self.per_step} (batch_size * world_size); use more data, a shorter "
                "seq_len or a smaller batch"
            )
        self.epoch = 0
        self.position = 0  # windows of this epoch's order already consumed (by all ranks)
        self._order_epoch = -1
        self._order = np.empty(0, dtype=np.int64)

    # The order of an epoch is a permutation seeded by (seed, epoch): recomputable at any time,
    # which is what makes resuming need only two integers.
    def _epoch_order(self) -> np.ndarray:
        if self._order_epoch != self.epoch:
            rng = np.random.default_rng([self.seed, self.epoch])
            self._order = rng.permutation(self.n_windows)
            self._order_epoch = self.epoch
        return self._order

    def _window(self, w: int) -> np.ndarray:
        s = int(np.searchsorted(self._starts, w, side="right")) - 1
        start = (w - int(self._starts[s])) * self.seq_len
        return np.asarray(self.shards.shards[s][start : start + self.seq_len + 1], dtype=np.int64)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next `(x, y)` of this rank, each (B, T) int64; advances the position."""
        # An epoch ends when fewer than one step's windows remain (the remainder is dropped).
        if self.position + self.per_step > self.n_windows:
            self.epoch += 1
            self.position = 0
        # This rank's `batch_size` windows of the step; the position advances by the whole step, so
        # all ranks stay in step. Each window holds `T + 1` tokens, split into `x` and `y` by one
        # position.
        order = self._epoch_order()
        lo = self.position + self.rank * self.batch_size
        ids = order[lo : lo + self.batch_size]
        self.position += self.per_step
        windows = np.stack([self._window(int(w)) for w in ids])  # (B, T + 1)
        batch = torch.from_numpy(windows)
        return batch[:, :-1], batch[:, 1:]  # (B, T), (B, T)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.next_batch()

    # The state is two integers, the epoch and the position, plus the settings they are only valid
    # for; resuming with different settings would silently read other windows, so it fails instead.
    def state_dict(self) -> dict[str, Any]:
        """The position (and the settings it is only valid for), JSON-serialisable."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "world_size": self.world_size,
            "n_windows": self.n_windows,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a position saved by `state_dict()` with the same settings."""
        for key in ("seed", "batch_size", "seq_len", "world_size", "n_windows"):
            if state[key] != getattr(self, key):
                raise ValueError(
                    f"cannot resume: saved {key}={state[key]} but this batcher has "
                    f"{key}={getattr(self, key)}"
                )
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
