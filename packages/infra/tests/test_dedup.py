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


def test_shingles_by_hand_and_the_n_boundary():
    # Hand-listed word 2-grams of four words: three of them, none shorter than 2 words.
    assert shingles("A b  C d", 2) == {"a b", "b c", "c d"}
    assert shingles("a b c d", 1) == {"a", "b", "c", "d"}
    # A text of at most n words is one shingle, the whole (normalized) text.
    assert shingles("a B", 2) == {"a b"}
    assert shingles("", 3) == {""}
    # n = 1 is the smallest accepted; 0 and non-ints are rejected.
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="n must be a positive int"):
            shingles("a b c", bad)


def test_singleton_and_empty_signatures_equal_datasketch():
    # datasketch affine32 with our (a, b): a one-shingle set is its permuted hash, an empty one is
    # all 2^32 - 1 (its initial value). Exact equality.
    hasher = MinHasher(num_perm=16, seed=2)
    for items in ({"only one"}, set()):
        ref = datasketch.MinHash(num_perm=16, permutations=hasher.permutations, scheme="affine32")
        ref.update_batch([s.encode("utf-8") for s in items])
        np.testing.assert_array_equal(hasher.signature(items), ref.hashvalues.astype(np.uint64))
    assert hasher.signature([]).tolist() == [2**32 - 1] * 16


def test_permutations_are_datasketch_draws_from_the_seed():
    # datasketch's affine32 family: a = 2k + 1 with k < 2^31 (odd, below 2^32), b < 2^32; here
    # drawn from numpy's default_rng(seed), so a seed names the same family in every version (a
    # saved LSH index stays valid). Exact equality.
    hasher = MinHasher(num_perm=64, seed=11)
    a, b = hasher.permutations
    assert a.dtype == b.dtype == np.uint64 and a.shape == b.shape == (64,)
    assert np.all(a % 2 == 1) and np.all(a < 2**32) and np.all(b < 2**32)
    rng = np.random.default_rng(11)
    k = rng.integers(0, 2**31, 64, dtype=np.uint64)
    np.testing.assert_array_equal(a, 2 * k + 1)
    np.testing.assert_array_equal(b, rng.integers(0, 2**32, 64, dtype=np.uint64))
    # num_perm = 1 is the smallest accepted.
    assert MinHasher(num_perm=1).signature({"x"}).shape == (1,)
    for bad in (0, -3, 2.0):
        with pytest.raises(ValueError, match="num_perm must be a positive int"):
            MinHasher(bad)


def test_bands_for_threshold_extremes_ties_and_the_open_interval():
    # Hand values: b = P bands of 1 row gives the lowest s* = 1/P; b = 1 band of P rows gives 1.
    assert bands_for_threshold(128, 1e-4) == (128, 1)
    assert bands_for_threshold(128, 0.9999) == (1, 128)
    # Exact ties, broken by more rows used. P = 3: s* = 1 for (1, 3) and 0.5 for (2, 1), both
    # 0.25 from 0.75; (1, 3) uses 3 rows. P = 5: 1/5 and 1/4 are both 0.025 from 0.225 (exactly,
    # in floating point); (5, 1) uses 5 rows, (4, 1) only 4.
    assert abs(1.0 - 0.75) == abs(0.5 - 0.75) and bands_for_threshold(3, 0.75) == (1, 3)
    assert abs(0.2 - 0.225) == abs(0.25 - 0.225) and bands_for_threshold(5, 0.225) == (5, 1)
    # The threshold lies in the open interval (0, 1): both ends are rejected.
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\)"):
            bands_for_threshold(128, bad)


def test_lsh_candidates_equal_brute_force_band_comparison():
    # Reference: every pair i < j with some band's slice equal entry by entry, compared in Python.
    bands, rows = 3, 2
    sigs = {
        0: [1, 2, 3, 4, 5, 6],
        1: [1, 2, 9, 9, 9, 9],  # band 0 with 0 and 2
        2: [1, 2, 7, 7, 5, 6],  # band 0 with 0 and 1, band 2 with 0
        3: [8, 8, 3, 4, 0, 0],  # band 1 with 0
        4: [0, 0, 0, 0, 0, 1],  # shares nothing
        5: [1, 2, 3, 4, 5, 6],  # the same as 0 (and the signature may be longer than 6)
    }
    index = LSHIndex(bands, rows)
    for key, sig in sigs.items():
        index.insert(key, np.array(sig + [42] * (key == 5), dtype=np.uint64))
    want = {
        (i, j)
        for i in sigs
        for j in sigs
        if i < j
        and any(
            sigs[i][k * rows : (k + 1) * rows] == sigs[j][k * rows : (k + 1) * rows]
            for k in range(bands)
        )
    }
    assert index.candidates() == want
    assert all(i < j for i, j in want) and (0, 5) in want and not any(4 in p for p in want)
    # bands = rows = 1 is the smallest index accepted; 0 in either is rejected.
    LSHIndex(1, 1).insert(0, np.zeros(1, dtype=np.uint64))
    for bad in ((0, 1), (1, 0), (0, 0)):
        with pytest.raises(ValueError, match="bands and rows must be >= 1"):
            LSHIndex(*bad)
    with pytest.raises(ValueError, match=r"has 50 entries, fewer than bands\*rows = 100"):
        LSHIndex(10, 10).insert(0, np.zeros(50, dtype=np.uint64))


def test_minhash_merges_a_pair_whose_estimate_equals_the_threshold():
    # The chapter checks candidates by J_hat >= threshold. With P = 4 the pair below has J_hat
    # = 3/4 exactly (exact Jaccard 9/11 at 1-grams); bands_for_threshold(4, 0.75) = (2, 2), and 3
    # equal entries of 4 fill one band, so the pair is a candidate and must be merged.
    a = " ".join(f"w{i}" for i in range(10))
    b = " ".join([f"w{i}" for i in range(9)] + ["x0"])
    hasher = MinHasher(4, seed=1)
    est = MinHasher.jaccard(hasher.signature(shingles(a, 1)), hasher.signature(shingles(b, 1)))
    assert est == 0.75 and bands_for_threshold(4, 0.75) == (2, 2)
    assert minhash_duplicates([a, b], threshold=0.75, num_perm=4, ngram=1) == [0]
    assert minhash_duplicates([a, b], threshold=0.76, num_perm=4, ngram=1) == [0, 1]


def test_minhash_default_shingles_are_five_words():
    # The chapter's default n = 5: "a b c d e" is one 5-gram, "a b c d e f" two, sharing one, so
    # exact Jaccard 1/2 >= 0.3 (J_hat within 3 sd = 0.13 of it); at n = 6 they share nothing.
    texts = ["a b c d e", "a b c d e f"]
    assert (
        len(shingles(texts[0]) & shingles(texts[1])) / len(shingles(texts[0]) | shingles(texts[1]))
        == 0.5
    )
    assert minhash_duplicates(texts, threshold=0.3) == [0]
    assert minhash_duplicates(texts, threshold=0.3, ngram=6) == [0, 1]


def test_command_line_minhash_and_substring(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    texts = ["a b c d e", "a b c d e f", "something else entirely here", "A b c d e"]
    src.write_text("\n".join(json.dumps({"text": t, "id": i}) for i, t in enumerate(texts)))
    # MinHash with the default 5-word shingles: 1 is a near-duplicate of 0 (see above), 3 a copy.
    main([str(src), str(tmp_path / "mh.jsonl"), "--method", "minhash", "--threshold", "0.3"])
    out = [json.loads(x) for x in (tmp_path / "mh.jsonl").read_text().splitlines()]
    assert [d["id"] for d in out] == [0, 2]
    assert "minhash: kept 2 of 4" in capsys.readouterr().out
    # Substring removal, by hand: "a b c d e" (9 characters >= 5) repeats in 1, which keeps " f";
    # 3 differs from 0 only by case, so " b c d e" is cut and "A" stays; nothing is left empty.
    main([str(src), str(tmp_path / "ss.jsonl"), "--method", "substring", "--min-len", "5"])
    out = [json.loads(x) for x in (tmp_path / "ss.jsonl").read_text().splitlines()]
    assert [d["text"] for d in out] == ["a b c d e", " f", "something else entirely here", "A"]
    assert "substring: kept 4 of 4" in capsys.readouterr().out
