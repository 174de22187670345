r"""# A polite web crawler: frontier, robots.txt, rate limits, retries and WARC output

Every web corpus (Common Crawl, and through it C4, RefinedWeb, FineWeb, DCLM) starts with a
crawler: a loop that takes a URL from a **frontier**, fetches it, stores the response, and adds
the page's links to the frontier. The loop is ten lines; what makes a crawler usable is
everything that keeps it **polite** (a site owner must never regret being crawled) and **robust**
(the web is full of errors, traps and junk):

- **robots.txt** first, for every host (`robots.py`): a URL it disallows is never fetched. If the
  file is missing (a 4xx status) everything is allowed; if the server fails (5xx, or no answer
  after retries) the crawler assumes everything is disallowed, as RFC 9309 asks.
- **One request at a time per host, spaced**: at least `min_delay` seconds apart, or the host's
  `Crawl-delay` if that is longer.
- **Retries with exponential backoff** on overload (HTTP 429 and 5xx) and network errors. Attempt
  $k = 0, 1, \dots$ that fails waits
  $$ d_k = \max\!\bigl(\min(b \cdot 2^{k},\ d_{\max}),\ \text{Retry-After}\bigr) $$
  before trying again: doubling the wait after each failure makes a crowd of clients back off
  geometrically, so an overloaded server gets the quiet it needs to recover; the cap $d_{\max}$
  bounds one wait; and a `Retry-After` header (seconds or an HTTP date) is the server saying how
  long, so it is never undercut.
- **Limits**: only `text/html` is kept (checked from the headers, before the body is read), and a
  body larger than `max_bytes` is abandoned (the `Content-Length` says so up front, or the read
  stops at `max_bytes + 1`), so a video or an endless stream cannot fill the disk.
- **Canonical URLs and a deduplicating frontier**: `HTTP://Example.com:80/a/./b/../c?y=2&x=1#top`
  and `http://example.com/a/c?x=1&y=2` are the same page. Every URL is normalised before it is
  queued, and a URL already seen is never queued again; a page's `<link rel=canonical>` marks its
  canonical URL as seen too, and a page whose text was already stored is dropped.
- **WARC output**: each fetch is written as a `request` and a `response` record of WARC/1.1
  (ISO 28500), the format of Common Crawl and the Internet Archive, so that extraction can be
  re-run later without crawling again.

## Canonical URLs

Normalisation (RFC 3986 section 6) lowercases the scheme and host, drops the default port (80 for
http, 443 for https) and the fragment (it never reaches the server), upper-cases percent escapes,
removes dot segments, makes an empty path `/`, and sorts the query's `key=value` pairs (a
site-specific step: most servers ignore the order, and sorting merges the copies that differ
only in it). Dot segments are removed by the algorithm of RFC 3986 section 5.2.4: walk the path,
keep segments on an output stack, let `.` vanish and `..` pop the last kept segment.

## The WARC record

A record is a version line, named header fields, a blank line and a block of exactly
`Content-Length` bytes, followed by two CRLFs:

```
WARC/1.1
WARC-Type: response
WARC-Record-ID: <urn:uuid:...>
WARC-Date: 2026-12-02T04:30:00Z
WARC-Target-URI: http://127.0.0.1:8000/a.html
WARC-Concurrent-To: <urn:uuid:... of the request>
WARC-Block-Digest: sha1:<base32 of the SHA-1 of the block>
WARC-Payload-Digest: sha1:<base32 of the SHA-1 of the HTTP body>
Content-Type: application/http; msgtype=response
Content-Length: 1234

HTTP/1.1 200 OK
Content-Type: text/html
...
```

The block of a response record is the HTTP response as received (status line, headers, body).
`warcio`, the Internet Archive's library, reads what this writes back, with its digests
checked, in the tests.

References: M. Koster, *Guidelines for Robot Writers*, 1993; C. Olston and M. Najork, *Web
Crawling*, Foundations and Trends in IR 4(3), 2010, <https://doi.org/10.1561/1500000017>;
ISO 28500:2017, *The WARC File Format 1.1*,
<https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/>;
T. Berners-Lee et al., RFC 3986, *URI: Generic Syntax*, <https://www.rfc-editor.org/rfc/rfc3986>;
M. Brooker, *Exponential Backoff And Jitter*, AWS Architecture Blog, 2015.

Left out: concurrency (a real crawler keeps thousands of hosts busy at once, one connection each,
with an event loop or threads; here hosts are visited in turn), random jitter on the backoff
(needed when many clients retry together), prioritising the frontier (PageRank-like or by
freshness), sitemaps, `https` certificate policy, cookies and JavaScript rendering, and WARC
`revisit` records for unchanged pages. Chunked responses are stored de-chunked with a
`Content-Length` in place of `Transfer-Encoding`, and requests ask for `identity` encoding, so a
payload in the file is the body as served.

On the command line: `python -m masterclass.infra.crawler URL --out crawl.warc --max-pages 50`.

## Exercises

1. Write `remove_dot_segments(path)`, RFC 3986's algorithm (`/a/b/c/./../../g` gives `/a/g`).
   Check it: `uv run pytest --exercise infra.crawler`
2. Write `backoff_delay(attempt, base, cap, retry_after)` as in the formula above (`retry_after`
   may be None). Check it: `uv run pytest --exercise infra.crawler`
3. Write `warc_block_digest(block)`: `"sha1:"` followed by the base-32 SHA-1 of the bytes, the
   digest WARC records carry. Check it: `uv run pytest --exercise infra.crawler`
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import hashlib
import http.client
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO
from urllib.parse import urljoin, urlsplit, urlunsplit

# The crawler's own parts come from neighbouring chapters: robots.txt rules, HTML text extraction,
# and the shared command-line plumbing. Everything else is the standard library.
from masterclass.infra.data_cli import run_tool, write_documents
from masterclass.infra.robots import RobotsRules, parse_robots
from masterclass.infra.text_extraction import extract

__all__ = [
    "CrawlConfig",
    "CrawlReport",
    "Frontier",
    "WarcWriter",
    "backoff_delay",
    "canonical_url",
    "crawl",
    "main",
    "parse_retry_after",
    "remove_dot_segments",
]

# The two schemes crawled, with the ports a canonical URL leaves out, and the statuses that are
# redirects.
_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class CrawlConfig:
    """How politely and how far to crawl."""

    # Sent as `User-Agent`; its first word is the name robots.txt groups address.
    user_agent: str = "masterclassbot/0.1 (+https://github.com/masterclass-course)"
    # Stop after storing this many pages.
    max_pages: int = 100
    # Minimum seconds between two requests to one host (robots.txt's Crawl-delay may raise it).
    min_delay: float = 1.0
    # Retries after a 429, a 5xx or a network error (so at most max_retries + 1 attempts).
    max_retries: int = 3
    # First backoff wait b in seconds; attempt k waits b * 2^k.
    backoff_base: float = 0.5
    # Longest backoff wait d_max in seconds (a Retry-After header may ask for more).
    backoff_cap: float = 60.0
    # Bodies larger than this many bytes are abandoned.
    max_bytes: int = 2_000_000
    # Media types that are stored; anything else is skipped from its headers.
    allowed_types: tuple[str, ...] = ("text/html",)
    # Seconds to wait for a connection or a read.
    timeout: float = 10.0
    # Follow links only to the hosts of the seed URLs.
    same_host: bool = True

    # A frozen config is checked once: times are non-negative numbers, counts non-negative ints.
    def __post_init__(self) -> None:
        for name in ("min_delay", "backoff_base", "backoff_cap", "timeout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"CrawlConfig.{name} must be a number >= 0, got {value!r}")
        for name in ("max_pages", "max_retries", "max_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"CrawlConfig.{name} must be an int >= 0, got {value!r}")


# ## Canonical URLs
#
# RFC 3986 section 5.2.4, step by step: the input is consumed from the left. A leading `../` or
# `./` is dropped (A); `/./` and a final `/.` become `/` (B); `/../` and a final `/..` become `/`
# and remove the last segment already output (C); a lone `.` or `..` vanishes (D); anything else
# moves its first segment, with its leading `/`, to the output (E).
def remove_dot_segments(path: str) -> str:
    """Resolve `.` and `..` segments of a URL path (RFC 3986, section 5.2.4).

    >>> remove_dot_segments("/a/b/c/./../../g"), remove_dot_segments("mid/content=5/../6")
    ('/a/g', 'mid/6')
    """
    inp, out = path, ""
    while inp:
        # The first rule that matches, A to E in order, consumes input from the left; only rule C
        # removes output, its last segment.
        if inp.startswith("../"):
            inp = inp[3:]
        elif inp.startswith("./"):
            inp = inp[2:]
        elif inp.startswith("/./") or inp == "/.":
            inp = "/" + inp[3:]
        elif inp.startswith("/../") or inp == "/..":
            inp = "/" + inp[4:]
            out = out[: max(out.rfind("/"), 0)]
        elif inp in (".", ".."):
            inp = ""
        else:
            cut = inp.find("/", 1)
            cut = len(inp) if cut == -1 else cut
            out, inp = out + inp[:cut], inp[cut:]
    return out


# Percent-escapes are case-insensitive (`%2f` is `%2F`); the canonical form writes them upper-case.
def _upper_escapes(s: str) -> str:
    parts = s.split("%")
    return parts[0] + "".join(
        "%" + p[:2].upper() + p[2:] if len(p) >= 2 and _is_hex(p[:2]) else "%" + p
        for p in parts[1:]
    )


def _is_hex(s: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in s)


def canonical_url(url: str, base: str | None = None) -> str:
    """The normal form of `url` (resolved against `base` if relative); only http(s) URLs.

    >>> canonical_url("HTTP://Example.COM:80/a/./b/../c?y=2&x=1#top")
    'http://example.com/a/c?x=1&y=2'
    >>> canonical_url("../d.html", base="https://example.com:443/a/b/c.html")
    'https://example.com/a/d.html'
    """
    # Resolve against the base, then normalise each part: lower-case scheme and host, the default
    # port dropped, dot segments removed, escapes upper-cased, query parameters sorted, and the
    # fragment (which never reaches the server) removed. Equal pages then get equal strings.
    if not isinstance(url, str):
        raise TypeError(f"url must be str, got {type(url).__name__}")
    absolute = urljoin(base, url.strip()) if base else url.strip()
    parts = urlsplit(absolute)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"url must be http:// or https://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"url has no host: {url!r}")
    host = parts.hostname.lower()
    netloc = host if parts.port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{parts.port}"
    path = _upper_escapes(remove_dot_segments(parts.path)) or "/"
    query = "&".join(sorted(_upper_escapes(q) for q in parts.query.split("&") if q))
    return urlunsplit((scheme, netloc, path, query, ""))


# ## The frontier
#
# A first-in first-out queue gives a breadth-first crawl: pages near the seeds first, which is
# what a small crawl wants (a deep-first crawl walks into calendars and other infinite link
# spaces). The `seen` set holds every canonical URL ever queued or known to be a copy, so that
# each page is fetched once however many links point at it.
class Frontier:
    """A FIFO queue of canonical URLs that accepts each URL once."""

    def __init__(self) -> None:
        self.queue: deque[str] = deque()
        self.seen: set[str] = set()

    # A URL counts as seen from the moment it is queued, so two links to one page queue it once.
    def push(self, url: str) -> bool:
        """Queue `url` unless it was seen before; True if queued."""
        if url in self.seen:
            return False
        self.seen.add(url)
        self.queue.append(url)
        return True

    def pop(self) -> str:
        """The oldest queued URL."""
        return self.queue.popleft()

    def __len__(self) -> int:
        return len(self.queue)


# ## Backoff
#
# The exponential wait, capped, and never shorter than what the server asked for.
def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt `attempt` (0-based).

    >>> [backoff_delay(k, 0.5, 3.0) for k in range(4)], backoff_delay(0, 0.5, 3.0, retry_after=7)
    ([0.5, 1.0, 2.0, 3.0], 7)
    """
    if not isinstance(attempt, int) or attempt < 0:
        raise ValueError(f"attempt must be an int >= 0, got {attempt!r}")
    delay = min(base * 2**attempt, cap)
    return delay if retry_after is None else max(delay, retry_after)


# `Retry-After` is either a number of seconds or an HTTP date (RFC 9110, section 10.2.3); a date
# becomes the seconds from `now` until then. Anything unreadable is ignored.
def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a `Retry-After` header value, or None.

    >>> parse_retry_after("120"), parse_retry_after("soon")
    (120.0, None)
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


# ## WARC records
#
# Digests are SHA-1 in base 32, the WARC convention. Record ids are UUIDs, derived from a
# per-file seed and a counter so that the same crawl writes the same file (apart from dates).
def _sha1_base32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


# A WARC record is a block of headers, a blank line, the payload and two CRLFs. The writer only
# appends records to its stream and counts them, for the ids.
class WarcWriter:
    """Write WARC/1.1 records to a binary stream."""

    def __init__(self, stream: BinaryIO, seed: str = "masterclass") -> None:
        self.stream = stream
        self.seed = seed
        self.count = 0

    def _record_id(self) -> str:
        self.count += 1
        return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{self.seed}#{self.count}')}>"

    # Every record carries its type, id and date, the URI it is about, and a SHA-1 digest of its
    # block, so a reader can check the payload it gets.
    def write(
        self,
        warc_type: str,
        block: bytes,
        content_type: str,
        target_uri: str | None = None,
        extra: Sequence[tuple[str, str]] = (),
    ) -> str:
        """Write one record and return its `WARC-Record-ID`."""
        record_id = self._record_id()
        date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = [("WARC-Type", warc_type), ("WARC-Record-ID", record_id), ("WARC-Date", date)]
        if target_uri is not None:
            headers.append(("WARC-Target-URI", target_uri))
        headers += [*extra, ("WARC-Block-Digest", _sha1_base32(block))]
        headers += [("Content-Type", content_type), ("Content-Length", str(len(block)))]
        head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        self.stream.write(head.encode("utf-8") + block + b"\r\n\r\n")
        return record_id

    # An HTTP exchange is two records linked by `WARC-Concurrent-To`; the response also carries the
    # digest of its payload alone, the body without HTTP headers.
    def write_exchange(self, url: str, request: bytes, response: bytes, body: bytes) -> None:
        """A `request` record and the `response` record concurrent to it."""
        req_id = self.write("request", request, "application/http; msgtype=request", url)
        self.write(
            "response",
            response,
            "application/http; msgtype=response",
            url,
            [("WARC-Concurrent-To", req_id), ("WARC-Payload-Digest", _sha1_base32(body))],
        )


# ## One fetch
#
# `http.client` sends exactly the headers given (with `Host` and `Accept-Encoding` among them it
# adds none of its own), so the request bytes stored in the WARC file are the ones sent. The body
# is read only after the status, type and length allow it.
@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    request: bytes
    raw: bytes
    skip: str = ""  # why the body was not read ("" when it was)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _fetch(url: str, config: CrawlConfig, types: tuple[str, ...] | None = None) -> _Response:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    # `identity` asks for the body uncompressed, `close` for one connection per request (no
    # keep-alive bookkeeping, at the price of a TCP handshake per page).
    headers = {
        "Host": parts.netloc,
        "User-Agent": config.user_agent,
        "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
        "Accept-Encoding": "identity",
        "Connection": "close",
    }
    request = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    conn = conn_class(parts.hostname, parts.port, timeout=config.timeout)
    try:
        conn.request("GET", target, headers=headers)
        resp = conn.getresponse()
        resp_headers = resp.getheaders()
        result = _Response(resp.status, resp_headers, b"", (request + "\r\n").encode(), b"")
        # The limits, decided from the headers before any of the body is read: a disallowed type
        # or an announced length over the limit closes the connection unread; without a length,
        # reading `max_bytes + 1` bytes is enough to know the body is too long.
        media = resp.headers.get_content_type()
        length = resp.headers.get("Content-Length")
        types = config.allowed_types if types is None else types
        if resp.status == 200 and types and media not in types:
            result.skip = f"content type {media} not in {list(types)}"
        elif length is not None and length.isdigit() and int(length) > config.max_bytes:
            result.skip = f"Content-Length {length} > max_bytes {config.max_bytes}"
        else:
            body = resp.read(config.max_bytes + 1)
            if len(body) > config.max_bytes:
                result.skip = f"body longer than max_bytes {config.max_bytes}"
            result.body = body
    finally:
        conn.close()
    # The response as stored: a de-chunked body gets a Content-Length instead.
    kept = [(k, v) for k, v in resp_headers if k.lower() != "transfer-encoding"]
    if len(kept) != len(resp_headers):
        kept.append(("Content-Length", str(len(result.body))))
    version = "HTTP/1.0" if resp.version == 10 else "HTTP/1.1"
    head = f"{version} {resp.status} {resp.reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kept)
    result.raw = (head + "\r\n").encode("latin-1") + result.body
    return result


@dataclass
class CrawlReport:
    """What a crawl did."""

    # Stored pages: dicts with "url" (canonical), "fetched_url", "title" and "text".
    pages: list[dict[str, str]] = field(default_factory=list)
    # URL -> why it was not stored (robots, type, size, error, duplicate, ...).
    skipped: dict[str, str] = field(default_factory=dict)
    # Every request made, in order: (clock time, URL, status or -1 on a network error).
    requests: list[tuple[float, str, int]] = field(default_factory=list)


# ## The crawl loop
#
# One `_Crawl` holds the state of a run: the frontier, each host's robots rules and the time of
# its last request, the WARC writer, and the clock (injectable, so the tests replace waiting by
# counting).
class _Crawl:
    def __init__(self, config, warc, clock, sleep) -> None:
        self.config, self.warc, self.clock, self.sleep = config, warc, clock, sleep
        self.frontier = Frontier()
        self.robots: dict[str, RobotsRules] = {}
        self.last_request: dict[str, float] = {}
        self.report = CrawlReport()
        self.stored_text: set[str] = set()
        self.hosts: set[str] = set()

    # The per-host rate limit: wait until `min_delay` (or the Crawl-delay) has passed since the
    # previous request to the same host.
    def _polite_wait(self, host: str) -> None:
        delay = self.config.min_delay
        rules = self.robots.get(host)
        crawl_delay = rules.crawl_delay(self.config.user_agent) if rules else None
        delay = max(delay, crawl_delay or 0.0)
        if host in self.last_request:
            wait = self.last_request[host] + delay - self.clock()
            if wait > 0:
                self.sleep(wait)
        self.last_request[host] = self.clock()

    # Retries: a 429, a 5xx or a network error waits `backoff_delay` and tries again, up to
    # `max_retries` times. The rate limit still applies to every attempt.
    def fetch(self, url: str, types: tuple[str, ...] | None = None) -> _Response | str:
        host = urlsplit(url).netloc
        # Each attempt waits its turn at the host first. A network error, a 429 or a 5xx is retried
        # after a backoff (longer if the server's Retry-After asks for it); any other response is
        # final.
        for attempt in range(self.config.max_retries + 1):
            self._polite_wait(host)
            try:
                resp = _fetch(url, self.config, types)
            except (OSError, http.client.HTTPException) as e:
                self.report.requests.append((self.clock(), url, -1))
                failure, retry_after = f"network error: {e}", None
            else:
                self.report.requests.append((self.clock(), url, resp.status))
                if resp.status != 429 and resp.status < 500:
                    return resp
                failure = f"HTTP {resp.status}"
                retry_after = parse_retry_after(resp.header("Retry-After"))
            if attempt < self.config.max_retries:
                c = self.config
                self.sleep(backoff_delay(attempt, c.backoff_base, c.backoff_cap, retry_after))
        return f"{failure} after {self.config.max_retries} retries"

    # robots.txt, once per host, before any page of it (of any media type): 2xx is parsed, 4xx
    # means no rules, and a server error means "disallow everything".
    def rules_for(self, url: str) -> RobotsRules:
        parts = urlsplit(url)
        if parts.netloc not in self.robots:
            resp = self.fetch(f"{parts.scheme}://{parts.netloc}/robots.txt", types=())
            if isinstance(resp, str):
                rules = parse_robots("User-agent: *\nDisallow: /")
            elif 200 <= resp.status < 300:
                rules = parse_robots(resp.body.decode("utf-8", errors="replace"))
            else:
                rules = parse_robots("")
            self.robots[parts.netloc] = rules
        return self.robots[parts.netloc]

    def add(self, url: str) -> None:
        if not self.config.same_host or urlsplit(url).netloc in self.hosts:
            self.frontier.push(url)

    # ## Visiting one URL
    #
    # robots first; then the fetch; a redirect queues its target (which meets the same checks);
    # a page is parsed, its canonical URL marked as seen, its links queued, and it is stored
    # (WARC records and the extracted text) unless its text was stored before.
    def visit(self, url: str) -> None:
        # Every URL that is not stored gets a reason in `skipped`: robots, a failed fetch, a
        # redirect (its target is queued instead), or a status or type that is not a page.
        skipped = self.report.skipped
        if not self.rules_for(url).can_fetch(url, self.config.user_agent):
            skipped[url] = "disallowed by robots.txt"
            return
        resp = self.fetch(url)
        if isinstance(resp, str):
            skipped[url] = resp
            return
        if resp.status in _REDIRECTS and resp.header("Location"):
            target = canonical_url(resp.header("Location"), base=url)
            self.warc.write_exchange(url, resp.request, resp.raw, resp.body)
            self.add(target)
            skipped[url] = f"redirect {resp.status} to {target}"
            return
        if resp.status != 200 or resp.skip:
            skipped[url] = resp.skip or f"HTTP {resp.status}"
            return
        # Parse the page: a `<link rel="canonical">` names its true URL, which is marked as seen so
        # it is not fetched again under that name; every http(s) link is queued.
        page = extract(resp.body.decode(_charset(resp), errors="replace"))
        canonical = url
        if page.canonical:
            try:
                canonical = canonical_url(page.canonical, base=url)
            except ValueError:
                canonical = url
            self.frontier.seen.add(canonical)
        for link in page.links:
            try:
                self.add(canonical_url(link, base=url))
            except ValueError:
                continue  # mailto:, javascript:, ftp: ... are not crawled
        # Two URLs with the same extracted text are one page: only the first is stored.
        digest = hashlib.sha1(page.text.encode()).hexdigest()
        if digest in self.stored_text:
            skipped[url] = "duplicate text"
            return
        self.stored_text.add(digest)
        self.warc.write_exchange(url, resp.request, resp.raw, resp.body)
        self.report.pages.append(
            {"url": canonical, "fetched_url": url, "title": page.title, "text": page.text}
        )


# The body is decoded with the charset the Content-Type names, falling back to UTF-8 when none is
# named or Python does not know it.
def _charset(resp: _Response) -> str:
    msg = http.client.HTTPMessage()
    msg["Content-Type"] = resp.header("Content-Type") or "text/html"
    charset = msg.get_content_charset() or "utf-8"
    try:
        "".encode(charset)
    except LookupError:
        return "utf-8"
    return charset


# The WARC file is written as the crawl goes, not atomically at the end: a WARC is a sequence of
# self-delimiting records, so a crawl killed midway leaves a file whose complete records are all
# readable, which is worth more than nothing after hours of polite fetching.
def crawl(
    seeds: Sequence[str],
    warc_path: str | Path,
    config: CrawlConfig | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    log: TextIO | None = None,
) -> CrawlReport:
    """Crawl breadth-first from `seeds`, writing WARC records to `warc_path`.

    `clock` and `sleep` are the time source and the wait (swap both for a simulated clock to
    crawl without waiting); a progress line goes to `log` if given.
    """
    # Canonical seeds, and an output file that opens with a `warcinfo` record describing the
    # crawler; only the seeds' hosts are followed when `same_host` is set.
    config = config or CrawlConfig()
    if isinstance(seeds, str) or not seeds:
        raise ValueError(f"seeds must be a non-empty list of URLs, got {seeds!r}")
    canonical = [canonical_url(s) for s in seeds]
    with open(warc_path, "wb") as f:
        state = _Crawl(config, WarcWriter(f, seed=" ".join(canonical)), clock, sleep)
        info = "software: masterclass.infra.crawler\r\nrobots: obey\r\n"
        info += f"http-header-user-agent: {config.user_agent}\r\n"
        state.warc.write("warcinfo", info.encode(), "application/warc-fields")
        state.hosts = {urlsplit(u).netloc for u in canonical}
        for url in canonical:
            state.frontier.push(url)
        # Breadth-first until the frontier is empty or enough pages are stored, with a progress line
        # rewritten in place.
        while state.frontier and len(state.report.pages) < config.max_pages:
            state.visit(state.frontier.pop())
            if log is not None:
                log.write(
                    f"\rcrawled {len(state.report.pages)}/{config.max_pages} pages, "
                    f"{len(state.frontier)} queued, {len(state.report.skipped)} skipped"
                )
                log.flush()
        if log is not None:
            log.write("\n")
    return state.report


# ## Command line
#
# `--text` also writes the extracted pages as JSON Lines, the input of the other data tools
# (`filtering`, `dedup`, `quality`).
def _main(argv: Sequence[str] | None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m masterclass.infra.crawler", description="Crawl politely to a WARC file."
    )
    parser.add_argument("urls", nargs="+", help="seed URLs (http or https)")
    parser.add_argument("--out", required=True, help="WARC file to write")
    parser.add_argument("--max-pages", type=int, default=100)
    parser.add_argument(
        "--delay", type=float, default=1.0, help="seconds between requests to a host"
    )
    parser.add_argument("--text", help="also write the extracted text as JSON Lines here")
    args = parser.parse_args(argv)
    # The command line sets only the page budget and the politeness delay; the rest of the config
    # keeps its defaults. Extracted text goes to a JSON Lines file only on request.
    config = CrawlConfig(max_pages=args.max_pages, min_delay=args.delay)
    report = crawl(args.urls, args.out, config, log=sys.stderr)
    if args.text:
        write_documents(args.text, report.pages)
    print(f"{len(report.pages)} pages stored in {args.out}, {len(report.skipped)} URLs skipped")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry; returns the exit status (2 with one line on bad input)."""
    return run_tool(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
