r"""# Exercises: From HTML to text: the main content of a page, its links and its canonical URL

Link density and the token-overlap F1, each checked against values computed by hand."""

import re
from html.parser import HTMLParser


def solution_1_link_density(html: str) -> float:
    class Count(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.depth, self.inside, self.total = 0, 0, 0

        def handle_starttag(self, tag, attrs):
            self.depth += tag == "a"

        def handle_endtag(self, tag):
            self.depth -= tag == "a" and self.depth > 0

        def handle_data(self, data):
            n = len("".join(data.split()))
            self.total += n
            self.inside += n if self.depth else 0

    parser = Count()
    parser.feed(html)
    return parser.inside / parser.total if parser.total else 0.0


def check_1_link_density(fn) -> None:
    # By hand: characters that are not whitespace, inside <a> over all.
    cases = {
        "<p>no links here</p>": 0.0,
        "<p><a href='/'>Home</a> <a href='/b'>Blog</a></p>": 1.0,
        "<p>Read <a href='/x'>this</a> now</p>": 4 / 11,
        "": 0.0,
    }
    for html, want in cases.items():
        got = fn(html)
        assert abs(got - want) < 1e-12, f"link_density({html!r}) = {got}, expected {want}"


def solution_2_token_f1(candidate: str, reference: str) -> float:
    a = re.findall(r"\w+", candidate.lower())
    b = re.findall(r"\w+", reference.lower())
    common = 0
    rest = list(b)
    for w in a:
        if w in rest:
            rest.remove(w)
            common += 1
    if not common:
        return 0.0
    p, r = common / len(a), common / len(b)
    return 2 * p * r / (p + r)


def check_2_token_f1(fn) -> None:
    # By hand: {a, b, c} vs {a, b, b, d}: 2 shared, P = 2/3, R = 1/2, F1 = 4/7.
    cases = [
        (("a b c", "a b b d"), 4 / 7),
        (("The cat", "the CAT"), 1.0),
        (("x", "y"), 0.0),
        (("b b b", "b"), 0.5),
    ]
    for args, want in cases:
        got = fn(*args)
        assert abs(got - want) < 1e-12, f"token_f1{args} = {got}, expected {want}"
