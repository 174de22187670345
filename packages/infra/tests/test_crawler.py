"""The crawler against a real HTTP server on 127.0.0.1, and its parts against references:
warcio reads the WARC file back (digests checked), RFC 3986's own examples for dot segments."""

import io
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from warcio.archiveiterator import ArchiveIterator

from masterclass.infra.crawler import (
    CrawlConfig,
    Frontier,
    WarcWriter,
    backoff_delay,
    canonical_url,
    crawl,
    main,
    parse_retry_after,
    remove_dot_segments,
)

ROBOTS = b"""User-agent: *
Disallow: /private/
Allow: /private/ok.html
Crawl-delay: 0.25
"""


def _page(title: str, body: str, links: list[str], canonical: str = "") -> bytes:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    anchors = " ".join(f'<a href="{u}">{u}</a>' for u in links)
    return (
        f"<html><head><title>{title}</title>{link}</head><body><nav>{anchors}</nav>"
        f"<p>{body}</p><footer>site footer text here</footer></body></html>"
    ).encode()


PAGES = {
    "/": _page(
        "Home",
        "The home page of a small site that the crawler explores.",
        [
            "a.html",
            "/b.html?y=2&x=1",
            "/b.html?x=1&y=2#part",
            "./c/../a.html",
            "/private/secret.html",
            "/private/ok.html",
            "/old",
            "/flaky.html",
            "/big.html",
            "/data.bin",
            "/endless.html",
            "/latin.html",
            "/copy.html",
            "http://example.com/elsewhere",
            "mailto:someone@example.com",
            "/missing.html",
        ],
    ),
    "/a.html": _page("A", "Page A talks about rivers and valleys at some length.", ["/"]),
    "/b.html?x=1&y=2": _page("B", "Page B has a query string that arrives in two orders.", []),
    "/private/ok.html": _page("OK", "This private page is explicitly allowed by robots.", []),
    "/private/secret.html": _page("Secret", "Nobody should ever fetch this page.", []),
    "/new.html": _page("New", "The target of a permanent redirect from the old address.", []),
    "/flaky.html": _page("Flaky", "A page that fails twice before it is served at last.", []),
    "/copy.html": _page(
        "Copy", "Page A talks about rivers and valleys at some length.", [], canonical="/a.html"
    ),
}


LATIN = "<p>Un café crème, s'il vous plaît, très chaud.</p>".encode("latin-1")


class _Site(BaseHTTPRequestHandler):
    log: ClassVar[list[tuple[str, str]]] = []
    flaky_failures = 0

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "text/html", extra=()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.log.append((self.path, self.headers["User-Agent"]))
        if self.path == "/robots.txt":
            return self._send(200, ROBOTS, "text/plain")
        if self.path == "/old":
            return self._send(301, b"", extra=[("Location", "/new.html")])
        if self.path == "/flaky.html" and _Site.flaky_failures < 2:
            _Site.flaky_failures += 1
            status, after = (503, "2") if _Site.flaky_failures == 1 else (429, "3")
            return self._send(status, b"busy", extra=[("Retry-After", after)])
        if self.path == "/big.html":
            return self._send(200, b"<p>" + b"x" * 5000 + b"</p>")
        if self.path == "/endless.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<p>" + b"y" * 10000)
            return None
        if self.path == "/latin.html":
            return self._send(200, LATIN, "text/html; charset=ISO-8859-1")
        if self.path == "/data.bin":
            return self._send(200, bytes(range(256)), "application/octet-stream")
        if self.path in PAGES:
            return self._send(200, PAGES[self.path], "text/html; charset=utf-8")
        return self._send(404, b"not found")


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class FakeClock:
    """Simulated time: `sleep` advances it and records the wait, so nothing really waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def crawled(site, tmp_path_factory):
    _Site.log.clear()
    _Site.flaky_failures = 0
    clock = FakeClock()
    warc = tmp_path_factory.mktemp("crawl") / "site.warc"
    config = CrawlConfig(min_delay=0.1, backoff_base=0.5, max_bytes=4000, max_retries=3)
    report = crawl([site + "/"], warc, config, clock=clock, sleep=clock.sleep)
    return report, warc, clock, list(_Site.log)


def test_crawl_obeys_robots_and_never_leaves_the_host(crawled, site):
    report, _, _, log = crawled
    paths = [p for p, _ in log]
    assert paths[0] == "/robots.txt" and paths.count("/robots.txt") == 1
    assert "/private/secret.html" not in paths
    assert report.skipped[site + "/private/secret.html"] == "disallowed by robots.txt"
    assert "/private/ok.html" in paths  # the longer Allow rule wins
    assert all(ua.startswith("masterclassbot/") for _, ua in log)
    # example.com is never contacted: only this server's requests are in the report.
    assert all(url.startswith(site) for _, url, _ in report.requests)


def test_crawl_dedups_canonical_urls_and_copies(crawled, site):
    report, _, _, log = crawled
    paths = [p for p, _ in log]
    # /a.html is linked as "a.html" and "./c/../a.html"; /b.html in two query orders and with a
    # fragment: each is fetched once.
    assert paths.count("/a.html") == 1 and paths.count("/b.html?x=1&y=2") == 1
    urls = [p["url"] for p in report.pages]
    assert len(urls) == len(set(urls))
    # /copy.html declares /a.html canonical and has a's text: not stored twice.
    assert report.skipped[site + "/copy.html"] == "duplicate text"
    assert sorted(urls) == sorted(
        site + p
        for p in [
            "/",
            "/a.html",
            "/b.html?x=1&y=2",
            "/private/ok.html",
            "/new.html",
            "/flaky.html",
            "/latin.html",
        ]
    )


def test_crawl_follows_redirects_and_limits_type_and_size(crawled, site):
    report, _, _, _ = crawled
    assert report.skipped[site + "/old"] == f"redirect 301 to {site}/new.html"
    assert report.skipped[site + "/big.html"] == "Content-Length 5007 > max_bytes 4000"
    # No Content-Length: the read stops at max_bytes + 1 and gives up.
    assert report.skipped[site + "/endless.html"] == "body longer than max_bytes 4000"
    assert report.skipped[site + "/data.bin"].startswith("content type application/octet-stream")
    assert report.skipped[site + "/missing.html"] == "HTTP 404"
    texts = {p["url"]: p["text"] for p in report.pages}
    assert texts[site + "/a.html"] == "Page A talks about rivers and valleys at some length."
    # Decoded with the charset the Content-Type names (ISO-8859-1 here), not as UTF-8.
    assert texts[site + "/latin.html"] == "Un café crème, s'il vous plaît, très chaud."


def test_retries_back_off_and_honour_retry_after(crawled, site):
    report, _, clock, _ = crawled
    statuses = [s for _, url, s in report.requests if url == site + "/flaky.html"]
    assert statuses == [503, 429, 200]
    # The flaky page's attempts are spaced by the backoff: max(0.5 * 2^0, Retry-After 2) = 2 s
    # after the 503, max(0.5 * 2^1, 3) = 3 s after the 429 (the waits are simulated).
    times = [t for t, url, _ in report.requests if url == site + "/flaky.html"]
    assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx([2.0, 3.0])
    assert 2.0 in clock.sleeps and 3.0 in clock.sleeps


def test_requests_to_the_host_are_spaced_by_the_crawl_delay(crawled):
    report, _, _, _ = crawled
    times = [t for t, _, _ in report.requests]
    # robots.txt's Crawl-delay 0.25 s exceeds min_delay 0.1 s; the first gap (robots.txt to the
    # first page) already obeys it, since the rules are known by then.
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.25 - 1e-9


def test_warc_file_reads_back_with_warcio(crawled, site):
    report, warc, _, _ = crawled
    with open(warc, "rb") as f:
        # check_digests="raise": warcio recomputes every block and payload digest.
        records = list(ArchiveIterator(f, check_digests="raise"))
    types = [r.rec_type for r in records]
    assert types[0] == "warcinfo"
    assert types[1:] == ["request", "response"] * ((len(types) - 1) // 2)
    responses = {}
    ids = {r.rec_headers.get_header("WARC-Record-ID"): r for r in records}
    for r in records:
        if r.rec_type == "response":
            assert r.rec_headers.get_header("WARC-Concurrent-To") in ids
            responses[r.rec_headers.get_header("WARC-Target-URI")] = r
    # Re-open to read payloads (ArchiveIterator's streams are consumed in order).
    with open(warc, "rb") as f:
        payloads = {
            r.rec_headers.get_header("WARC-Target-URI"): (r.http_headers.get_statuscode(),
                                                           r.content_stream().read())
            for r in ArchiveIterator(f) if r.rec_type == "response"
        }  # fmt: skip
    for page in report.pages:
        path = page["fetched_url"][len(site) :]
        assert payloads[page["fetched_url"]] == ("200", PAGES.get(path, LATIN)), path
    assert payloads[site + "/old"][0] == "301"


def test_warc_writer_alone_round_trips_through_warcio():
    buf = io.BytesIO()
    writer = WarcWriter(buf)
    body = "café\r\n\r\nnot the end".encode()
    response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    writer.write_exchange("http://h/x", b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n", response, body)
    buf.seek(0)
    (req, resp) = [(r.rec_type, r.content_stream().read()) for r in ArchiveIterator(buf)]
    assert req == ("request", b"") and resp == ("response", body)


# RFC 3986 section 5.4: references resolved against http://a/b/c/d;p?q. The merged path of a
# relative reference is "/b/c/" + reference; its dot segments removed must give the RFC's path.
RFC_EXAMPLES = {
    "g": "/b/c/g", "./g": "/b/c/g", "g/": "/b/c/g/", ".": "/b/c/", "./": "/b/c/", "..": "/b/",
    "../": "/b/", "../g": "/b/g", "../..": "/", "../../": "/", "../../g": "/g",
    "../../../g": "/g", "../../../../g": "/g", "g.": "/b/c/g.", ".g": "/b/c/.g", "g..": "/b/c/g..",
    "..g": "/b/c/..g", "./../g": "/b/g", "./g/.": "/b/c/g/", "g/./h": "/b/c/g/h",
    "g/../h": "/b/c/h", "g;x=1/./y": "/b/c/g;x=1/y", "g;x=1/../y": "/b/c/y",
}  # fmt: skip


@pytest.mark.parametrize("ref", RFC_EXAMPLES)
def test_dot_segments_follow_rfc_3986(ref):
    assert remove_dot_segments("/b/c/" + ref) == RFC_EXAMPLES[ref]
    assert remove_dot_segments("/./g") == "/g" and remove_dot_segments("/../g") == "/g"


def test_canonical_urls():
    cases = {
        "HTTP://Example.COM:80/a/./b/../c?y=2&x=1#top": "http://example.com/a/c?x=1&y=2",
        "https://example.com:443": "https://example.com/",
        "https://example.com:8443/x": "https://example.com:8443/x",
        "http://example.com/%7ea%2fb": "http://example.com/%7Ea%2Fb",
        "http://example.com/a?": "http://example.com/a",
    }
    for url, want in cases.items():
        assert canonical_url(url) == want, url
    assert canonical_url("../x", base="http://h/a/b/c") == "http://h/a/x"
    with pytest.raises(ValueError, match="url must be http:// or https://, got 'ftp://h/x'"):
        canonical_url("ftp://h/x")
    with pytest.raises(ValueError, match="url has no host"):
        canonical_url("http:///x")


def test_backoff_and_retry_after():
    assert [backoff_delay(k, 1.0, 10.0) for k in range(6)] == [1, 2, 4, 8, 10, 10]
    assert backoff_delay(3, 1.0, 10.0, retry_after=30.0) == 30.0
    assert backoff_delay(3, 1.0, 10.0, retry_after=1.0) == 8.0
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after(None) is None
    with pytest.raises(ValueError, match="attempt must be an int >= 0, got -1"):
        backoff_delay(-1, 1.0, 10.0)


def test_frontier_accepts_each_url_once():
    f = Frontier()
    assert f.push("http://h/a") and not f.push("http://h/a") and f.push("http://h/b")
    assert [f.pop(), f.pop()] == ["http://h/a", "http://h/b"] and len(f) == 0


def test_bad_config_is_named():
    with pytest.raises(ValueError, match=r"CrawlConfig\.min_delay must be a number >= 0, got -1"):
        CrawlConfig(min_delay=-1)
    with pytest.raises(ValueError, match="seeds must be a non-empty list of URLs"):
        crawl("http://h/", "x.warc")


def test_command_line(site, tmp_path, capsys):
    out, text = tmp_path / "cli.warc", tmp_path / "cli.jsonl"
    argv = [site + "/", "--out", str(out), "--max-pages", "2", "--delay", "0", "--text", str(text)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "2 pages stored" in captured.out and "crawled 2/2 pages" in captured.err
    assert len([json.loads(line) for line in text.read_text().splitlines()]) == 2
    assert main(["ftp://nowhere/", "--out", str(out)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: url must be http:// or https://, got 'ftp://nowhere/'"
    )


class _NoRobots(BaseHTTPRequestHandler):
    robots_status = 404
    paths: ClassVar[list[str]] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.paths.append(self.path)
        status = self.robots_status if self.path == "/robots.txt" else 200
        body = b"<p>Any page at all, with enough words to be kept.</p>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (503, False)])
def test_missing_robots_allows_and_failing_robots_forbids(tmp_path, status, allowed):
    # RFC 9309 section 2.3.1: a 4xx robots.txt means no rules; a 5xx means "assume complete
    # disallow" (after the retries, which the simulated clock makes instant).
    _NoRobots.robots_status, _NoRobots.paths = status, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoRobots)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        clock = FakeClock()
        url = f"http://127.0.0.1:{server.server_address[1]}/page"
        config = CrawlConfig(min_delay=0.0, max_retries=2)
        report = crawl([url], tmp_path / "x.warc", config, clock=clock, sleep=clock.sleep)
    finally:
        server.shutdown()
        server.server_close()
    assert ("/page" in _NoRobots.paths) == allowed
    assert _NoRobots.paths.count("/robots.txt") == (1 if status == 404 else 3)
    if not allowed:
        assert report.skipped[url] == "disallowed by robots.txt"
