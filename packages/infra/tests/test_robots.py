"""robots.txt decisions against protego (Scrapy's parser), an independent implementation."""

import random

import pytest
from protego import Protego

from masterclass.infra.robots import parse_robots

BATTERY = [
    # Longest match wins, in both directions.
    "User-agent: *\nDisallow: /private/\nAllow: /private/press/",
    "User-agent: *\nAllow: /shop/\nDisallow: /shop/cart",
    # Allow wins a tie of equal length.
    "User-agent: *\nDisallow: /page\nAllow: /page",
    "User-agent: *\nAllow: /a*\nDisallow: /a*",
    # Wildcards and end anchors.
    "User-agent: *\nDisallow: /*.pdf$\nDisallow: /*?sessionid=\nAllow: /public/*.pdf$",
    "User-agent: *\nDisallow: /a*b*c\nAllow: /a*b$",
    "User-agent: *\nDisallow: /$\nDisallow: /**/tmp/",
    "User-agent: *\nDisallow: /\nAllow: /$\nAllow: /index$",
    # Agent groups: the most specific name, then *, merged groups, a group of two agents.
    "User-agent: masterclassbot\nDisallow: /bots-keep-out\n\nUser-agent: *\nDisallow: /",
    "User-agent: otherbot\nUser-agent: masterclassbot\nDisallow: /shared\nCrawl-delay: 3\n\n"
    "User-agent: *\nDisallow: /everyone\nCrawl-delay: 0.5",
    "User-agent: masterclassbot\nDisallow: /one\n\nUser-agent: *\nDisallow: /two\n\n"
    "User-agent: MasterclassBot\nDisallow: /three",
    "User-agent: masterclass\nDisallow: /short\n\nUser-agent: masterclassbot\nDisallow: /long",
    "User-agent: bot\nDisallow: /\n",
    # Comments, blank values, rules before any agent, unknown and site-wide fields.
    "Disallow: /orphan\nUser-agent: * # everyone\nDisallow: # nothing\nDisallow: /x # comment",
    "User-agent: a\nSitemap: http://h/s.xml\nUser-agent: masterclassbot\nDisallow: /both",
    "User-agent: a\nFoo: bar\nUser-agent: masterclassbot\nDisallow: /second-only",
    "User-agent: *\nCrawl-delay: soon\nDisallow: /d\nCrawl-delay: 2.5",
    "",
    "User-agent: *\nDisallow: /%7euser\nDisallow: /caf%c3%a9/",
]

PATHS = [
    "/",
    "/index",
    "/index.html",
    "/private/",
    "/private/a.html",
    "/private/press/",
    "/private/press/x",
    "/shop/",
    "/shop/cart",
    "/shop/cart/1",
    "/page",
    "/page2",
    "/a",
    "/ab",
    "/abc",
    "/axbyc",
    "/a/b",
    "/doc.pdf",
    "/doc.pdf?x=1",
    "/public/doc.pdf",
    "/public/doc.pdfx",
    "/q?sessionid=9&x",
    "/x/tmp/",
    "/x/y/tmp/z",
    "/bots-keep-out",
    "/shared",
    "/everyone",
    "/one",
    "/two",
    "/three",
    "/short",
    "/long",
    "/orphan",
    "/x",
    "/x?y",
    "/both",
    "/second-only",
    "/d",
    "/robots.txt",
    "/%7Euser",
    "/%7euser/a",
    "/caf%C3%A9/menu",
    "http://host:8000/private/a.html#frag",
    "/only?",
]

AGENTS = ["MasterclassBot/1.0 (+https://example.org/bot)", "masterclassbot", "otherbot", "bot",
          "Mozilla/5.0 (compatible; a/1.0)", "unknown"]  # fmt: skip


@pytest.mark.parametrize("robots", BATTERY)
def test_decisions_equal_protego_on_the_battery(robots):
    ours, theirs = parse_robots(robots), Protego.parse(robots)
    for agent in AGENTS:
        assert ours.crawl_delay(agent) == theirs.crawl_delay(agent), (robots, agent)
        for path in PATHS:
            assert ours.can_fetch(path, agent) == theirs.can_fetch(path, agent), (
                robots,
                agent,
                path,
            )


def test_decisions_equal_protego_on_random_rules():
    # Random rule sets over a tiny alphabet make many patterns overlap, so ties and wildcard
    # interactions that nobody would write by hand are exercised too (400 files x 40 paths).
    rng = random.Random(0)
    chars = "ab/"
    for _ in range(400):
        lines = ["User-agent: *"]
        for _ in range(rng.randint(1, 5)):
            body = "/" + "".join(rng.choice(chars + "*") for _ in range(rng.randint(0, 4)))
            lines.append(f"{rng.choice(['Allow', 'Disallow'])}: {body}{rng.choice(['', '$'])}")
        text = "\n".join(lines)
        ours, theirs = parse_robots(text), Protego.parse(text)
        for _ in range(40):
            path = "/" + "".join(rng.choice(chars) for _ in range(rng.randint(0, 6)))
            assert ours.can_fetch(path, "bot") == theirs.can_fetch(path, "bot"), (text, path)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match=r"text must be the robots\.txt as str, got bytes"):
        parse_robots(b"User-agent: *")
