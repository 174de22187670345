r"""# Stage 1 · The corpus: documents, duplicates, and a held-out split

A language model is only as good as the text it sees, and its evaluation only as honest as the
text it does *not* see. This stage turns whatever the user points at into two lists of documents,
**train** and **held-out**, written once to the run folder so that every later stage reads exactly
the same bytes.

**Sources.** With no `--data`, the corpus is the source code of the Python standard library of the
interpreter that runs the capstone (found with `sysconfig`, so nothing is downloaded): about 1,800
`.py` files and 30 MB on CPython 3.11, `site-packages` excluded. With `--data`, any mix of files
and folders: `.txt`, `.md` and `.py` files are one document each, `.jsonl` files give one document
per line from the line's `"text"` field; folders are walked recursively in sorted order. A file
named explicitly with another extension, or one that contains NUL bytes (the mark of a binary file;
text never has them), is refused; inside a folder such files are skipped and counted. Only
regular files are read: a named pipe (FIFO), a socket or a device called `notes.txt` would block
the run or never end, so it is skipped (and refused when named explicitly). A sub-folder or file
that cannot be read (no permission) is skipped, and the stage says how many with one warning line,
so a corpus that silently lost half its files does not pass unnoticed.

**Bytes, not characters.** Documents are kept as raw `bytes` from the file to the tokenizer. Bytes
that are not valid UTF-8 are *not* replaced by U+FFFD (which would change the text and its byte
count): the byte-level BPE gives every byte a token, so it can represent any byte string exactly,
and evaluation in bits per byte counts the bytes of the file as they are. Where a `str` is needed
(the tokenizer's pre-tokenizer), the bytes are decoded with Python's `surrogateescape` handler,
which maps each invalid byte $b$ to the lone surrogate U+DC$b$ and back, losslessly.

**Chunks.** A very long file (a 200 KB module, or a user's one-file book) is cut at line boundaries
into documents of at most `chunk_bytes`, so that the split below has enough pieces to choose from.

**Exact deduplication.** Two documents with the same SHA-256 digest are the same bytes; only the
first is kept. (Near-duplicate detection with MinHash belongs to `infra`'s data pipeline and is
left out here.) Without it, a file copied in two places could sit in both splits and make the
held-out loss look better than it is.

**A split by hash.** Document $d$ goes to the held-out split when
$$ \frac{\operatorname{int}(\mathrm{SHA256}(d)_{0..63})}{2^{64}} < f, $$
the first 64 bits of its digest read as a fraction of $2^{64}$, with $f$ = `heldout_fraction`.
The assignment depends only on the document's bytes: not on file order, not on a random seed, not
on which other documents exist, so adding files never moves an old document from train to
held-out. A size cap (`max_bytes`) keeps documents in the order of other bits of the digest, a
deterministic pseudo-random sample of the corpus.

The split is written as `train.bin`/`heldout.bin` (the documents' bytes back to back) with
`train.idx.npy`/`heldout.idx.npy` (the $n+1$ byte offsets of the $n$ documents), read back through a
memory map (`CorpusSplit`, in the run folder chapter, which owns the format), so no later stage
needs the whole corpus in memory.

## Exercises

1. Write `is_heldout(document, fraction)`: the split rule above, from the document's bytes alone.
   Check it against `hashlib`: `uv run pytest --exercise capstone.corpus`.
2. Write `split(documents, fraction)`: drop exact duplicates (the first copy stays), then return
   `(train, heldout)`, each in reading order. Check it against this chapter's `build_corpus` run on
   the same documents: `uv run pytest --exercise capstone.corpus`.
3. Write `chunk(data, chunk_bytes)`: cut a long file into pieces of at most `chunk_bytes`, each
   ending after the last newline that fits (a line longer than `chunk_bytes` is cut where it
   must). Check it: `uv run pytest --exercise capstone.corpus`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from masterclass.capstone.config import CorpusConfig
from masterclass.capstone.run_folder import (
    CORPUS_SPLITS,
    CapstoneError,
    CorpusSplit,
    write_split,
)
from masterclass.nlp.stdlib_corpus import stdlib_root, walk_files

# File types read as one document per file.
TEXT_SUFFIXES = (".txt", ".md", ".py")
# File type read as one document per line, from the "text" field.
JSONL_SUFFIX = ".jsonl"
SPLITS = CORPUS_SPLITS
__all__ = ["CorpusSplit", "build_corpus", "chunk", "read_documents", "run_corpus"]


@dataclass
class Document:
    """One document: where it came from and its exact bytes."""

    source: str
    data: bytes


@dataclass
class CorpusStats:
    """What the corpus stage read, dropped and kept."""

    files: int = 0
    skipped_files: int = 0
    # Files that are not regular files (FIFOs, sockets, devices), skipped.
    special_files: int = 0
    # Sub-folders and files that could not be read (permissions), skipped.
    unreadable: int = 0
    documents: int = 0
    duplicates: int = 0
    invalid_utf8_documents: int = 0
    dropped_by_max_bytes: int = 0
    split_documents: dict[str, int] = field(default_factory=dict)
    split_bytes: dict[str, int] = field(default_factory=dict)


def _is_binary(data: bytes) -> bool:
    # Text files never contain NUL; binary formats (images, archives, pickles) nearly always do
    # within the first few kilobytes. This is the heuristic of `git` and `grep`.
    return b"\0" in data[:8192]


# The files of a folder come in Module 5's walk order (`masterclass.nlp.stdlib_corpus.walk_files`:
# a folder's files by name, then its sub-folders by name; `__pycache__`, `site-packages` and `.git`
# skipped), the order the default corpus is defined in. A folder that cannot be listed is reported
# through `onerror` and otherwise skipped silently; the callback counts it.
def _walk(folder: Path, stats: CorpusStats) -> Iterator[Path]:
    def unreadable(error: OSError) -> None:
        stats.unreadable += 1

    yield from walk_files(folder, onerror=unreadable)


def _read_jsonl(path: Path, data: bytes) -> Iterator[Document]:
    for lineno, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise CapstoneError(f"{path}:{lineno} is not valid JSON") from None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise CapstoneError(f'{path}:{lineno} has no string "text" field')
        # `surrogatepass` keeps lone surrogates written as \\ud800 escapes as (invalid) bytes.
        yield Document(f"{path}:{lineno}", text.encode("utf-8", "surrogatepass"))


def read_documents(paths: list[str], stats: CorpusStats) -> Iterator[Document]:
    """Yield the documents of the given files and folders (stdlib when `paths` is empty)."""
    explicit = [Path(p) for p in paths] if paths else [stdlib_root()]
    # The default corpus is the standard library's Python source only (not its data files).
    accepted = (*TEXT_SUFFIXES, JSONL_SUFFIX) if paths else (".py",)
    # The same rule throughout: a file the user named explicitly is an error if it cannot be used;
    # a file met while walking a folder is skipped and counted in `stats`.
    for root in explicit:
        if not root.exists():
            raise CapstoneError(f"data path {root} does not exist")
        in_folder = root.is_dir()
        if in_folder and not os.access(root, os.R_OK | os.X_OK):
            raise CapstoneError(f"data folder {root} cannot be read (permission denied)")
        candidates = _walk(root, stats) if in_folder else iter([root])
        for path in candidates:
            suffix = path.suffix.lower()
            if suffix not in accepted:
                if not in_folder:
                    raise CapstoneError(
                        f"data file {path} has an unsupported type {suffix or '(none)'}; use "
                        ".txt, .md, .py or .jsonl"
                    )
                continue
            # `is_file()` follows links and is False for FIFOs, sockets and devices.
            if not path.is_file():
                if not in_folder:
                    raise CapstoneError(f"data file {path} is not a regular file")
                stats.special_files += 1
                continue
            # Read it whole; a NUL byte marks a binary file, which no text model should see.
            try:
                data = path.read_bytes()
            except OSError as e:
                if not in_folder:
                    raise CapstoneError(f"cannot read data file {path}: {e.strerror}") from None
                stats.unreadable += 1
                continue
            if _is_binary(data):
                if not in_folder:
                    raise CapstoneError(f"data file {path} is binary (it contains NUL bytes)")
                stats.skipped_files += 1
                continue
            # A JSONL file holds many documents, one per line; any other file is one document.
            stats.files += 1
            if suffix == JSONL_SUFFIX:
                yield from _read_jsonl(path, data)
            elif data.strip():
                yield Document(str(path), data)


# Large files become several documents, cut after a newline where possible, so that one huge file
# neither dominates a split nor lands whole on one side of it.
def chunk(doc: Document, chunk_bytes: int) -> list[Document]:
    r"""Cut `doc` at line ends into pieces of at most `chunk_bytes` (a line longer than that is cut).

    >>> [d.data for d in chunk(Document("x", b"ab\ncd\nef\n"), 6)]
    [b'ab\ncd\n', b'ef\n']
    """
    data, pieces, start = doc.data, [], 0
    while start < len(data):
        end = min(start + chunk_bytes, len(data))
        if end < len(data):
            cut = data.rfind(b"\n", start, end)
            end = cut + 1 if cut >= start else end
        pieces.append(data[start:end])
        start = end
    if len(pieces) == 1:
        return [doc]
    return [Document(f"{doc.source}#{i}", p) for i, p in enumerate(pieces)]


# The split is decided by content, not by position: a document's hash, read as a number in [0, 1),
# sends it to held-out when below `heldout_fraction`, on every machine and in every run.
def heldout_score(digest: bytes) -> float:
    """The first 64 bits of a SHA-256 digest as a number in [0, 1)."""
    return int.from_bytes(digest[:8], "big") / 2**64


def build_corpus(cfg: CorpusConfig, *, progress=None) -> tuple[dict[str, list[bytes]], CorpusStats]:
    """Read, chunk, deduplicate, cap and split the corpus; return the documents of each split.

    `progress`, if given, is called with the byte count of each document read (for a progress bar).
    """
    # Exact deduplication by SHA-256 of each chunk: a duplicate on both sides of the split would
    # let the model score a held-out document it has memorised.
    stats = CorpusStats()
    seen: set[bytes] = set()
    docs: list[tuple[bytes, bytes]] = []  # (digest, data) in reading order
    for doc in read_documents(cfg.data, stats):
        for piece in chunk(doc, cfg.chunk_bytes):
            digest = hashlib.sha256(piece.data).digest()
            if digest in seen:
                stats.duplicates += 1
                continue
            seen.add(digest)
            docs.append((digest, piece.data))
            if progress is not None:
                progress(len(piece.data))
    if not docs:
        where = ", ".join(cfg.data) if cfg.data else str(stdlib_root())
        raise CapstoneError(f"no text found in {where}: every file was empty, skipped or binary")
    # The size cap keeps documents in the order of digest bits 64..127: a pseudo-random but
    # reproducible sample. (Not bits 0..63: those decide the split, and ordering by them would
    # keep exactly the documents with the smallest scores, all held out.)
    if cfg.max_bytes is not None:
        kept, total = set(), 0
        for digest, data in sorted(docs, key=lambda d: d[0][8:16]):
            if total + len(data) > cfg.max_bytes:
                continue
            kept.add(digest)
            total += len(data)
        stats.dropped_by_max_bytes = len(docs) - len(kept)
        docs = [(d, x) for d, x in docs if d in kept]
    # Split by hash score, counting documents that are not valid UTF-8 (kept: the tokenizer works
    # on bytes).
    splits: dict[str, list[bytes]] = {name: [] for name in SPLITS}
    for digest, data in docs:
        name = "heldout" if heldout_score(digest) < cfg.heldout_fraction else "train"
        splits[name].append(data)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            stats.invalid_utf8_documents += 1
    # A corpus too small for the fraction can leave a split empty; that is the user's to fix.
    stats.documents = len(docs)
    stats.split_documents = {k: len(v) for k, v in splits.items()}
    stats.split_bytes = {k: sum(map(len, v)) for k, v in splits.items()}
    for name in SPLITS:
        if not splits[name]:
            raise CapstoneError(
                f"the {name} split is empty ({len(docs)} documents, heldout_fraction "
                f"{cfg.heldout_fraction}); add more text or change corpus.heldout_fraction"
            )
    return splits, stats


def run_corpus(cfg: CorpusConfig, out: Path, *, progress=None) -> dict:
    """The corpus stage: build the splits, write them into folder `out`, return its metrics."""
    splits, stats = build_corpus(cfg, progress=progress)
    for name, documents in splits.items():
        write_split(out, name, documents)
    # The metrics say where the text came from and what was dropped, and why, for the report.
    metrics = {
        "source": "python-stdlib" if not cfg.data else "user",
        "root": str(stdlib_root()) if not cfg.data else list(cfg.data),
        "files": stats.files,
        "skipped_files": stats.skipped_files,
        "special_files_skipped": stats.special_files,
        "unreadable_skipped": stats.unreadable,
        "documents": stats.documents,
        "duplicates_removed": stats.duplicates,
        "dropped_by_max_bytes": stats.dropped_by_max_bytes,
        "invalid_utf8_documents": stats.invalid_utf8_documents,
        "train_documents": stats.split_documents["train"],
        "heldout_documents": stats.split_documents["heldout"],
        "train_bytes": stats.split_bytes["train"],
        "heldout_bytes": stats.split_bytes["heldout"],
    }
    return metrics
