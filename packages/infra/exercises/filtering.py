r"""# Exercises: Data filtering: Gopher and C4 rules, language identification, PII masking

Computing Gopher's statistics and masking e-mails, each checked against the chapter's rules."""

import re
from collections import Counter

from masterclass.infra.filtering import find_pii, gopher_quality, top_ngram_fraction


def solution_1_mean_word_length(text: str) -> float:
    words = text.split()
    return sum(len(w) for w in words) / len(words) if words else 0.0


def check_1_mean_word_length(fn) -> None:
    assert fn("") == 0.0, "an empty text has mean word length 0.0"
    for text in ["a bb ccc", "The history of the town goes back", "x" * 20 + " y"]:
        got = fn(text)
        # Independent: the Gopher rule fires exactly when the statistic leaves [3, 10].
        fired = any(r.startswith("mean_word_length") for r in gopher_quality(text)[1])
        assert fired == (not 3 <= got <= 10), f"mean_word_length({text!r}) = {got}"
        want = len(text.replace(" ", "")) / len(text.split())
        assert abs(got - want) < 1e-12, f"mean_word_length({text!r}) = {got}, expected {want}"


def solution_2_top_ngram_fraction(text: str, n: int) -> float:
    words = text.split()
    total = sum(len(w) for w in words)
    if len(words) < n or total == 0:
        return 0.0
    counts = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    gram, c = counts.most_common(1)[0]
    return c * sum(len(w) for w in gram) / total


def check_2_top_ngram_fraction(fn) -> None:
    for text, n in [("a b a b a b c", 2), ("buy cheap watches buy cheap watches now", 3), ("x", 2)]:
        got, want = fn(text, n), top_ngram_fraction(text.split(), n)
        assert abs(got - want) < 1e-12, f"top_ngram_fraction({text!r}, {n}) = {got}, want {want}"


def solution_3_mask_emails(text: str) -> str:
    return re.sub(
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "<EMAIL>", text
    )


def check_3_mask_emails(fn) -> None:
    for text in ["mail a.b+c@ex-ample.co.uk now", "two: x@y.io, z@w.org.", "none @ here", "a@b"]:
        spans = [p for p in find_pii(text) if p.kind == "email"]
        want, pos = "", 0
        for p in spans:
            want += text[pos : p.start] + "<EMAIL>"
            pos = p.end
        want += text[pos:]
        got = fn(text)
        assert got == want, f"mask_emails({text!r}) = {got!r}, expected {want!r}"
