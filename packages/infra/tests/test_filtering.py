"""Filtering: Gopher and C4 rule batteries, language id against scikit-learn and lingua, PII."""

import json

import numpy as np
import pytest

from masterclass.infra.data_cli import run_tool
from masterclass.infra.filtering import (
    LanguageIdentifier,
    c4_clean,
    c4_filter,
    default_language_identifier,
    duplicate_ngram_fraction,
    filter_document,
    find_pii,
    gopher_quality,
    gopher_repetition,
    load_language_sample,
    main,
    mask_pii,
    top_ngram_fraction,
)

GOOD = (
    "The history of the town goes back to the twelfth century, when a small group of farmers "
    "settled near the river and built a wooden church. Over the next two hundred years the "
    "settlement grew into a market town with a stone bridge, a mill and a busy harbour.\n"
    "Today the old centre is a popular destination for visitors, who come to see the narrow "
    "streets, the museum of local crafts and the gardens that have been kept by the same family "
    "for generations. Most of the residents work in tourism, education or the nearby hospital."
)


def test_a_clean_document_passes_every_rule():
    assert gopher_quality(GOOD) == (True, [])
    assert gopher_repetition(GOOD) == (True, [])
    assert filter_document(GOOD) == (True, [])


@pytest.mark.parametrize(
    "text, reason",
    [
        (" ".join(["the cat and the dog"] * 9), "word_count=45 < 50"),
        (GOOD.replace("e", "eeeeeeeeeeeee"), "mean_word_length="),
        (GOOD + " #tag" * 12, "symbol_ratio[#]="),
        (GOOD + " so... then" * 15, "symbol_ratio[...]="),
        (
            "\n".join(f"• the item number {i} of the list with more words" for i in range(10)),
            "bullet_lines=1.00 > 0.9",
        ),
        (
            GOOD + "\nAnd then the story went on in the same way for a while...\nNobody knew "
            "what would happen next in the town...",
            "ellipsis_lines=0.50 > 0.3",
        ),
        (GOOD + " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25", "alphabetic"),
        (
            "Quarterly revenue grew strongly across every region while operating costs fell. " * 6,
            "stop_words=0 < 2",
        ),
    ],
)
def test_each_gopher_quality_rule_fires_alone(text, reason):
    keep, reasons = gopher_quality(text)
    assert not keep and len(reasons) == 1 and reasons[0].startswith(reason), reasons


def test_word_count_boundary():
    words = ("the house with that tree " * 10).split()
    assert gopher_quality(" ".join(words[:50])) == (True, [])
    assert gopher_quality(" ".join(words[:49])) == (False, ["word_count=49 < 50"])


def _brute_duplicate_fraction(words, n):
    # Independent: a word is covered when some window containing it occurs elsewhere too.
    text_windows = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    covered = 0
    for j, w in enumerate(words):
        starts = range(max(0, j - n + 1), min(j, len(words) - n) + 1)
        if any(text_windows.count(text_windows[s]) > 1 for s in starts):
            covered += len(w)
    return covered / sum(map(len, words))


def test_repetition_statistics_equal_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        words = [f"w{x}" for x in rng.integers(0, 4, 30)]
        for n in (2, 3, 5):
            assert duplicate_ngram_fraction(words, n) == pytest.approx(
                _brute_duplicate_fraction(words, n), abs=1e-12
            )
            grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
            best = max(grams.count(g) * sum(map(len, g)) for g in grams)
            assert top_ngram_fraction(words, n) == pytest.approx(best / sum(map(len, words)))


def test_gopher_repetition_catches_repeated_lines_and_ngrams():
    lines = GOOD + "\n" + "\n".join(["Subscribe to our newsletter for more news."] * 6)
    keep, reasons = gopher_repetition(lines)
    assert not keep and any(r.startswith("duplicate_lines=") for r in reasons)
    spam = GOOD + " " + "cheap watches online " * 30
    keep, reasons = gopher_repetition(spam)
    assert not keep and any(r.startswith("top_3gram") for r in reasons)
    assert any(r.startswith("duplicate_10gram") for r in reasons)


def test_c4_line_and_page_rules():
    page = (
        "Home | Products | Contact\n"
        "Please enable JavaScript to view the comments on this page.\n"
        "This site uses cookies to improve your experience of it.\n"
        "The river[1] flows north for about two hundred kilometres.\n"
        "It was used for trade since the Roman period at least.\n"
        "Many towns grew along its banks over the centuries that followed.\n"
        "Too short."
    )
    assert c4_clean(page).splitlines() == [
        "The river flows north for about two hundred kilometres.",
        "It was used for trade since the Roman period at least.",
        "Many towns grew along its banks over the centuries that followed.",
    ]
    assert c4_filter(page) == (True, [])
    assert c4_filter(page + "\nLorem ipsum dolor sit amet, consectetur.")[1] == ["lorem_ipsum"]
    assert c4_filter(page + "\nfunction f() { return 1; } is code here.")[1] == ["curly_bracket"]
    assert c4_filter(page, bad_words=frozenset({"trade"}))[1] == ["bad_words=['trade']"]


def _sklearn_ngrams(text):
    # Written independently of the chapter's helper: pad, lower, 1- to 3-grams.
    t = " " + " ".join(text.lower().split()) + " "
    return [t[i : i + n] for n in (1, 2, 3) for i in range(len(t) - n + 1)]


@pytest.mark.slow  # importing scikit-learn takes seconds
def test_naive_bayes_probabilities_equal_scikit_learn():
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB

    texts, labels = load_language_sample("train")
    ours = LanguageIdentifier(alpha=0.5).fit(texts, labels)
    vec = CountVectorizer(analyzer=_sklearn_ngrams, lowercase=False)
    ref = MultinomialNB(alpha=0.5, fit_prior=False).fit(vec.fit_transform(texts), labels)
    test, _ = load_language_sample("test")
    want = ref.predict_proba(vec.transform(test[::7]))
    got = np.array([[ours.probabilities(t)[c] for c in ref.classes_] for t in test[::7]])
    # Same model, different summation order of ~150 log-probabilities: 1e-9 absolute.
    np.testing.assert_allclose(got, want, atol=1e-9)


@pytest.mark.slow
def test_language_id_agrees_with_lingua_on_the_held_out_sample():
    from lingua import Language, LanguageDetectorBuilder

    codes = {
        Language.ENGLISH: "en",
        Language.GERMAN: "de",
        Language.FRENCH: "fr",
        Language.SPANISH: "es",
        Language.ITALIAN: "it",
    }
    detector = LanguageDetectorBuilder.from_languages(*codes).build()
    texts, _ = load_language_sample("test")
    lid = default_language_identifier()
    agree = [lid.predict(t)[0] == codes[detector.detect_language_of(t)] for t in texts]
    assert np.mean(agree) >= 0.95, np.mean(agree)


def test_language_identifier_errors():
    with pytest.raises(ValueError, match="not trained"):
        LanguageIdentifier().predict("hello")
    with pytest.raises(ValueError, match="alpha must be > 0"):
        LanguageIdentifier(alpha=0)
    with pytest.raises(ValueError, match="split must be"):
        load_language_sample("dev")


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("write to john.smith+news@mail.example.co.uk today", ["email"]),
        ("server at 10.0.0.255, backup 2001:db8::ff00:42:8329", ["ip", "ip"]),
        ("call (415) 555-2671 or +44 20 7946 0958", ["phone", "phone"]),
        ("phone: 030 1234 5678.", ["phone"]),
        ("version 1.2.3 released on 2024-01-15", []),
        ("999.300.1.1 is not an address", []),
        ("the year 1999 had 365 days", []),
        ("room 12-34", []),
        ("time 12:30 and ratio 3:4", []),
    ],
)
def test_pii_battery(text, kinds):
    assert [p.kind for p in find_pii(text)] == kinds


def test_mask_pii_replaces_spans():
    assert mask_pii("ip 8.8.8.8; mail a@b.io") == "ip <IP_ADDRESS>; mail <EMAIL>"
    assert mask_pii("nothing here") == "nothing here"


def test_command_line(tmp_path, capsys):
    docs = [{"text": GOOD + " Contact me at jo@example.com.", "id": 1}, {"text": "short", "id": 2}]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(d) for d in docs))
    main([str(src), str(tmp_path / "out.jsonl")])
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [d["id"] for d in out] == [1] and out[0]["text"].endswith("<EMAIL>.")
    assert "kept 1 of 2" in capsys.readouterr().out
    assert run_tool(main, [str(tmp_path / "missing.jsonl"), str(tmp_path / "o.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
