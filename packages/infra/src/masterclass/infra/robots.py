r"""# robots.txt: what a site allows a crawler to fetch

A polite crawler asks each site first. `https://host/robots.txt` is a plain-text file of
**groups**: one or more `User-agent:` lines naming crawlers, then the rules that apply to them,

```
User-agent: masterclassbot
User-agent: otherbot
Disallow: /private/
Allow: /private/press/
Crawl-delay: 2

User-agent: *
Disallow: /search
```

The Robots Exclusion Protocol was an informal convention from 1994 until RFC 9309 (2022) wrote down
what Google's parser does. Three decisions make up the protocol:

1. **Which group.** A crawler obeys the one group whose user-agent name matches it most
   specifically (the longest name that begins a word of its `User-Agent` string); only if none
   matches does it obey `*`, and with no group at all everything is allowed. Groups that name the
   same agent are merged. A `User-agent` line that follows a rule starts a new group.
2. **Which rule.** Of the rules whose pattern matches the URL's path and query, the **longest
   pattern wins**, and on a tie between `Allow` and `Disallow` of equal length, `Allow` wins. With
   no matching rule the URL is allowed. A pattern matches from the start of the path; `*` stands
   for any run of characters and a final `$` anchors the pattern at the end of the URL. As a
   regular expression, pattern $p = p_0 {*} p_1 {*} \cdots p_k[\$]$ is
   `^` $p_0$ `.*` $p_1$ `.*` $\cdots p_k$ [`\Z`] with each $p_i$ escaped.
3. **How fast.** `Crawl-delay: s` asks for at least $s$ seconds between two requests to the host
   (not in RFC 9309, honoured by many crawlers; `crawler.py` uses it as a per-host minimum).

The precedence rule is why `Disallow: /private/` and `Allow: /private/press/` mean "nothing under
`/private/` except the press folder": for `/private/press/a.html` both match, and the allow rule
is longer (15 characters against 9).

`/robots.txt` itself is always allowed. An empty `Disallow:` is no rule at all (it used to be the
way to say "allow everything"). The decisions of this parser equal those of
[protego](https://github.com/scrapy/protego) (Scrapy's parser) on the battery of rules in the
tests: wildcards, anchors, precedence, ties, agent groups and crawl delays.

References: M. Koster et al., *Robots Exclusion Protocol*, RFC 9309, 2022,
<https://www.rfc-editor.org/rfc/rfc9309>; Google, *How Google interprets the robots.txt
specification*, <https://developers.google.com/search/docs/crawling-indexing/robots/robots_txt>.

Left out: percent-encoding normalisation beyond upper-casing escapes (protego also decodes
escapes of unreserved characters, so `/%7Ea` and `/~a` compare equal there), the non-standard
`Request-rate` and `Visit-time` fields, protego's tolerance of misspelt fields (`Dissallow`), its
reading of `Allow: /x/index.html` as also allowing `/x/`, and the 500 KiB size limit of RFC 9309.

## Exercises

1. Write `rule_matches(pattern, path)`: does a robots.txt pattern (with `*` and a final `$`)
   match the path? Check it: `uv run pytest --exercise infra.robots`
2. Write `decide(rules, path)` for a list of `(is_allow, pattern)` rules: the longest matching
   pattern wins, Allow on ties, allowed if none matches.
   Check it: `uv run pytest --exercise infra.robots`
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["RobotsRules", "parse_robots"]


# ## Patterns as regular expressions
#
# Each literal piece between `*`s is escaped, each `*` becomes `.*`, and a trailing `$` becomes
# `\Z` (end of string). `re.match` anchors at the start, which is the "matches from the start of
# the path" of the protocol. A rule's priority is the length of its pattern as written.
def _compile(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(piece) for piece in body.split("*"))
    return re.compile(regex + (r"\Z" if anchored else ""), flags=re.DOTALL)


@dataclass
class _Group:
    # Lower-cased user-agent names of the group ("*" for everyone).
    agents: list[str]
    # (pattern length, is_allow, compiled pattern) for every Allow/Disallow rule.
    rules: list[tuple[int, bool, re.Pattern[str]]] = field(default_factory=list)
    # Seconds between requests asked for, or None.
    crawl_delay: float | None = None


# The part of a URL that rules match: path and query, never the scheme, host or fragment.
# Escapes are upper-cased (`%2f` and `%2F` are the same byte) and the path starts with `/`.
def _path_of(url: str) -> str:
    parts = urlsplit(url.partition("#")[0])
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    if "?" in url.partition("#")[0]:
        path += "?" + parts.query
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), path)


class RobotsRules:
    """The parsed groups of one robots.txt; ask it `can_fetch(url, agent)` and `crawl_delay`."""

    def __init__(self, groups: list[_Group]) -> None:
        self.groups = groups

    # ## Choosing the group
    #
    # A group's name matches our `User-Agent` string if it occurs in it at the start of a word
    # (not preceded by a letter, digit, `-` or `_`: `bot` does not match `mybot`), case-folded.
    # The most specific match is the longest name; `*` is the fallback, scored 1, so any named
    # match beats it.
    def _group_for(self, user_agent: str) -> _Group | None:
        ua = user_agent.strip().lower()
        best, best_score = None, 0
        for group in self.groups:
            for name in group.agents:
                score = 1 if name == "*" else _word_match(name, ua)
                if score > best_score:
                    best, best_score = group, score
        return best

    # robots.txt itself is always fetchable, and an agent that no group applies to may fetch
    # anything.
    def can_fetch(self, url: str, user_agent: str) -> bool:
        r"""True if `user_agent` may fetch `url` (a full URL or a path).

        >>> rules = parse_robots("User-agent: *\nDisallow: /private/\nAllow: /private/press/")
        >>> rules.can_fetch("/private/a.html", "bot"), rules.can_fetch("/private/press/a", "bot")
        (False, True)
        """
        path = _path_of(url)
        if path == "/robots.txt":
            return True
        group = self._group_for(user_agent)
        if group is None:
            return True
        # ## The longest match wins, Allow on ties
        #
        # Sorting the matching rules by (length, is_allow) and taking the largest implements both
        # halves of the precedence rule in one comparison.
        matches = [(n, allow) for n, allow, rx in group.rules if rx.match(path)]
        return max(matches)[1] if matches else True

    def crawl_delay(self, user_agent: str) -> float | None:
        """The `Crawl-delay` (seconds) of the group that applies to `user_agent`, or None."""
        group = self._group_for(user_agent)
        return None if group is None else group.crawl_delay


def _word_match(name: str, ua: str) -> int:
    start = ua.find(name)
    while start != -1:
        if start == 0 or not (ua[start - 1].isalnum() or ua[start - 1] in "-_"):
            return len(name)
        start = ua.find(name, start + 1)
    return 0


# ## Parsing
#
# Line by line: strip a `#` comment, split `field: value` at the first colon, fold the field's
# case. Consecutive `User-agent` lines open one group; the first rule line closes its list of
# agents, so the next `User-agent` opens a new group. A group that names an agent already seen
# is merged into the earlier one (one agent, one set of rules). Rules before any `User-agent`
# belong to nobody and are dropped, and so are rules with an empty value. The site-wide fields
# `Sitemap` and `Host` are skipped without closing a group's agent list; any other field closes it.
def parse_robots(text: str) -> RobotsRules:
    r"""Parse the text of a robots.txt file.

    >>> rules = parse_robots("User-agent: *\nCrawl-delay: 1.5\nDisallow: /*.pdf$")
    >>> rules.can_fetch("/a/b.pdf", "x"), rules.can_fetch("/a/b.pdf?v=2", "x")
    (False, True)
    >>> rules.crawl_delay("x")
    1.5
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be the robots.txt as str, got {type(text).__name__}")
    by_agent: dict[str, _Group] = {}
    groups: list[_Group] = []
    current: list[_Group] = []
    last_was_agent = False
    # `current` holds the groups the latest run of User-agent lines named: each rule goes to all of
    # them.
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        name, value = (s.strip() for s in line.split(":", 1))
        name = name.lower()
        if name == "user-agent":
            # A User-agent line after a rule starts a new run. An agent's group is created the first
            # time it is named and reused after, which merges repeated groups.
            if not last_was_agent:
                current = []
            last_was_agent = True
            agent = value.lower()
            # Wildcards inside names are not part of the protocol: `foo*bot` means `foobot`.
            agent = agent if agent == "*" else agent.replace("*", "")
            if not agent:
                continue
            if agent not in by_agent:
                by_agent[agent] = _Group([agent])
                groups.append(by_agent[agent])
            if by_agent[agent] not in current:
                current.append(by_agent[agent])
            continue
        # Any other line ends a run of `User-agent` lines. Sitemap and Host lines belong to no group
        # and are skipped without ending it; a rule line outside any group, or with an empty value,
        # is ignored.
        if name in ("sitemap", "host"):
            continue
        last_was_agent = False
        if name not in ("allow", "disallow", "crawl-delay") or not value or not current:
            continue
        # A rule applies to every group the current agents named. Each is stored with its length:
        # the longest matching pattern decides, and on a tie Allow wins.
        for group in current:
            if name == "crawl-delay":
                delay = _parse_delay(value)
                group.crawl_delay = delay if delay is not None else group.crawl_delay
            else:
                group.rules.append((len(value), name == "allow", _compile(_path_pattern(value))))
    return RobotsRules(groups)


def _parse_delay(value: str) -> float | None:
    try:
        delay = float(value)
    except ValueError:
        return None
    return delay if math.isfinite(delay) and delay >= 0 else None


# Patterns are compared with paths whose escapes were upper-cased; do the same to the pattern.
def _path_pattern(value: str) -> str:
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), value)
