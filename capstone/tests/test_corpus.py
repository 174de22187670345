"""Tests of the corpus stage: sources, exact bytes, dedup, the hash split, and bad data."""

from __future__ import annotations

import hashlib
import json
import sysconfig
from pathlib import Path

import pytest

from masterclass.capstone.config import CorpusConfig
from masterclass.capstone.corpus import (
    CorpusSplit,
    CorpusStats,
    Document,
    build_corpus,
    chunk,
    heldout_score,
    read_documents,
    run_corpus,
)
from masterclass.capstone.run_folder import CapstoneError


def _write_docs(folder: Path, n: int, size: int = 200) -> list[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    docs = []
    for i in range(n):
        data = (f"document {i}\n" + f"line {i} of text\n" * (size // 16)).encode()
        (folder / f"doc{i:03d}.txt").write_bytes(data)
        docs.append(data)
    return docs


def test_split_is_the_documented_hash_rule(tmp_path):
    # Reference: recompute each document's SHA-256 with hashlib and apply the rule by hand.
    docs = _write_docs(tmp_path / "d", 60)
    cfg = CorpusConfig(data=[str(tmp_path / "d")], heldout_fraction=0.25)
    splits, stats = build_corpus(cfg)
    expected_heldout = [
        d for d in docs if int(hashlib.sha256(d).hexdigest()[:16], 16) / 2**64 < 0.25
    ]
    assert splits["heldout"] == expected_heldout
    assert sorted(splits["train"] + splits["heldout"]) == sorted(docs)
    assert stats.split_documents == {
        "train": 60 - len(expected_heldout),
        "heldout": len(expected_heldout),
    }


def test_split_of_a_document_does_not_depend_on_the_others(tmp_path):
    docs = _write_docs(tmp_path / "a", 40)
    small, _ = build_corpus(CorpusConfig(data=[str(tmp_path / "a")], heldout_fraction=0.3))
    # Add 40 more documents: none of the first 40 may change side.
    _write_docs(tmp_path / "b", 80)
    big, _ = build_corpus(
        CorpusConfig(data=[str(tmp_path / "a"), str(tmp_path / "b")], heldout_fraction=0.3)
    )
    for d in docs:
        assert (d in small["heldout"]) == (d in big["heldout"])


def test_exact_duplicates_are_removed(tmp_path):
    docs = _write_docs(tmp_path / "d", 30)
    (tmp_path / "d" / "copy.md").write_bytes(docs[3])
    splits, stats = build_corpus(CorpusConfig(data=[str(tmp_path / "d")], heldout_fraction=0.3))
    assert stats.duplicates == 1
    assert sum(d == docs[3] for s in splits.values() for d in s) == 1


def test_invalid_utf8_is_kept_byte_for_byte(tmp_path):
    # Bytes that are not UTF-8 must reach the split files unchanged (not replaced by U+FFFD).
    _write_docs(tmp_path / "d", 30)
    weird = b"caf\xe9 latin-1 \xff\xfe and valid \xc3\xa9\n" * 5
    (tmp_path / "d" / "weird.txt").write_bytes(weird)
    out = tmp_path / "out"
    out.mkdir()
    metrics = run_corpus(CorpusConfig(data=[str(tmp_path / "d")], heldout_fraction=0.3), out)
    assert metrics["invalid_utf8_documents"] == 1
    found = [d for name in ("train", "heldout") for d in CorpusSplit(out, name) if d == weird]
    assert found == [weird]
    # surrogateescape is the lossless str view the module docstring promises.
    assert weird.decode("utf-8", "surrogateescape").encode("utf-8", "surrogateescape") == weird


def test_split_files_round_trip(tmp_path):
    docs = _write_docs(tmp_path / "d", 25)
    out = tmp_path / "out"
    out.mkdir()
    metrics = run_corpus(CorpusConfig(data=[str(tmp_path / "d")], heldout_fraction=0.3), out)
    got = list(CorpusSplit(out, "train")) + list(CorpusSplit(out, "heldout"))
    assert sorted(got) == sorted(docs)
    held = CorpusSplit(out, "heldout")
    assert held.n_bytes == metrics["heldout_bytes"] == len(held.all_bytes())
    assert metrics["documents"] == 25


def test_jsonl_records_are_documents(tmp_path):
    lines = [json.dumps({"text": f"record number {i} " * 5, "id": i}) for i in range(30)]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n\n")
    splits, _ = build_corpus(CorpusConfig(data=[str(path)], heldout_fraction=0.3))
    got = sorted(d for s in splits.values() for d in s)
    assert got == sorted((f"record number {i} " * 5).encode() for i in range(30))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"body": "no text"}\n')
    with pytest.raises(CapstoneError, match=r"bad.jsonl:2 has no string \"text\" field"):
        build_corpus(CorpusConfig(data=[str(bad)]))


def test_chunks_cut_at_line_ends_and_concatenate_back():
    data = b"".join(f"line {i} {'x' * (i % 17)}\n".encode() for i in range(400))
    pieces = chunk(Document("f", data), 256)
    assert b"".join(p.data for p in pieces) == data
    assert all(len(p.data) <= 256 and p.data.endswith(b"\n") for p in pieces)
    long_line = b"y" * 1000
    assert [len(p.data) for p in chunk(Document("g", long_line), 300)] == [300, 300, 300, 100]


def test_default_corpus_is_the_running_stdlib():
    root = Path(sysconfig.get_paths()["stdlib"])
    stats = CorpusStats()
    first = []
    for doc in read_documents([], stats):
        first.append(doc)
        if len(first) == 50:
            break
    assert all(Path(d.source).is_relative_to(root) for d in first)
    assert all("site-packages" not in d.source and d.source.endswith(".py") for d in first)


def test_max_bytes_caps_the_corpus(tmp_path):
    _write_docs(tmp_path / "d", 50, size=400)
    _, stats = build_corpus(
        CorpusConfig(data=[str(tmp_path / "d")], max_bytes=5000, heldout_fraction=0.3)
    )
    assert sum(stats.split_bytes.values()) <= 5000
    assert stats.dropped_by_max_bytes == 50 - stats.documents


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "no text found"),
        (lambda p: (p.mkdir(), (p / "a.txt").write_text("")), "no text found"),
        (lambda p: (p.mkdir(), (p / "x.bin").write_bytes(b"\0\1")), "no text found"),
        (lambda p: (p.mkdir(), (p / "x.txt").write_bytes(b"PK\0\3")), "no text found"),
        (lambda p: None, "does not exist"),
    ],
)
def test_bad_data_folders(tmp_path, make, message):
    path = tmp_path / "data"
    make(path)
    with pytest.raises(CapstoneError, match=message):
        build_corpus(CorpusConfig(data=[str(path)]))


def test_binary_or_unsupported_files_named_explicitly(tmp_path):
    png = tmp_path / "image.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    with pytest.raises(CapstoneError, match=r"image.txt is binary"):
        build_corpus(CorpusConfig(data=[str(png)]))
    other = tmp_path / "model.bin"
    other.write_bytes(b"abc")
    with pytest.raises(CapstoneError, match=r"unsupported type \.bin"):
        build_corpus(CorpusConfig(data=[str(other)]))


def test_one_document_cannot_be_split(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("just one short document\n")
    with pytest.raises(CapstoneError, match="split is empty"):
        build_corpus(CorpusConfig(data=[str(path)]))


def test_heldout_score_reads_the_first_64_bits():
    digest = bytes([0x80] + [0] * 31)
    assert heldout_score(digest) == 0.5
