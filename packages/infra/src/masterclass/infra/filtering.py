r"""# Data filtering: Gopher and C4 rules, language identification, PII masking

Most of a web crawl is not text a model should learn from: navigation menus, lists of links,
cookie banners, keyword spam, machine-generated tables, pages in languages the model is not for,
and personal data. Before any learned quality model (`quality.py`), pipelines apply cheap,
transparent **heuristic rules**; each rule is a function of a document that says keep or drop, and
why. This chapter has the two rule sets that most open pipelines copy (Gopher and C4), a
from-scratch language identifier, and masking of e-mail addresses, phone numbers and IP addresses.

## The Gopher rules (Rae et al., 2021, appendix A)

*Quality*: keep a document only if it has 50 to 100,000 words; a mean word length of 3 to 10
characters; fewer than 0.1 hash symbols and 0.1 ellipses per word; at most 90% of lines starting
with a bullet and at most 30% ending with an ellipsis; at least 80% of words containing a letter;
and at least two of the English stop words *the, be, to, of, and, that, have, with*.

*Repetition*: drop a document if more than 30% of its lines (or paragraphs) are duplicates of
earlier ones, or duplicated lines (paragraphs) hold more than 20% of its characters; if the most
frequent word $n$-gram, $n = 2, 3, 4$, covers more than 20%, 18%, 16% of the characters; or if the
characters inside repeated $n$-grams, $n = 5, \dots, 10$, exceed 15%, 14%, ..., 10%. For the
top $n$-gram with count $c$ and words $w_1 \dots w_n$, the fraction is
$$ f_n^{\text{top}} = \frac{c \sum_i |w_i|}{\sum_{w \in \text{doc}} |w|} , $$
and for duplicated $n$-grams every word lying in some occurrence of an $n$-gram that occurs twice
or more is counted once.

## The C4 rules (Raffel et al., 2020, section 2.2)

Line by line: keep only lines that end in terminal punctuation (`.`, `!`, `?`, `"`) and have at
least 5 words; drop lines mentioning *javascript* or policy boilerplate (*terms of use*, *cookie
policy*, ...); strip Wikipedia citation markers (`[1]`, `[citation needed]`). Then page-level: drop
the page if it has fewer than 3 sentences, contains *lorem ipsum*, a curly bracket `{` (code), or a
word from a bad-word list (the original used the LDNOOBW list, not shipped here: pass your own).

## Language identification by character n-grams

A multinomial naive-Bayes classifier over character $n$-grams, $n = 1 \dots 3$ (Cavnar and
Trenkle, 1994; fastText's `lid.176` is the same idea with a learned embedding). By Bayes' rule with
a uniform prior over languages $\ell$ and $n$-grams treated as independent draws,
$$ \log P(\ell \mid x) = \sum_{g \in x} \log P(g \mid \ell) - \log Z(x), \qquad
   P(g \mid \ell) = \frac{c_\ell(g) + \alpha}{\sum_{g'} c_\ell(g') + \alpha |G|} , $$
where $c_\ell(g)$ counts $n$-gram $g$ in the training text of $\ell$, $G$ is the set of all
$n$-grams seen, and additive smoothing $\alpha$ keeps an unseen $n$-gram from zeroing a language.
The normalizer $Z(x)$ is the same for every language, so the prediction is the $\arg\max$ of the
sum; $P(\ell \mid x)$ is a softmax over those sums. The model is trained on the sample shipped in
`data/langid_sample.tsv` (five languages) and agrees with `lingua` on its held-out half.

## PII masking

Regular expressions find candidates and validators reject look-alikes: an e-mail is
`local@domain.tld`; an IP address must parse (`ipaddress`), so `999.1.1.1` is not one; a phone
number has 7 to 15 digits (the E.164 limit) in groups separated by spaces, dots or dashes, the
last of 3 or 4 digits (which keeps dates like 2024-01-15 out), with an optional `+country` or
`(area)` code. Matches are replaced by `<EMAIL>`, `<PHONE>` and `<IP_ADDRESS>`, the tags
BigCode's StarCoder data used.

References: J. Rae et al., *Scaling Language Models: Methods, Analysis & Insights from Training
Gopher*, 2021, <https://arxiv.org/abs/2112.11446>; C. Raffel et al., *Exploring the Limits of
Transfer Learning with a Unified Text-to-Text Transformer*, JMLR 2020,
<https://arxiv.org/abs/1910.10683>; W. Cavnar and J. Trenkle, *N-gram-based text
categorization*, 1994; G. Penedo et al., *The FineWeb Datasets*, 2024.

Left out: the bad-word list itself, URL block lists, names and street addresses in PII (they need
a named-entity model), and language identification for scripts outside the sample.

On the command line: `python -m masterclass.infra.filtering IN.jsonl OUT.jsonl --lang en`.

## Exercises

1. Write `mean_word_length(text)`, the Gopher statistic (characters per whitespace-separated
   word; 0.0 for an empty text). Check it: `uv run pytest --exercise infra.filtering`
2. Write `top_ngram_fraction(text, n)`: the character fraction covered by the most frequent word
   $n$-gram, as defined above. Check it: `uv run pytest --exercise infra.filtering`
3. Write `mask_emails(text)`, replacing every e-mail address by `<EMAIL>`.
   Check it: `uv run pytest --exercise infra.filtering`
"""

from __future__ import annotations

import argparse
import csv
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Only the standard library and the shared reader and writer of the data tools: every filter here is
# a rule or a count (the language identifier is naive Bayes over n-gram counts).
from masterclass.infra.data_cli import progress, read_documents, run_tool, write_documents

__all__ = [
    "LanguageIdentifier",
    "PIIMatch",
    "c4_clean",
    "c4_filter",
    "default_language_identifier",
    "duplicate_ngram_fraction",
    "filter_document",
    "find_pii",
    "gopher_quality",
    "gopher_repetition",
    "load_language_sample",
    "main",
    "mask_pii",
    "top_ngram_fraction",
]

# Gopher's word lists: a real English text contains at least two of these stop words, and a list
# page starts most lines with one of these bullets.
_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
_BULLETS = ("•", "-", "*", "·", "‣", "–", "—")


# ## Gopher quality
#
# Each rule appends a reason naming the statistic and its value, so a rejected document can be
# explained and the thresholds tuned from the reasons' counts.
def gopher_quality(text: str) -> tuple[bool, list[str]]:
    """Gopher's quality rules: `(keep, reasons)`, the reasons empty when kept.

    >>> gopher_quality("Buy now! " * 3)
    (False, ['word_count=6 < 50', 'stop_words=0 < 2'])
    """
    # Word-level rules: a plausible length, a mean word length of ordinary prose, few hash symbols
    # or ellipses per word, and most words containing a letter.
    words = text.split()
    reasons = []
    n = len(words)
    if not 50 <= n <= 100_000:
        reasons.append(f"word_count={n} {'< 50' if n < 50 else '> 100000'}")
    if n:
        mean_len = sum(len(w) for w in words) / n
        if not 3 <= mean_len <= 10:
            reasons.append(f"mean_word_length={mean_len:.2f} outside [3, 10]")
        for symbol in ("#", "..."):
            ratio = (text.count(symbol) + (text.count("…") if symbol == "..." else 0)) / n
            if ratio > 0.1:
                reasons.append(f"symbol_ratio[{symbol}]={ratio:.2f} > 0.1")
        alpha = sum(any(c.isalpha() for c in w) for w in words) / n
        if alpha < 0.8:
            reasons.append(f"alphabetic_words={alpha:.2f} < 0.8")
    # Line-level rules catch lists and teaser pages: almost all lines bulleted, or many lines cut
    # off with an ellipsis.
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines:
        bullets = sum(ln.startswith(_BULLETS) for ln in lines) / len(lines)
        if bullets > 0.9:
            reasons.append(f"bullet_lines={bullets:.2f} > 0.9")
        ellipsis = sum(ln.endswith(("...", "…")) for ln in lines) / len(lines)
        if ellipsis > 0.3:
            reasons.append(f"ellipsis_lines={ellipsis:.2f} > 0.3")
    # The stop-word rule: the number of distinct stop words present, punctuation stripped.
    stops = len(_STOP_WORDS & {w.lower().strip(".,;:!?\"'") for w in words})
    if stops < 2:
        reasons.append(f"stop_words={stops} < 2")
    return not reasons, reasons


# ## Gopher repetition statistics
#
# The most frequent $n$-gram's share of the characters, and the share of characters inside
# $n$-grams that occur more than once (each word counted once however many such $n$-grams cover
# it).
def top_ngram_fraction(words: Sequence[str], n: int) -> float:
    """Characters of the most frequent word `n`-gram (times its count) over all word characters."""
    total = sum(len(w) for w in words)
    if len(words) < n or total == 0:
        return 0.0
    counts = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    gram, count = counts.most_common(1)[0]
    return count * sum(len(w) for w in gram) / total


# A word counts once however many repeated n-grams cover it: mark each covered word, then sum the
# characters of the marked ones.
def duplicate_ngram_fraction(words: Sequence[str], n: int) -> float:
    """Characters of the words covered by some `n`-gram occurring twice or more, over all."""
    total = sum(len(w) for w in words)
    if len(words) < n or total == 0:
        return 0.0
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    covered = [False] * len(words)
    for i, g in enumerate(grams):
        if counts[g] > 1:
            covered[i : i + n] = [True] * n
    return sum(len(w) for w, c in zip(words, covered) if c) / total


def _duplicate_fractions(parts: list[str]) -> tuple[float, float]:
    # (fraction of parts that repeat an earlier one, fraction of characters in those repeats)
    seen: set[str] = set()
    dup, dup_chars = 0, 0
    for p in parts:
        if p in seen:
            dup += 1
            dup_chars += len(p)
        seen.add(p)
    total_chars = sum(len(p) for p in parts)
    return dup / max(len(parts), 1), dup_chars / max(total_chars, 1)


# Gopher's thresholds, per n: short n-grams are judged by the most frequent one, longer ones by the
# share of duplicated text, each limit a little stricter as n grows.
_TOP_LIMITS = {2: 0.20, 3: 0.18, 4: 0.16}
_DUP_LIMITS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


def gopher_repetition(text: str) -> tuple[bool, list[str]]:
    """Gopher's repetition rules: `(keep, reasons)`."""
    reasons = []
    for name, parts in (
        ("lines", [ln.strip() for ln in text.splitlines() if ln.strip()]),
        ("paragraphs", [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]),
    ):
        frac, char_frac = _duplicate_fractions(parts)
        if frac > 0.3:
            reasons.append(f"duplicate_{name}={frac:.2f} > 0.3")
        if char_frac > 0.2:
            reasons.append(f"duplicate_{name}_chars={char_frac:.2f} > 0.2")
    # The same document then as lower-cased words, under every n-gram limit.
    words = text.lower().split()
    for n, limit in _TOP_LIMITS.items():
        f = top_ngram_fraction(words, n)
        if f > limit:
            reasons.append(f"top_{n}gram={f:.2f} > {limit}")
    for n, limit in _DUP_LIMITS.items():
        f = duplicate_ngram_fraction(words, n)
        if f > limit:
            reasons.append(f"duplicate_{n}gram={f:.2f} > {limit}")
    return not reasons, reasons


# ## C4: first the lines, then the page
#
# C4's line rules work on the boilerplate of web pages: policy and cookie notices, and the citation
# markers Wikipedia leaves in copied text.
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies")
_CITATION = re.compile(r"\[\d+\]|\[citation needed\]|\[edit\]", re.IGNORECASE)


def c4_clean(text: str) -> str:
    """The lines C4 keeps: terminal punctuation, >= 5 words, no javascript or policy notices."""
    kept = []
    for line in text.splitlines():
        line = _CITATION.sub("", line).strip()
        low = line.lower()
        if not line.endswith((".", "!", "?", '"')) or len(line.split()) < 5:
            continue
        if "javascript" in low or any(p in low for p in _POLICY) or "use cookies" in low:
            continue
        kept.append(line)
    return "\n".join(kept)


# After the line cleaning, the page as a whole: enough sentences, no placeholder text, no code (a
# curly bracket), and none of the given bad words.
def c4_filter(text: str, bad_words: frozenset[str] = frozenset()) -> tuple[bool, list[str]]:
    r"""C4's page rules on the cleaned text: `(keep, reasons)`.

    >>> c4_filter("Menu\nHome | About\nWe sell the best shoes in the whole town.")
    (False, ['sentences=1 < 3'])
    """
    clean = c4_clean(text)
    low = clean.lower()
    reasons = []
    sentences = len(re.findall(r"[.!?](?:\s|$)", clean))
    if sentences < 3:
        reasons.append(f"sentences={sentences} < 3")
    if "lorem ipsum" in low:
        reasons.append("lorem_ipsum")
    if "{" in clean:
        reasons.append("curly_bracket")
    found = bad_words & set(re.findall(r"\w+", low))
    if found:
        reasons.append(f"bad_words={sorted(found)}")
    return not reasons, reasons


# ## The language identifier
#
# Counting: each text is padded with a space on both sides (so word starts and ends become
# $n$-grams of their own) and lower-cased; its 1- to 3-grams are counted per language.
def _ngrams(text: str, orders: Sequence[int]) -> Counter:
    t = " " + re.sub(r"\s+", " ", text.lower()).strip() + " "
    return Counter(t[i : i + n] for n in orders for i in range(len(t) - n + 1))


class LanguageIdentifier:
    r"""Multinomial naive Bayes over character n-grams; `fit`, then `predict` or `probabilities`."""

    def __init__(self, orders: Sequence[int] = (1, 2, 3), alpha: float = 0.5) -> None:
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0 (additive smoothing), got {alpha!r}")
        self.orders, self.alpha = tuple(orders), alpha
        self.log_probs: dict[str, dict[str, float]] = {}
        self.log_unseen: dict[str, float] = {}
        self.vocab: set[str] = set()

    # Training is counting, then the smoothed log-probabilities $\log P(g \mid \ell)$ of the
    # derivation; an $n$-gram never seen in $\ell$ gets $\log(\alpha / (N_\ell + \alpha |G|))$.
    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> LanguageIdentifier:
        """Count n-grams of `texts` per label and store smoothed log-probabilities."""
        if len(texts) != len(labels) or not texts:
            raise ValueError(f"need as many labels as texts (> 0), got {len(texts)}, {len(labels)}")
        counts: dict[str, Counter] = {}
        for t, lab in zip(texts, labels):
            counts.setdefault(lab, Counter()).update(_ngrams(t, self.orders))
        vocab = set().union(*counts.values())
        self.vocab = vocab
        for lab, c in counts.items():
            denom = sum(c.values()) + self.alpha * len(vocab)
            self.log_probs[lab] = {g: math.log((k + self.alpha) / denom) for g, k in c.items()}
            self.log_unseen[lab] = math.log(self.alpha / denom)
        return self

    def probabilities(self, text: str) -> dict[str, float]:
        r"""$P(\ell \mid x)$ for every language, a softmax of the log-likelihood sums."""
        if not self.log_probs:
            raise ValueError("LanguageIdentifier is not trained: call fit(texts, labels) first")
        # An n-gram that no language has seen carries no evidence for any of them: skipped (as
        # scikit-learn's vectorizer drops it).
        grams = {g: k for g, k in _ngrams(text, self.orders).items() if g in self.vocab}
        scores = {
            lab: sum(k * lp.get(g, self.log_unseen[lab]) for g, k in grams.items())
            for lab, lp in self.log_probs.items()
        }
        top = max(scores.values())
        z = sum(math.exp(s - top) for s in scores.values())
        return {lab: math.exp(s - top) / z for lab, s in scores.items()}

    # The prediction is the language of highest posterior, with its probability as the confidence.
    def predict(self, text: str) -> tuple[str, float]:
        """The most probable language and its probability."""
        probs = self.probabilities(text)
        lab = max(probs, key=probs.__getitem__)
        return lab, probs[lab]


# The shipped sample is a TSV of short texts with their language and split; the default identifier
# is trained once on its training half and cached.
def load_language_sample(split: str = "train") -> tuple[list[str], list[str]]:
    """The shipped sample: `(texts, labels)` of `split` (`"train"` or `"test"`)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = Path(__file__).parent / "data" / "langid_sample.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["split"] == split]
    return [r["text"] for r in rows], [r["lang"] for r in rows]


@lru_cache(maxsize=1)
def default_language_identifier() -> LanguageIdentifier:
    """A `LanguageIdentifier` trained on the shipped sample (en, de, fr, es, it).

    >>> default_language_identifier().predict("Where is the nearest train station?")[0]
    'en'
    """
    return LanguageIdentifier().fit(*load_language_sample("train"))


# ## PII: find, validate, mask
#
# Each pattern finds candidates; IP candidates are validated by parsing, phone candidates by their
# digit count. Overlaps are resolved left to right, longest first, so a phone number is not also
# masked as an IP address.
@dataclass(frozen=True)
class PIIMatch:
    """One piece of personal data: its kind and its span `text[start:end]`."""

    kind: str
    start: int
    end: int


# The patterns are deliberately broad; the IP candidates are then confirmed by `ipaddress`, and the
# phone candidates by their number of digits.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){0,3}"
    r"[\s.-]\d{3,4}(?!\w)"
)
_TAGS = {"email": "<EMAIL>", "phone": "<PHONE>", "ip": "<IP_ADDRESS>"}


# A candidate is an IP address exactly when the standard library parses it as one.
def _valid_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


def find_pii(text: str) -> list[PIIMatch]:
    """Every e-mail address, IP address and phone number in `text`, sorted by position."""
    # Collect every kind of match. A phone number has 7 to 15 digits (E.164's maximum) and is not an
    # IP address.
    found = [PIIMatch("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    for pattern in (_IPV4, _IPV6):
        found += [
            PIIMatch("ip", m.start(), m.end()) for m in pattern.finditer(text) if _valid_ip(m[0])
        ]
    for m in _PHONE.finditer(text):
        digits = sum(c.isdigit() for c in m[0])
        if 7 <= digits <= 15 and not _valid_ip(m[0]):
            found.append(PIIMatch("phone", m.start(), m.end()))
    # Matches can overlap (digits inside an e-mail address); sorted by start, longest first, each
    # match is kept only if it starts after the last kept one ends.
    found.sort(key=lambda p: (p.start, -(p.end - p.start)))
    kept: list[PIIMatch] = []
    for p in found:
        if not kept or p.start >= kept[-1].end:
            kept.append(p)
    return kept


# Masking rebuilds the text from the pieces between the matches, each match replaced by its tag.
def mask_pii(text: str) -> str:
    """`text` with e-mails, phone numbers and IP addresses replaced by tags.

    >>> mask_pii("Mail jane.doe@example.org or call +1 415-555-0132 from 192.168.0.7.")
    'Mail <EMAIL> or call <PHONE> from <IP_ADDRESS>.'
    """
    out, pos = [], 0
    for p in find_pii(text):
        out += [text[pos : p.start], _TAGS[p.kind]]
        pos = p.end
    return "".join(out) + text[pos:]


# ## All together
#
# The order of a real pipeline: language first (the other rules assume English), then Gopher's
# quality and repetition rules. C4's line cleaning changes the text, so it is a separate step.
def filter_document(text: str, languages: Sequence[str] = ("en",)) -> tuple[bool, list[str]]:
    """Language identification, then Gopher quality and repetition: `(keep, reasons)`."""
    lang, prob = default_language_identifier().predict(text)
    reasons = (
        [] if lang in languages else [f"language={lang} ({prob:.2f}) not in {list(languages)}"]
    )
    for rule in (gopher_quality, gopher_repetition):
        reasons += rule(text)[1]
    return not reasons, reasons


# ## The command line
def main(argv: Sequence[str] | None = None) -> None:
    """`python -m masterclass.infra.filtering IN OUT [--lang en] [--c4] [--no-pii]`."""
    ap = argparse.ArgumentParser(
        prog="python -m masterclass.infra.filtering",
        description="Keep documents that pass language id and the Gopher rules; mask PII.",
    )
    ap.add_argument("input", help=".jsonl (objects with 'text') or .txt (one document per line)")
    ap.add_argument("output", help="where to write the kept documents (.jsonl)")
    ap.add_argument("--lang", action="append", help="language(s) to keep (default: en)")
    ap.add_argument(
        "--c4", action="store_true", help="also apply C4's line cleaning and page rules"
    )
    ap.add_argument("--no-pii", action="store_true", help="do not mask e-mails, phones and IPs")
    args = ap.parse_args(argv)
    # Each document goes through language id and the Gopher rules (on the C4-cleaned text with
    # `--c4`, plus C4's page rules); the reasons are counted by name, so the summary says which rule
    # removed what.
    docs = read_documents(args.input)
    kept, why = [], Counter()
    for doc in progress(docs, "filter"):
        text = c4_clean(doc["text"]) if args.c4 else doc["text"]
        keep, reasons = filter_document(text, args.lang or ["en"])
        if args.c4:
            keep_c4, reasons_c4 = c4_filter(doc["text"])
            keep, reasons = keep and keep_c4, reasons + reasons_c4
        why.update(r.split("=")[0].split(" ")[0] for r in reasons)
        if keep:
            kept.append({**doc, "text": text if args.no_pii else mask_pii(text)})
    n = write_documents(args.output, kept)
    print(f"filter: kept {n} of {len(docs)} documents -> {args.output}")
    for reason, count in why.most_common():
        print(f"  {reason}: {count}")


if __name__ == "__main__":
    raise SystemExit(run_tool(main))
