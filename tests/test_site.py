"""The built site, read the way a learner reads it: offline, in a browser.

The site is built once (`mkdocs build --strict` into a temporary folder, or the folder named by
`MASTERCLASS_SITE` if it is already built), served on 127.0.0.1, and opened in headless Chromium
with every request to another host refused. Then a chapter must show typeset math (MathJax comes
from the site itself, not a CDN), previous/next links in the README's reading order, and a link to
its exercises page.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The built site's folder."""
    prebuilt = os.environ.get("MASTERCLASS_SITE")
    if prebuilt:
        return Path(prebuilt)
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "MPLBACKEND": "Agg", "NO_MKDOCS_2_WARNING": "1"}
    env["DISABLE_MKDOCS_2_WARNING"] = "true"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-6000:]}"
    return out


@pytest.fixture(scope="module")
def served(site):
    """A local HTTP server for the site: `http://127.0.0.1:<port>/`."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (CI installs Debian's)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def _open_offline(browser, url: str):
    """A page that may load only from 127.0.0.1; returns (page, refused URLs)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    refused: list[str] = []

    def route(request_route):
        request = request_route.request
        if request.url.startswith("http://127.0.0.1:"):
            request_route.continue_()
        else:
            refused.append(request.url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    return page, refused


def test_math_renders_offline(browser, served):
    page, refused = _open_offline(browser, served + "linalg/svd/")
    page.wait_for_selector("mjx-container", timeout=30_000)
    rendered = page.locator("mjx-container").count()
    errors = page.locator("mjx-merror").count()
    raw = page.locator(".arithmatex").evaluate_all(
        "nodes => nodes.filter(n => !n.querySelector('mjx-container')).length"
    )
    page.close()
    assert rendered > 10, f"only {rendered} formulas typeset"
    assert errors == 0, f"{errors} formulas failed to typeset"
    assert raw == 0, f"{raw} math spans left as raw TeX"
    assert not [u for u in refused if "mathjax" in u.lower()], f"MathJax fetched from {refused}"


def test_chapters_link_previous_and_next_in_reading_order(browser, served, course):
    llm = next(p for p in course.packages() if p.name == "llm")
    order = [m.stem for m in course.chapters(llm)]
    i = order.index("kv_cache")
    page, _ = _open_offline(browser, served + "llm/kv_cache/")
    prev = page.locator(".chapter-nav .prev a").get_attribute("href")
    following = page.locator(".chapter-nav .next a").get_attribute("href")
    code_width = page.locator(".lit-code").first.bounding_box()["width"]
    page.close()
    assert prev.rstrip("/").endswith(order[i - 1]), prev
    assert following.rstrip("/").endswith(order[i + 1]), following
    assert code_width > 600, f"the code column is {code_width:.0f} px wide at 1400 px"


def test_exercises_pages_are_linked_from_their_chapters(browser, served, course):
    files = course.exercise_files()
    if not files:
        pytest.skip("no exercises yet")
    key = next(iter(files))
    package, concept = key.split(".")
    page, _ = _open_offline(browser, served + f"{package}/{concept}/")
    link = page.locator("article a[href*='exercises/']").first.get_attribute("href")
    page.goto(served + f"{package}/{concept}/" + link)
    heading = page.locator("h1").first.inner_text()
    page.close()
    assert heading.startswith("Exercises"), heading
