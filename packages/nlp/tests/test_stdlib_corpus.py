"""The standard-library corpus: the bytes the old readers returned, the window, the walk order.

The references are independent: the three readers this chapter replaced, copied here verbatim
(a sorted `glob`, a sorted `rglob`, the capstone's `os.walk`), and a plain slice of the full
concatenation for the window arithmetic.
"""

import os
import sysconfig
from pathlib import Path

import pytest

from masterclass.nlp import stdlib_corpus as module
from masterclass.nlp.stdlib_corpus import stdlib_corpus, stdlib_files, stdlib_root, walk_files


# Module 6's reader, as it was (`masterclass.transformer.mlm_pretraining.stdlib_corpus`).
def _old_transformer_corpus(n_bytes: int, skip_bytes: int = 0) -> bytes:
    root = Path(sysconfig.get_paths()["stdlib"])
    out, seen = bytearray(), 0
    for path in sorted(root.glob("*.py")):
        data = path.read_bytes()
        if seen + len(data) <= skip_bytes:
            seen += len(data)
            continue
        start = max(0, skip_bytes - seen)
        seen += len(data)
        out += data[start:]
        if len(out) >= n_bytes:
            return bytes(out[:n_bytes])
    raise ValueError("too few bytes")


# The capstone's walk, as it was (`masterclass.capstone.corpus._walk`).
def _old_capstone_walk(folder: Path):
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "site-packages", ".git"))
        for name in sorted(files):
            yield Path(root) / name


@pytest.mark.parametrize(
    ("n", "skip"), [(0, 0), (1, 0), (1000, 0), (123_457, 0), (5000, 5000), (200_000, 2_000_000)]
)
def test_equals_the_old_transformer_reader(n, skip):
    assert stdlib_corpus(n, skip_bytes=skip) == _old_transformer_corpus(n, skip)


def test_equals_the_old_ngram_figure_and_tokenizer_benchmark_readers():
    # nlp/figures/ngram.py: every fourth top-level file, joined, cut at 1.2 MB.
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py"))
    old = b"".join(p.read_bytes() for p in files[::4])[:1_200_000]
    assert stdlib_corpus(None, every=4)[:1_200_000] == old
    # nlp/bench/bench_bpe.py: all .py files below the root, sorted by path, site-packages out.
    old_files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    assert sorted(stdlib_files(recursive=True)) == old_files


def test_walk_equals_the_old_capstone_walk_on_the_library():
    root = stdlib_root()
    assert list(walk_files(root)) == list(_old_capstone_walk(root))


def test_walk_order_skips_and_does_not_follow_links(tmp_path):
    for name in ["ab.py", "a/x.py", "a/b/y.py", "b.txt", "__pycache__/c.py", "site-packages/d.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    got = [p.relative_to(tmp_path).as_posix() for p in walk_files(tmp_path)]
    # A folder's own files first (by name), then each sub-folder whole; the link is listed by
    # os.walk as a folder name but never entered.
    assert got == ["ab.py", "b.txt", "a/x.py", "a/b/y.py"]
    assert got == [p.relative_to(tmp_path).as_posix() for p in _old_capstone_walk(tmp_path)]


def test_window_is_a_slice_of_the_concatenation(tmp_path, monkeypatch):
    # A small library of files of uneven sizes (one empty); every window (s, n) must be the
    # plain slice C[s : s + n] of the concatenation, and asking past the end must fail.
    sizes = [5, 0, 3, 7, 1]
    for i, size in enumerate(sizes):
        (tmp_path / f"m{i}.py").write_bytes(bytes((i * 16 + j) % 256 for j in range(size)))
    (tmp_path / "notes.txt").write_bytes(b"not source")
    monkeypatch.setattr(module, "stdlib_root", lambda: tmp_path)
    whole = b"".join((tmp_path / f"m{i}.py").read_bytes() for i in range(len(sizes)))
    for s in range(len(whole) + 1):
        for n in range(len(whole) - s + 1):
            assert stdlib_corpus(n, skip_bytes=s) == whole[s : s + n], (s, n)
        with pytest.raises(ValueError, match="fewer than skip_bytes"):
            stdlib_corpus(len(whole) - s + 1, skip_bytes=s)
        assert stdlib_corpus(None, skip_bytes=s) == whole[s:]
    thinned = b"".join((tmp_path / f"m{i}.py").read_bytes() for i in range(0, len(sizes), 2))
    assert stdlib_corpus(None, every=2) == thinned


def test_prefix_property_and_disjoint_splits():
    a = stdlib_corpus(3000)
    assert stdlib_corpus(1000, skip_bytes=2000) == a[2000:]
    assert stdlib_corpus(5000, skip_bytes=3000)[:0] == b""
    assert len(stdlib_corpus(10, recursive=True)) == 10


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="n_bytes must be an int >= 0 or None"):
        stdlib_corpus(-1)
    with pytest.raises(ValueError, match="skip_bytes must be an int >= 0"):
        stdlib_corpus(10, skip_bytes=1.5)
    with pytest.raises(ValueError, match="every must be an int >= 1"):
        stdlib_corpus(10, every=0)
    with pytest.raises(ValueError, match="pass recursive=True"):
        stdlib_corpus(10**9)
    with pytest.raises(TypeError, match="folder must be a str or a path"):
        list(walk_files(3))
