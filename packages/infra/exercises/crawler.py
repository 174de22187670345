r"""# Exercises: A polite web crawler: frontier, robots.txt, rate limits, retries and WARC output

Dot segments, the backoff formula and the WARC digest, each checked against an independent
computation (RFC 3986's own examples, the formula, warcio's digest check)."""

import base64
import hashlib
import io

from warcio.archiveiterator import ArchiveIterator

from masterclass.infra.crawler import WarcWriter


def solution_1_remove_dot_segments(path: str) -> str:
    out: list[str] = []
    for i, seg in enumerate(segs := path.split("/")):
        last = i == len(segs) - 1
        if seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        elif seg == ".":
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/".join(out)


def check_1_remove_dot_segments(fn) -> None:
    # RFC 3986 section 5.4's examples, merged with the base path /b/c/ (typed from the RFC).
    cases = {
        "/b/c/g": "/b/c/g", "/b/c/./g": "/b/c/g", "/b/c/.": "/b/c/", "/b/c/..": "/b/",
        "/b/c/../g": "/b/g", "/b/c/../..": "/", "/b/c/../../../g": "/g", "/b/c/g.": "/b/c/g.",
        "/b/c/..g": "/b/c/..g", "/b/c/./g/.": "/b/c/g/", "/b/c/g/../h": "/b/c/h",
        "/a/b/c/./../../g": "/a/g",
    }  # fmt: skip
    for path, want in cases.items():
        got = fn(path)
        assert got == want, f"remove_dot_segments({path!r}) = {got!r}, RFC 3986 says {want!r}"


def solution_2_backoff_delay(
    attempt: int, base: float, cap: float, retry_after: float | None = None
) -> float:
    delay = min(base * 2**attempt, cap)
    return delay if retry_after is None else max(delay, retry_after)


def check_2_backoff_delay(fn) -> None:
    for attempt, base, cap, after, want in [
        (0, 0.5, 10.0, None, 0.5),
        (3, 0.5, 10.0, None, 4.0),
        (6, 0.5, 10.0, None, 10.0),
        (1, 1.0, 60.0, 30.0, 30.0),
        (5, 1.0, 60.0, 3.0, 32.0),
    ]:
        got = fn(attempt, base, cap, after)
        assert abs(got - want) < 1e-12, (
            f"backoff_delay({attempt}, {base}, {cap}, {after}) = {got}, expected {want}: "
            "min(base * 2**attempt, cap), and never less than retry_after"
        )


def solution_3_warc_block_digest(block: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(block).digest()).decode()


def check_3_warc_block_digest(fn) -> None:
    for block in [b"", b"GET / HTTP/1.1\r\n\r\n", "café".encode()]:
        got = fn(block)
        # Independent: warcio recomputes the digest of a record carrying `got` and must agree.
        buf = io.BytesIO()
        head = (
            "WARC/1.1\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:0>\r\n"
            f"WARC-Block-Digest: {got}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(block)}\r\n\r\n"
        )
        buf.write(head.encode() + block + b"\r\n\r\n")
        buf.seek(0)
        try:
            list(ArchiveIterator(buf, check_digests="raise"))
        except Exception as e:  # warcio raises ArchiveLoadFailed on a wrong digest
            raise AssertionError(f"warc_block_digest({block!r}) = {got!r}: warcio says {e}") from e
        ours = io.BytesIO()
        WarcWriter(ours).write("resource", block, "application/octet-stream")
        assert f"WARC-Block-Digest: {got}\r\n".encode() in ours.getvalue(), got
