r"""# From HTML to text: the main content of a page, its links and its canonical URL

A crawled page is mostly not its content. Of the bytes of a typical news or blog page, the article
is a small part; the rest is scripts, style sheets, navigation menus, cookie banners, share
buttons, related-post lists and footers. Training on all of it teaches a model to write menus,
so every web corpus runs an **extractor** that keeps the main text (CCNet and RefinedWeb used
trafilatura; FineWeb too; DCLM used resiliparse).

This chapter's extractor is a single pass of the standard library's `html.parser`, with three
ideas that do most of the work:

1. **Never text**: whatever is inside `script`, `style`, `noscript`, `template`, `svg` and `head`
   is code or metadata, never prose.
2. **Boilerplate by name**: `nav`, `header`, `footer`, `aside` and `form` elements, and any element
   whose `class` or `id` says *menu*, *nav*, *footer*, *sidebar*, *cookie*, *banner*,
   *breadcrumb*, *share*, *comment* or the like, are dropped with everything inside them.
3. **Blocks and their link density**: text is collected per block (a paragraph, heading, list
   item, table cell, ...). A block whose characters lie mostly inside links,
   $$\text{link density} = \frac{\#\text{characters inside } \langle a \rangle}{\#\text{characters}}
     > \tfrac12 ,$$
   is a list of links, not prose (the rule of Kohlschütter et al.'s boilerpipe), and is dropped,
   as are blocks of fewer than `min_words` words that are not headings or list items.

The kept blocks are joined with newlines. On the shipped pages (`data/pages/`: an article, a
recipe and a news story, each with the usual clutter) the words kept agree with trafilatura's with
a token-overlap $F_1$ above 0.9 (the test states the threshold):
$$P = \frac{|A \cap B|}{|A|},\quad R = \frac{|A \cap B|}{|B|},\quad F_1 = \frac{2PR}{P + R},$$
with $A$, $B$ the two multisets of lower-cased word tokens.

The same pass collects what the crawler needs: every `<a href>` and the page's
`<link rel="canonical" href>`, the URL under which the site says this content lives.

References: A. Barbaresi, *Trafilatura: A Web Scraping Library and Command-Line Tool for Text
Discovery and Extraction*, ACL 2021, <https://aclanthology.org/2021.acl-demo.15>;
C. Kohlschütter, P. Fankhauser and W. Nejdl, *Boilerplate Detection using Shallow Text Features*,
WSDM 2010, <https://doi.org/10.1145/1718487.1718542>.

Left out: the fallbacks trafilatura runs when its first pass finds little (readability's scoring,
jusText), tables as structured data, character-encoding detection (pages are decoded by the
crawler from their `Content-Type` charset, UTF-8 otherwise), and metadata (dates, authors).

## Exercises

1. Write `link_density(html)`: the fraction of the non-whitespace characters of the text that
   lie inside `<a>` elements (0.0 for no text). Check it:
   `uv run pytest --exercise infra.text_extraction`
2. Write `token_f1(candidate, reference)` as defined above.
   Check it: `uv run pytest --exercise infra.text_extraction`
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["ExtractedPage", "extract", "token_f1"]

_NEVER_TEXT = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe"})
_BOILERPLATE_TAGS = frozenset({"nav", "header", "footer", "aside", "form", "button", "select"})
_BOILERPLATE_NAMES = re.compile(
    r"(^|[-_\s])(nav|navbar|menu|footer|sidebar|cookie|cookies|banner|breadcrumbs?|share|"
    r"social|comments?|related|advert|ads?|popup|newsletter|subscribe)([-_\s]|$)",
    re.IGNORECASE,
)
_BLOCKS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th", "tr", "pre", "blockquote",
     "article", "section", "main", "ul", "ol", "table", "br", "dd", "dt", "figcaption", "body"}
)  # fmt: skip
_KEEP_SHORT = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "li", "dt"})
# Elements that never have content or an end tag: they must not be pushed on the stack.
_VOID = frozenset({"br", "img", "meta", "link", "input", "hr", "source", "wbr", "area", "col"})


@dataclass
class ExtractedPage:
    """What one pass over a page finds."""

    # The main text, one block per line.
    text: str
    # Every `<a href>` value, in document order (unresolved: relative to the page).
    links: list[str] = field(default_factory=list)
    # The `<link rel="canonical">` href, or None.
    canonical: str | None = None
    # The `<title>`, or "".
    title: str = ""


# ## One pass over the tags
#
# The parser keeps a stack of open elements and a counter of how many of them are "dropped"
# (never-text or boilerplate): text is recorded only while that counter is zero. Each block
# element ends the current block, so text in a block is the text between two block boundaries;
# `anchor_depth` counts the open `<a>` elements, and `link_chars` the characters inside them, for
# the link density.
class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, dropped)
        self.dropped = 0
        self.links: list[str] = []
        self.canonical: str | None = None
        self.title = ""
        self.in_title = False
        self.anchor_depth = 0
        self.blocks: list[tuple[str, str, int]] = []  # (block tag, text, characters in links)
        self.parts: list[str] = []
        self.link_chars = 0
        self.block_tag = "p"

    # A block's text is its pieces joined with whitespace collapsed; it is recorded with the tag
    # that opened it and the characters that were inside links.
    def _end_block(self, next_tag: str) -> None:
        text = " ".join("".join(self.parts).split())
        if text:
            self.blocks.append((self.block_tag, text, self.link_chars))
        self.parts, self.link_chars, self.block_tag = [], 0, next_tag

    # Links and the canonical URL are collected from every start tag, dropped or not: navigation
    # links are still links to crawl.
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "link" and "canonical" in a.get("rel", "").lower().split() and a.get("href"):
            self.canonical = a["href"]
        if tag == "title":
            self.in_title = True
        # A block element closes the current block. Void elements (`<br>`, `<img>`) have no end tag
        # and never go on the stack; any other element is pushed, marked dropped when its tag or its
        # class or id names boilerplate.
        if tag in _BLOCKS:
            self._end_block(tag)
        if tag in _VOID:
            return
        names = f"{a.get('class', '')} {a.get('id', '')}"
        drop = (
            tag in _NEVER_TEXT or tag in _BOILERPLATE_TAGS or bool(_BOILERPLATE_NAMES.search(names))
        )
        self.stack.append((tag, drop))
        self.dropped += drop
        self.anchor_depth += tag == "a"

    # HTML allows unclosed elements (`<p>` without `</p>`, `<li>` before the next `<li>`): an end
    # tag pops the stack down to its matching start tag, and an end tag that matches nothing
    # open is ignored, so a sloppy page cannot leave the parser stuck in "dropped".
    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _BLOCKS:
            self._end_block("p")
        if not any(t == tag for t, _ in self.stack):
            return
        while self.stack:
            t, drop = self.stack.pop()
            self.dropped -= drop
            self.anchor_depth -= t == "a"
            if t == tag:
                break

    # Text goes to the title while inside `<title>`, and to the current block only outside dropped
    # elements; characters inside links also count towards the link density.
    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        if self.dropped:
            return
        self.parts.append(data)
        if self.anchor_depth:
            self.link_chars += len(data.strip())


# ## Keeping the blocks that read as prose
#
# A block survives if its link density is at most one half and it is long enough, or it is a
# heading or a list item (short by nature, and trafilatura keeps them too).
def extract(html: str, min_words: int = 4) -> ExtractedPage:
    """Main text, links, canonical URL and title of an HTML page.

    >>> page = extract("<nav><a href='/'>Home</a></nav><p>Rivers carve valleys over time.</p>"
    ...                "<footer>(c) 2024</footer>")
    >>> page.text, page.links
    ('Rivers carve valleys over time.', ['/'])
    """
    if not isinstance(html, str):
        raise TypeError(f"html must be str (decode the bytes first), got {type(html).__name__}")
    if not isinstance(min_words, int) or min_words < 0:
        raise ValueError(f"min_words must be a non-negative int, got {min_words!r}")
    # One pass, then the last open block closed by hand.
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    parser._end_block("p")
    kept = []
    for tag, text, link_chars in parser.blocks:
        chars = len(text.replace(" ", ""))
        if link_chars > 0.5 * chars:
            continue
        if len(text.split()) < min_words and tag not in _KEEP_SHORT:
            continue
        kept.append(text)
    return ExtractedPage(
        "\n".join(kept), parser.links, parser.canonical, " ".join(parser.title.split())
    )


# The evaluation metric: extracted text against a hand-made reference, as bags of lower-cased words,
# F1 of their overlap.
def token_f1(candidate: str, reference: str) -> float:
    """Token-overlap F1 of two texts (multisets of lower-cased word tokens).

    >>> token_f1("the cat sat", "the cat sat down")
    0.8571428571428571
    """
    a = Counter(re.findall(r"\w+", candidate.lower()))
    b = Counter(re.findall(r"\w+", reference.lower()))
    common = sum((a & b).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)
