r"""# Exercises: robots.txt: what a site allows a crawler to fetch

Pattern matching and the precedence rule, each checked against protego, Scrapy's parser."""

import re

from protego import Protego

_PATHS = ["/", "/a", "/ab", "/abc", "/a/b", "/a.pdf", "/a.pdf?x", "/b/a.pdf", "/x?q=1", "/aab"]


def solution_1_rule_matches(pattern: str, path: str) -> bool:
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(p) for p in body.split("*")) + (r"\Z" if anchored else "")
    return re.match(regex, path) is not None


def check_1_rule_matches(fn) -> None:
    for pattern in ["/a", "/a$", "/*.pdf$", "/*.pdf", "/a*b", "/*?", "/", "/a*b*c$"]:
        # Independent: a lone Disallow rule blocks a path exactly when its pattern matches.
        rules = Protego.parse(f"User-agent: *\nDisallow: {pattern}")
        for path in _PATHS:
            got, want = fn(pattern, path), not rules.can_fetch(path, "bot")
            assert got == want, f"rule_matches({pattern!r}, {path!r}) = {got}, expected {want}"


def solution_2_decide(rules: list[tuple[bool, str]], path: str) -> bool:
    hits = [(len(p), allow) for allow, p in rules if solution_1_rule_matches(p, path)]
    return max(hits)[1] if hits else True


def check_2_decide(fn) -> None:
    for rules in [
        [(False, "/a"), (True, "/ab")],
        [(True, "/a"), (False, "/a")],
        [(False, "/"), (True, "/a*b"), (False, "/*.pdf$")],
        [(True, "/x"), (False, "/x?q")],
    ]:
        text = "User-agent: *\n" + "\n".join(
            f"{'Allow' if allow else 'Disallow'}: {p}" for allow, p in rules
        )
        theirs = Protego.parse(text)
        for path in _PATHS:
            got, want = fn(rules, path), theirs.can_fetch(path, "bot")
            assert got == want, f"decide({rules}, {path!r}) = {got}, protego says {want}"
