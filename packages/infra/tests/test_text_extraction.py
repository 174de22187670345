"""HTML-to-text extraction against trafilatura on the shipped pages, and the parser's details."""

from pathlib import Path

import pytest
import trafilatura

from masterclass.infra.text_extraction import extract, token_f1

PAGES = sorted((Path(__file__).parents[1] / "src/masterclass/infra/data/pages").glob("*.html"))


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_extraction_agrees_with_trafilatura(path):
    html = path.read_text(encoding="utf-8")
    ours = extract(html).text
    theirs = trafilatura.extract(html, include_comments=False)
    # Token-overlap F1 >= 0.9 on every page (measured: 1.00 on the article, news and recipe
    # pages; 0.97 on the how-to, whose imprint line we keep and whose table trafilatura keeps).
    assert token_f1(ours, theirs) >= 0.9, (ours, theirs)
    # The clutter is gone: no script, style, menu, cookie banner or footer text.
    for junk in ("console.log", "font-family", "Cookie", "All rights reserved", "Top 10 bikes"):
        assert junk not in ours


def test_links_canonical_and_title():
    page = extract(PAGES[0].read_text(encoding="utf-8"))  # article.html
    assert page.canonical == "https://example.org/geology/rivers"
    assert page.title == "How Rivers Shape Valleys"
    assert page.links[:3] == ["/", "/about", "/contact"]


def test_unclosed_tags_and_link_density():
    html = (
        "<div class='post'><p>First paragraph has enough words in it.<p>Second one too, "
        "with <a href='/x'>a link</a> inside.</div><p><a href='/1'>one</a> <a href='/2'>two</a> "
        "<a href='/3'>three</a> and</p><footer><p>Stray footer words that are long enough"
    )
    text = extract(html).text.splitlines()
    assert text == [
        "First paragraph has enough words in it.",
        "Second one too, with a link inside.",
    ]


def test_token_f1_by_hand():
    # candidate {a, b, c}, reference {a, b, b, d}: 2 in common, P = 2/3, R = 2/4, F1 = 4/7.
    assert token_f1("a b c", "a b b d") == pytest.approx(4 / 7)
    assert token_f1("", "x") == 0.0


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="html must be str"):
        extract(b"<p>bytes</p>")
    with pytest.raises(ValueError, match="min_words must be a non-negative int, got -1"):
        extract("<p>x</p>", min_words=-1)
