r"""# Data collection and cleaning: from raw documents to training shards

What a model learns is bounded by what it reads. Every large pretraining corpus (C4, The Pile,
RefinedWeb, FineWeb) is the output of a pipeline of the same shape, and this chapter runs one
end to end, with the stages in the order that matters:

1. **Normalise Unicode** (NFC) and control characters, so that visually identical strings are
   identical byte strings for every later stage (dedup hashes bytes).
2. **Strip boilerplate** line by line: C4's rules keep lines ending in terminal punctuation
   with at least five words and drop cookie and javascript notices.
3. **Filter** whole documents: language identification, then Gopher's quality and repetition
   rules (length, word lengths, symbol ratios, stop words, repeated lines and $n$-grams).
4. **Deduplicate**: exact duplicates by hash of the normalised text, then near-duplicates by
   MinHash LSH on word 5-gram shingles (Jaccard $\ge 0.8$ merged).
5. **Mask PII**: e-mail addresses, phone numbers and IP addresses become placeholders.
6. **Tokenize** with the byte-level BPE, appending the end-of-text token to each document.
7. **Shard**: write the token stream to memory-mappable shard files for the training loop.

Stages 2–5 are Module 9's (`masterclass.infra.filtering`, `masterclass.infra.dedup`) and stage 7
`masterclass.infra.shards`; tokenization is Module 5's. This chapter composes them, one
algorithm one implementation, and counts what each stage removes, because a pipeline whose
losses are not measured cannot be tuned. Boilerplate stripping comes before filtering (a page
of menus plus one paragraph should be judged on the paragraph); dedup comes after filtering
(cheaper on fewer documents), and PII masking after dedup (masking could make distinct
documents equal, which is harmless, but dedup first is cheaper).

`make_demo_corpus` makes the corpus the page runs on: generated English documents (from
Module 5's grammar) mixed with the kinds of junk a crawl holds (exact and near duplicates,
boilerplate-only pages, another language, keyword spam, personal data), each kind counted so
the test can check that the pipeline removes what it should and keeps the rest.

References: Raffel et al., 2020 (C4); Rae et al., 2021, appendix A (Gopher rules); Lee et al.,
2022, *Deduplicating Training Data Makes Language Models Better*; Penedo et al., 2023
(RefinedWeb).

Left out: crawling and HTML extraction (Module 9's scraping chapters), learned quality
classifiers, and toxicity filtering.

## Exercises

1. Write `nfc_clean(text)`: NFC-normalise and drop control characters other than newline and
   tab. Check it: `uv run pytest --exercise training.data_cleaning`
"""

from __future__ import annotations

import os
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from masterclass.infra.dedup import exact_duplicates, minhash_duplicates
from masterclass.infra.filtering import c4_clean, filter_document, mask_pii
from masterclass.infra.shards import write_token_shards
from masterclass.nlp import BPETokenizer

__all__ = [
    "CleaningReport",
    "clean_corpus",
    "make_demo_corpus",
    "normalize_unicode",
    "run_pipeline",
]


# ## Stage 1: Unicode
#
# NFC composes "e" + combining acute into "é", so both spellings become one code point.
# Control characters (category Cc) other than newline and tab are dropped; they are invisible
# and only break tokenization and hashing.


def normalize_unicode(text: str) -> str:
    r"""NFC, with control characters other than `\n` and `\t` removed.

    >>> normalize_unicode("cafe\u0301\x00!")
    'café!'
    """
    text = unicodedata.normalize("NFC", text)
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


# ## Stages 2-5, counted
#
# `clean_corpus` runs the text stages and records, per stage, how many documents went in and
# came out, and why the filter dropped each one.


@dataclass
class CleaningReport:
    """What each stage of `clean_corpus` kept."""

    # Documents in the raw input.
    raw: int = 0
    # Documents with any text left after boilerplate stripping.
    after_boilerplate: int = 0
    # Documents that passed language and Gopher filters.
    after_filter: int = 0
    # Documents left after exact deduplication.
    after_exact_dedup: int = 0
    # Documents left after near-duplicate (MinHash) deduplication.
    after_near_dedup: int = 0
    # Documents in which PII was masked.
    pii_masked: int = 0
    # Why the filter dropped documents: reason prefix -> count.
    filter_reasons: dict[str, int] = field(default_factory=dict)


def clean_corpus(
    documents: Sequence[str], *, languages: Sequence[str] = ("en",), near_threshold: float = 0.8
) -> tuple[list[str], CleaningReport]:
    """Normalise, strip boilerplate, filter, dedup and mask PII; the kept texts and a report."""
    # Normalise the Unicode and keep only C4's prose lines; a document left empty is gone.
    report = CleaningReport(raw=len(documents))
    docs = [c4_clean(normalize_unicode(d)) for d in documents]
    docs = [d for d in docs if d.strip()]
    report.after_boilerplate = len(docs)
    # Language id and the quality rules, each rejection reason counted by its name.
    kept = []
    for d in docs:
        keep, reasons = filter_document(d, languages)
        if keep:
            kept.append(d)
        for r in reasons:
            key = r.split("=")[0].split(" ")[0]
            report.filter_reasons[key] = report.filter_reasons.get(key, 0) + 1
    report.after_filter = len(kept)
    # Exact duplicates first (cheap), then near-duplicates by MinHash, then PII masking; the report
    # records the count after each stage.
    kept = [kept[i] for i in exact_duplicates(kept)]
    report.after_exact_dedup = len(kept)
    kept = [kept[i] for i in minhash_duplicates(kept, threshold=near_threshold)]
    report.after_near_dedup = len(kept)
    masked = [mask_pii(d) for d in kept]
    report.pii_masked = sum(a != b for a, b in zip(kept, masked, strict=True))
    return masked, report


# ## Stages 6-7: tokens and shards
#
# Each document is encoded as ordinary text (a document cannot inject special tokens) followed
# by the end-of-text id, and the stream is written in shards of `shard_tokens` ids.


def run_pipeline(
    documents: Sequence[str],
    tokenizer: BPETokenizer,
    out_dir: str | os.PathLike,
    *,
    eot: str = "<|endoftext|>",
    shard_tokens: int = 1 << 20,
) -> tuple[list[Path], CleaningReport]:
    """Clean `documents`, tokenize and write shards to `out_dir`; shard paths and the report."""
    if eot not in tokenizer.special_tokens:
        raise ValueError(f"the tokenizer has no {eot!r} special token; train it with one")
    # Each kept document is tokenized without special tokens and closed by one end-of-text id, so
    # the model sees where documents end; the streams become memory-mapped shards.
    texts, report = clean_corpus(documents)
    end = tokenizer.special_tokens[eot]
    streams = [[*tokenizer.encode_ordinary(t), end] for t in texts]
    paths = write_token_shards(
        streams, out_dir, vocab_size=tokenizer.vocab_size, shard_tokens=shard_tokens
    )
    return paths, report


# ## A corpus to run it on
#
# Good documents are paragraphs of generated sentences, long enough for Gopher's 50-word
# minimum. The junk kinds are made from them, so each has a known expected fate.


def _sentences(rng: random.Random, n: int) -> str:
    from masterclass.nlp.corpus import generate_treebank

    sents = generate_treebank(n, seed=rng.randrange(1 << 30))
    return " ".join(" ".join(s.tokens).replace(" .", ".") for s in sents)


def make_demo_corpus(n_good: int = 30, seed: int = 0) -> tuple[list[str], dict[str, int]]:
    """Raw documents with known junk; returns the documents and how many of each kind."""
    rng = random.Random(seed)
    good = [_sentences(rng, 12) for _ in range(n_good)]
    kinds: dict[str, list[str]] = {"good": list(good)}
    kinds["exact_duplicate"] = [g.replace(" ", "  ") for g in good[:5]]  # whitespace differs
    kinds["near_duplicate"] = [g.rsplit(" ", 3)[0] + " and that was all." for g in good[5:10]]
    # The junk, one kind per filter of the pipeline: boilerplate, another language, repetitive spam,
    # and clean text with an e-mail address and a phone number in it.
    kinds["boilerplate_only"] = [
        "Home | About | Contact\nAccept cookies\nThis site uses cookies. Read our cookie policy."
    ] * 3
    kinds["other_language"] = [
        "Der Hund läuft schnell über die große Wiese und die Katze schläft in der warmen Sonne. "
        * 6
    ] * 2
    kinds["spam"] = ["buy cheap shoes now buy cheap shoes now. " * 30] * 2
    with_pii = [_sentences(rng, 12) for _ in range(2)]
    kinds["pii"] = [
        g + " Write to jane.doe@example.com or call 555-123-4567 today." for g in with_pii
    ]
    # Shuffled, so that no filter can rely on the order; the counts are what each filter should
    # catch.
    docs = [d for ds in kinds.values() for d in ds]
    rng.shuffle(docs)
    return docs, {k: len(v) for k, v in kinds.items()}
