r"""# Deduplication: exact hashes, MinHash with LSH banding, and repeated substrings

A web crawl repeats itself: mirrors, syndicated news, templated pages, the same licence on every
page of a site. Training on duplicates wastes compute and makes a model memorize and regurgitate
them (Lee et al., 2022; Carlini et al., 2023). Three tools, from cheapest to finest:

1. **Exact dedup**: hash each document after light normalization (Unicode NFKC, lower case,
   collapsed whitespace) and keep the first document of each hash.
2. **Near-duplicate dedup with MinHash and LSH** (Broder, 1997): documents that share most of their
   word $n$-grams ("shingles") are the same document with small edits.
3. **Exact substring dedup** with a suffix array (`suffix_array.py`): remove repeated passages
   inside otherwise different documents.

## MinHash estimates Jaccard similarity

The Jaccard similarity of two shingle sets is $J(A, B) = |A \cap B| / |A \cup B|$. Let $\pi$ be a
random permutation of the shingle universe and $m_\pi(A) = \min_{a \in A} \pi(a)$. The smallest
element of $A \cup B$ under $\pi$ is equally likely to be any of its $|A \cup B|$ elements, and
$m_\pi(A) = m_\pi(B)$ exactly when that element lies in $A \cap B$:
$$ P[m_\pi(A) = m_\pi(B)] = \frac{|A \cap B|}{|A \cup B|} = J(A, B). $$
With $P$ independent permutations, the **signature** $(m_{\pi_1}(A), \dots, m_{\pi_P}(A))$ gives
the unbiased estimate $\hat J = \frac1P \sum_k [m_{\pi_k}(A) = m_{\pi_k}(B)]$, a mean of $P$
Bernoulli($J$) variables, so
$$ \operatorname{sd}(\hat J) = \sqrt{J (1 - J) / P}, $$
0.044 at $J = 0.5$, $P = 128$. A true permutation of all strings is impossible; as in `datasketch`
(scheme `affine32`), each shingle is hashed to 32 bits (first 4 bytes of SHA-1), mixed by the
MurmurHash3 finalizer (a fixed bijection that spreads structured inputs), then permuted by
$h \mapsto (a_k h + b_k) \bmod 2^{32}$ with $a_k$ odd, which is a bijection of $[0, 2^{32})$.

## LSH banding finds the candidates without comparing every pair

Comparing all $N^2/2$ pairs of signatures is impossible for a crawl. Cut each signature into $b$
**bands** of $r$ rows ($br = P$) and put each document in one hash bucket per band; two documents
are **candidates** when they share a bucket in at least one band. A band matches with probability
$s^r$ (all $r$ rows equal), so it fails with $1 - s^r$, all $b$ bands fail with $(1 - s^r)^b$, and
$$ P[\text{candidate} \mid J = s] = 1 - (1 - s^r)^b . $$
This is an S-curve whose steepest point is near $s^* \approx (1/b)^{1/r}$: pairs well above the
threshold are almost always found, pairs well below almost never. `bands_for_threshold` picks the
$(b, r)$ whose $s^*$ is closest to the threshold asked for. Candidates are then checked with the
full estimate $\hat J \ge$ threshold, and duplicates are grouped by union-find so that
$A \approx B \approx C$ keeps only $A$.

## References

A. Broder, *On the resemblance and containment of documents*, 1997; J. Leskovec, A. Rajaraman and
J. Ullman, *Mining of Massive Datasets*, ch. 3 (banding); K. Lee et al., *Deduplicating Training
Data Makes Language Models Better*, ACL 2022, <https://arxiv.org/abs/2107.06499>.

Left out: distributed dedup (the buckets become a shuffle in Spark or Dask), semantic dedup with
embeddings (SemDeDup), and the choice of what to keep from a cluster (here: the first).

On the command line: `python -m masterclass.infra.dedup IN.jsonl OUT.jsonl --method minhash`
(or `exact`, `substring`).

## Exercises

1. Write `jaccard_sd(j, num_perm)`, the standard deviation of the MinHash estimate.
   Check it: `uv run pytest --exercise infra.dedup`
2. Write `candidate_probability(s, bands, rows)`, the LSH S-curve, from its derivation.
   Check it: `uv run pytest --exercise infra.dedup`
3. Write `word_shingles(text, n)`: the set of word $n$-grams of a text (lower case, split on
   whitespace; a text shorter than $n$ words is one shingle).
   Check it: `uv run pytest --exercise infra.dedup`
"""

from __future__ import annotations

import argparse
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

from masterclass.infra.data_cli import progress, read_documents, run_tool, write_documents
from masterclass.infra.suffix_array import remove_repeated_substrings

# Exact hashing, MinHash with banded LSH for near-duplicates, and (from the suffix-array chapter)
# removal of repeated passages.
__all__ = [
    "LSHIndex",
    "MinHasher",
    "bands_for_threshold",
    "candidate_probability",
    "exact_duplicates",
    "main",
    "minhash_duplicates",
    "normalize",
    "remove_repeated_substrings",
    "shingles",
]

_MASK32 = np.uint64(0xFFFFFFFF)


# ## Normalization and exact dedup
#
# Two copies of a page often differ only in case, Unicode form (a precomposed "é" against "e" plus a
# combining accent) or whitespace. Normalizing before hashing merges them; anything more (say,
# dropping punctuation) is left to the near-duplicate stage.
def normalize(text: str) -> str:
    """NFKC, lower case, runs of whitespace collapsed to one space, stripped."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


def exact_duplicates(texts: Sequence[str]) -> list[int]:
    """Indices of the documents to keep: the first of each group with equal normalized text.

    >>> exact_duplicates(["Hello  world", "hello world", "other"])
    [0, 2]
    """
    seen: set[bytes] = set()
    keep = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(t).__name__}")
        digest = hashlib.sha256(normalize(t).encode("utf-8")).digest()
        if digest not in seen:
            seen.add(digest)
            keep.append(i)
    return keep


# ## Shingles
#
# A document becomes the set of its word $n$-grams ($n = 5$ by default, as in Gopher and
# many pipelines): small edits change only the $n$ shingles that overlap them.
def shingles(text: str, n: int = 5) -> set[str]:
    """The set of word `n`-grams of the normalized text (the whole text if it is shorter)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (words per shingle), got {n!r}")
    words = normalize(text).split()
    if len(words) <= n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


# ## The MinHash signature
#
# The 32-bit base hash of a shingle, then the MurmurHash3 finalizer $f$: xor-shifts and odd
# multiplications, each invertible modulo $2^{32}$. All arithmetic is done in `uint64` and masked
# to 32 bits, which is exact: a product of two 32-bit numbers fits in 64 bits.
def _base_hash(shingle: str) -> int:
    return int.from_bytes(hashlib.sha1(shingle.encode("utf-8")).digest()[:4], "little")


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(16))
    h = (h * np.uint64(0x85EBCA6B)) & _MASK32
    h = h ^ (h >> np.uint64(13))
    h = (h * np.uint64(0xC2B2AE35)) & _MASK32
    return h ^ (h >> np.uint64(16))


class MinHasher:
    r"""`num_perm` hash permutations $h \mapsto (a_k f(h) + b_k) \bmod 2^{32}$, $a_k$ odd.

    `permutations` is the pair of arrays `(a, b)`, each `(num_perm,)`, drawn from `seed`.
    """

    # The multipliers are odd, which makes each map a bijection modulo 2^32: a true permutation of
    # the hash values.
    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        if not isinstance(num_perm, int) or num_perm < 1:
            raise ValueError(f"num_perm must be a positive int, got {num_perm!r}")
        rng = np.random.default_rng(seed)
        a = rng.integers(0, 1 << 31, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        b = rng.integers(0, 1 << 32, num_perm, dtype=np.uint64)
        self.num_perm = num_perm
        self.permutations = (a, b)

    # The minimum over shingles of every permuted hash, computed as one `(S, P)` array. An empty
    # set has no minimum; its signature is all $2^{32} - 1$, the largest value.
    def signature(self, items: Iterable[str]) -> np.ndarray:
        """The signature `(num_perm,)` (`uint64` holding 32-bit values) of a set of strings."""
        hv = np.array([_base_hash(s) for s in items], dtype=np.uint64)  # (S,)
        if hv.size == 0:
            return np.full(self.num_perm, 0xFFFFFFFF, dtype=np.uint64)
        a, b = self.permutations
        mixed = _fmix32(hv)[:, None]  # (S, 1)
        permuted = (a[None, :] * mixed + b[None, :]) & _MASK32  # (S, P)
        return permuted.min(axis=0)  # (P,)

    @staticmethod
    def jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
        r"""The estimate $\hat J$: the fraction of equal entries of two signatures."""
        if sig_a.shape != sig_b.shape:
            raise ValueError(f"signatures differ in shape: {sig_a.shape} vs {sig_b.shape}")
        return float(np.mean(sig_a == sig_b))


# ## The banding S-curve and choosing (b, r)
def candidate_probability(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    r"""$1 - (1 - s^r)^b$: the probability that a pair with Jaccard `s` becomes a candidate."""
    return 1.0 - (1.0 - np.asarray(s, dtype=np.float64) ** rows) ** bands


def bands_for_threshold(num_perm: int, threshold: float) -> tuple[int, int]:
    r"""The `(bands, rows)` with `bands * rows <= num_perm` whose $(1/b)^{1/r}$ is nearest
    `threshold` (ties: more rows used).

    >>> bands_for_threshold(128, 0.8)
    (11, 11)
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    best = min(
        ((b, num_perm // b) for b in range(1, num_perm + 1)),
        key=lambda br: (abs((1.0 / br[0]) ** (1.0 / br[1]) - threshold), -br[0] * br[1]),
    )
    return best


# ## The LSH index
#
# One dictionary per band, from the bytes of that band's slice of the signature to the keys seen
# with it. Candidates are pairs that share at least one bucket.
class LSHIndex:
    """Band signatures `(bands * rows,)` into buckets; `candidates()` returns the colliding pairs."""

    def __init__(self, bands: int, rows: int) -> None:
        if bands < 1 or rows < 1:
            raise ValueError(f"bands and rows must be >= 1, got bands={bands}, rows={rows}")
        self.bands, self.rows = bands, rows
        self.buckets: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]

    # A band is `rows` consecutive signature entries; its bytes are the bucket key, so two documents
    # collide in a band exactly when all of its entries agree.
    def insert(self, key: int, signature: np.ndarray) -> None:
        """Add `key` with its signature (at least `bands * rows` entries)."""
        if len(signature) < self.bands * self.rows:
            raise ValueError(
                f"signature has {len(signature)} entries, fewer than bands*rows = "
                f"{self.bands * self.rows}: use a MinHasher with more permutations"
            )
        for j, table in enumerate(self.buckets):
            band = signature[j * self.rows : (j + 1) * self.rows].tobytes()
            table.setdefault(band, []).append(key)

    # The candidates are every pair within a bucket, each written once as (smaller, larger).
    def candidates(self) -> set[tuple[int, int]]:
        """Every pair `(i, j)`, `i < j`, sharing a bucket in some band."""
        pairs = set()
        for table in self.buckets:
            for keys in table.values():
                for x in range(len(keys)):
                    for y in range(x + 1, len(keys)):
                        pairs.add((min(keys[x], keys[y]), max(keys[x], keys[y])))
        return pairs


# ## Near-duplicate dedup
#
# Signatures, buckets, candidate pairs checked by $\hat J \ge$ threshold, then union-find: each
# document points at the smallest index of its cluster, and only the roots are kept.
def minhash_duplicates(
    texts: Sequence[str],
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int = 5,
    seed: int = 1,
    show_progress: bool = False,
) -> list[int]:
    """Indices of the documents to keep after merging near-duplicates (first of each cluster)."""
    # Sign every document and index its bands; the threshold picks the bands and rows whose S-curve
    # rises at it.
    hasher = MinHasher(num_perm, seed)
    bands, rows = bands_for_threshold(num_perm, threshold)
    index = LSHIndex(bands, rows)
    items = progress(texts, "minhash") if show_progress else texts
    sigs = []
    for i, t in enumerate(items):
        sigs.append(hasher.signature(shingles(t, ngram)))
        index.insert(i, sigs[-1])
    # Union-find over the candidate pairs whose estimated Jaccard similarity passes the threshold:
    # each cluster's root is its smallest index, which is the document kept (path halving keeps the
    # trees shallow).
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in sorted(index.candidates()):
        if MinHasher.jaccard(sigs[i], sigs[j]) >= threshold:
            ri, rj = root(i), root(j)
            parent[max(ri, rj)] = min(ri, rj)
    return [i for i in range(len(texts)) if root(i) == i]


# ## The command line
def main(argv: Sequence[str] | None = None) -> None:
    """`python -m masterclass.infra.dedup IN OUT [--method exact|minhash|substring] ...`."""
    # The command line: one input, one output, and the method with its parameters.
    ap = argparse.ArgumentParser(prog="python -m masterclass.infra.dedup", description=__doc__)
    ap.description = "Remove duplicate documents (or repeated passages) from a JSONL/txt corpus."
    ap.add_argument("input", help=".jsonl (objects with 'text') or .txt (one document per line)")
    ap.add_argument("output", help="where to write the kept documents (.jsonl)")
    ap.add_argument("--method", choices=["exact", "minhash", "substring"], default="minhash")
    ap.add_argument("--threshold", type=float, default=0.8, help="MinHash Jaccard threshold")
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--ngram", type=int, default=5, help="words per shingle")
    ap.add_argument("--min-len", type=int, default=50, help="shortest repeat to cut (characters)")
    args = ap.parse_args(argv)
    # Exact and MinHash drop whole documents; substring removal shortens documents instead, and
    # drops those left empty.
    docs = read_documents(args.input)
    texts = [d["text"] for d in docs]
    if args.method == "exact":
        kept = [docs[i] for i in exact_duplicates(list(progress(texts, "exact")))]
    elif args.method == "minhash":
        keep = minhash_duplicates(
            texts, args.threshold, args.num_perm, args.ngram, show_progress=True
        )
        kept = [docs[i] for i in keep]
    else:
        cut = remove_repeated_substrings(texts, args.min_len)
        kept = [{**d, "text": t} for d, t in zip(docs, progress(cut, "substring")) if t.strip()]
    n = write_documents(args.output, kept)
    print(f"{args.method}: kept {n} of {len(docs)} documents -> {args.output}")


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
