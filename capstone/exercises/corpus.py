r"""# Exercises: Stage 1 · The corpus: documents, duplicates, and a held-out split

The held-out split by hash, exact deduplication with the split, and cutting a long file at line
ends, checked against `hashlib` and the chapter's own corpus builder."""

import hashlib
import json
import random
import tempfile
from pathlib import Path

from masterclass.capstone.config import CorpusConfig
from masterclass.capstone.corpus import Document, build_corpus, chunk


def solution_1_is_heldout(document: bytes, fraction: float) -> bool:
    """Whether the first 64 bits of SHA-256(document), as a fraction of 2**64, are below `fraction`."""
    digest = hashlib.sha256(document).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _random_documents(rng: random.Random, n: int) -> list[bytes]:
    words = ["def", "return", "self", "import", "x", "(", ")", ":", "\n", "    ", "é", "None"]
    return [" ".join(rng.choices(words, k=rng.randint(1, 12))).encode() for _ in range(n)]


def check_1_is_heldout(fn) -> None:
    """Against the digest's hex string read as a number: 16 hex digits are the first 64 bits."""
    rng = random.Random(0)
    documents = [b"", b"print('hello')\n", *_random_documents(rng, 60)]
    for fraction in (0.02, 0.15, 0.5, 0.9):
        for doc in documents:
            want = int(hashlib.sha256(doc).hexdigest()[:16], 16) / 16**16 < fraction
            got = fn(doc, fraction)
            assert got == want, (
                f"is_heldout({doc[:30]!r}, {fraction}) = {got}, but SHA-256 puts it in the "
                f"{'held-out' if want else 'train'} split (first 8 bytes of the digest, big-endian)"
            )


def solution_2_split(documents: list[bytes], fraction: float) -> tuple[list[bytes], list[bytes]]:
    """Drop exact duplicates (the first copy stays), then split by hash; reading order kept."""
    seen, train, heldout = set(), [], []
    for doc in documents:
        digest = hashlib.sha256(doc).digest()
        if digest in seen:
            continue
        seen.add(digest)
        score = int.from_bytes(digest[:8], "big") / 2**64
        (heldout if score < fraction else train).append(doc)
    return train, heldout


def check_2_split(fn) -> None:
    """Against `build_corpus` run on the same documents written as a JSONL file."""
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(5):
            docs = _random_documents(rng, 40)
            docs += [rng.choice(docs) for _ in range(10)]  # exact duplicates
            rng.shuffle(docs)
            fraction = rng.choice([0.2, 0.3, 0.5])
            path = Path(tmp) / f"docs{case}.jsonl"
            path.write_text("\n".join(json.dumps({"text": d.decode()}) for d in docs) + "\n")
            cfg = CorpusConfig(data=[str(path)], heldout_fraction=fraction)
            splits, stats = build_corpus(cfg)
            got = fn(list(docs), fraction)
            want = (splits["train"], splits["heldout"])
            assert tuple(map(list, got)) == want, (
                f"case {case} ({len(docs)} documents, {stats.duplicates} duplicates, fraction "
                f"{fraction}): split gives {len(got[0])} train / {len(got[1])} held-out, the "
                f"corpus stage {len(want[0])} / {len(want[1])} (or the same counts in another "
                "order)"
            )


def solution_3_chunk(data: bytes, chunk_bytes: int) -> list[bytes]:
    """Cut at the last line end within each `chunk_bytes` (a longer line is cut where it must)."""
    pieces, start = [], 0
    while start < len(data):
        end = min(start + chunk_bytes, len(data))
        if end < len(data):
            cut = data.rfind(b"\n", start, end)
            if cut >= start:
                end = cut + 1
        pieces.append(data[start:end])
        start = end
    return pieces


def check_3_chunk(fn) -> None:
    """The pieces rebuild the file, fit the size, end at line ends, and match the chapter's `chunk`."""
    rng = random.Random(2)
    cases = [(b"ab\ncd\nef\n", 6), (b"abcdefgh", 3), (b"a\n" * 5, 2), (b"one line", 100)]
    for _ in range(10):
        lines = [b"x" * rng.randint(0, 15) + b"\n" for _ in range(rng.randint(1, 12))]
        cases.append((b"".join(lines) + b"tail" * rng.randint(0, 1), rng.randint(4, 20)))
    for data, size in cases:
        got = list(fn(data, size))
        assert b"".join(got) == data, f"chunk({data!r}, {size}): the pieces do not rebuild it"
        assert all(0 < len(p) <= size for p in got), f"chunk({data!r}, {size}) = {got}: too long"
        want = [d.data for d in chunk(Document("x", data), size)]
        assert got == want, (
            f"chunk({data!r}, {size}) = {got}, expected {want} (cut after the last newline that "
            "fits; a line longer than chunk_bytes is cut at chunk_bytes)"
        )
