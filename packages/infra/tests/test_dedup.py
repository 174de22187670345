"""Deduplication: exact hashes, MinHash against datasketch and the binomial law, LSH against its
S-curve, suffix arrays against brute force, and the command line."""

import json

import datasketch
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.infra.dedup import (
    LSHIndex,
    MinHasher,
    bands_for_threshold,
    candidate_probability,
    exact_duplicates,
    main,
    minhash_duplicates,
    shingles,
)
from masterclass.infra.suffix_array import (
    lcp_array,
    remove_repeated_substrings,
    repeated_spans,
    suffix_array,
)


def test_exact_dedup_merges_case_unicode_and_whitespace_variants():
    texts = ["Café au lait", "cafe\u0301  au LAIT", "café au lait.", "Café au lait"]
    # NFKC composes e + combining acute into é; the trailing period makes a different document.
    assert exact_duplicates(texts) == [0, 2]
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str"):
        exact_duplicates(["a", 3])


def test_signatures_equal_datasketch_given_the_same_hash_functions():
    # datasketch 2's default scheme "affine32" is the same family (SHA-1 -> fmix32 -> a h + b mod
    # 2^32); handing it our (a, b) must give bit-identical signatures.
    rng = np.random.default_rng(0)
    hasher = MinHasher(num_perm=96, seed=7)
    for _ in range(5):
        items = {f"w{int(x)}" for x in rng.integers(0, 10_000, rng.integers(1, 200))}
        ref = datasketch.MinHash(num_perm=96, permutations=hasher.permutations, scheme="affine32")
        ref.update_batch([s.encode("utf-8") for s in items])
        np.testing.assert_array_equal(hasher.signature(items), ref.hashvalues.astype(np.uint64))


def _pair_with_jaccard(rng, s: float, union: int = 200):
    # |A ∪ B| = union, |A ∩ B| = round(s * union): exact Jaccard known by construction.
    inter = round(s * union)
    tokens = [f"t{x}" for x in rng.choice(10**9, union, replace=False)]
    rest = tokens[inter:]
    a = set(tokens[:inter]) | set(rest[: len(rest) // 2])
    b = set(tokens[:inter]) | set(rest[len(rest) // 2 :])
    return a, b, inter / union


def test_estimates_lie_within_three_sigma_of_exact_jaccard():
    rng = np.random.default_rng(1)
    hasher = MinHasher(num_perm=128, seed=3)
    misses = 0
    for s in np.linspace(0.05, 0.95, 40):
        a, b, j = _pair_with_jaccard(rng, float(s))
        est = MinHasher.jaccard(hasher.signature(a), hasher.signature(b))
        sd = np.sqrt(j * (1 - j) / 128)
        misses += abs(est - j) > 3 * sd
    # Beyond 3 sigma happens with probability ~0.3% per pair; allow one of 40.
    assert misses <= 1


def test_lsh_candidate_rate_follows_the_s_curve():
    rng = np.random.default_rng(2)
    bands, rows = 16, 4
    hasher = MinHasher(num_perm=bands * rows, seed=5)
    n = 150
    for s in (0.2, 0.4, 0.6, 0.8):
        hits = 0
        for _ in range(n):
            a, b, j = _pair_with_jaccard(rng, s, union=100)
            index = LSHIndex(bands, rows)
            index.insert(0, hasher.signature(a))
            index.insert(1, hasher.signature(b))
            hits += (0, 1) in index.candidates()
        p = float(candidate_probability(j, bands, rows))
        # A binomial count: within 3 standard deviations of n p (plus 1 for p near 0 or 1).
        assert abs(hits - n * p) <= 3 * np.sqrt(n * p * (1 - p)) + 1, (s, hits, n * p)


def test_minhash_dedup_agrees_with_datasketch_lsh():
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(300)]
    base = [" ".join(rng.choice(words, 60)) for _ in range(12)]
    # Copies with one word changed (Jaccard ~0.85 at 5-gram shingles), and unrelated documents.
    noisy = []
    for t in base[:6]:
        w = t.split()
        w[30] = "changed"
        noisy.append(" ".join(w))
    texts = base + noisy
    keep = minhash_duplicates(texts, threshold=0.6)
    assert keep == list(range(12))
    # datasketch's own LSH at the same threshold finds the same duplicate pairs.
    lsh = datasketch.MinHashLSH(threshold=0.6, num_perm=128)
    sigs = []
    for i, t in enumerate(texts):
        m = datasketch.MinHash(num_perm=128, seed=9)
        m.update_batch([s.encode() for s in shingles(t)])
        sigs.append(m)
        lsh.insert(i, m)
    ref_dups = {i for i in range(len(texts)) if any(j < i for j in lsh.query(sigs[i]))}
    assert ref_dups == set(range(12, 18))


def test_bands_and_bad_arguments():
    b, r = bands_for_threshold(128, 0.5)
    assert b * r <= 128 and abs((1 / b) ** (1 / r) - 0.5) < 0.05
    with pytest.raises(ValueError, match="threshold must be in"):
        bands_for_threshold(128, 1.5)
    with pytest.raises(ValueError, match="fewer than bands"):
        LSHIndex(10, 10).insert(0, np.zeros(50, dtype=np.uint64))
    with pytest.raises(ValueError, match="num_perm must be"):
        MinHasher(0)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abc", max_size=40))
def test_suffix_and_lcp_arrays_equal_brute_force(s):
    sa = suffix_array(s)
    assert sa.tolist() == sorted(range(len(s)), key=lambda i: s[i:])
    lcp = lcp_array(s, sa)
    for r in range(1, len(s)):
        x, y = s[sa[r - 1] :], s[sa[r] :]
        h = 0
        while h < min(len(x), len(y)) and x[h] == y[h]:
            h += 1
        assert lcp[r] == h


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab", max_size=40), st.integers(1, 6))
def test_repeated_spans_equal_brute_force(s, k):
    # Brute force: position j starts a later copy if its k-gram appeared at some i < j.
    want = [False] * len(s)
    for j in range(len(s) - k + 1):
        if s[j : j + k] in {s[i : i + k] for i in range(j)}:
            for t in range(j, j + k):
                want[t] = True
    assert repeated_spans(s, k).tolist() == want


def test_substring_dedup_removes_boilerplate_across_documents():
    footer = " -- Copyright 2024 Example Corp. All rights reserved."
    texts = ["First article text." + footer, "Second, different story." + footer]
    assert remove_repeated_substrings(texts, k=20) == [texts[0], "Second, different story"]
    with pytest.raises(ValueError, match="k must be a positive int"):
        repeated_spans("abc", 0)


def test_command_line(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(json.dumps({"text": t, "id": i}) for i, t in enumerate(["a b", "A  b", "c"]))
    )
    main([str(src), str(tmp_path / "out.jsonl"), "--method", "exact"])
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [d["id"] for d in out] == [0, 2]
    assert "kept 2 of 3" in capsys.readouterr().out
    # Bad input: one line, exit status 2, no output file.
    from masterclass.infra.data_cli import run_tool

    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"nope": 1}\n')
    assert run_tool(main, [str(tmp_path / "bad.jsonl"), str(tmp_path / "o2.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[-1]
        == "error: " + str(tmp_path / "bad.jsonl") + ':2: expected an object with a "text" string'
    )
    assert not (tmp_path / "o2.jsonl").exists()
