"""The HTML drift report opened in Debian's headless Chromium (issue 11, acceptance 4).

Why a real browser: that the table and the chart are drawn, that a header click sorts, and that the page
requests nothing can only be seen by rendering it. Chromium is driven through Debian's chromedriver (the
same package version as the browser, so nothing is downloaded) with selenium.

"No request attempted" is checked three ways, each shown able to fail by the control tests at the end:

1. Chromium's own DevTools ``Network.requestWillBeSent`` events (from the performance log): only the
   report's file URL is requested.
2. Every connection leaves through a proxy that is a local sink recording what reaches it (loopback
   included, ``--proxy-bypass-list=<-loopback>``); host names resolve to nothing, so no packet leaves the
   machine whatever happens. The sink must see no connection from the page. Chromium itself connects to
   a few fixed endpoints even on ``about:blank`` (component updates, sign-in; seen with Debian's 156
   despite ``--disable-background-networking``): those exact hosts, :data:`BROWSER_OWN`, are set apart,
   and nothing else is (a page's request to any other Google host, such as a font, would still count).
3. A request the Content-Security-Policy blocks never reaches the network, so the page also counts
   ``securitypolicyviolation`` events (a listener installed before the page's own code runs) and the
   browser console must hold no error.

Marked ``browser``: it fails (never skips) when ``CI`` is set and chromium is missing, since ``.ci/run``
installs it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rdsssl_reconcile.render.drift_html import render
from tests.drift.factories import fleet_report

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
VERSION = "9.9.9-test"
WIDTH = 1280

#: Installed before any script of the page: records every CSP violation the page triggers.
VIOLATION_RECORDER = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


#: Hosts Chromium itself contacts with no page open (the request line's target, exactly).
BROWSER_OWN = frozenset({"update.googleapis.com", "accounts.google.com", "clients2.google.com"})


def target_host(request_line: str) -> str:
    """``CONNECT host:443 HTTP/1.1`` or ``GET http://host/path HTTP/1.1`` -> ``host``."""
    target = request_line.split(" ")[1] if " " in request_line else request_line
    return target.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]


@dataclass
class Sink:
    """A proxy that answers nothing: it records the request line of every connection made to it."""

    port: int = 0
    requests: list[str] = field(default_factory=list)

    @property
    def from_pages(self) -> list[str]:
        return [line for line in self.requests if target_host(line) not in BROWSER_OWN]

    def wait_for(self, count: int, seconds: float = 10.0) -> list[str]:
        deadline = time.monotonic() + seconds
        while len(self.from_pages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.from_pages


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    record = Sink()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            line = self.rfile.readline(4096).decode("latin-1").strip()
            if line:
                record.requests.append(line)
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    record.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield record
    server.shutdown()
    server.server_close()


def _require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        message = f"{', '.join(missing)} not installed: apt-get install chromium chromium-driver (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser(sink: Sink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--disable-breakpad",
        "--disable-crash-reporter",
        f"--proxy-server=http://127.0.0.1:{sink.port}",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--no-first-run",
        "--no-pings",
        "--disable-features=NetworkTimeServiceQuerying",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # A module fixture runs before the per-test private HOME, so the browser gets its own: Chromium writes
    # crash-report settings and a dconf cache under HOME/XDG dirs despite --user-data-dir.
    home = tmp_path_factory.mktemp("chromium-home")
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
    }
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER), env=env))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": VIOLATION_RECORDER})
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Visit:
    url: str
    requested: list[str]
    console: list[dict[str, Any]]
    violations: list[str]


def visit(driver: Any, sink: Sink, path: Path, *, settle: float = 0.0) -> Visit:
    """Open a file, then collect what it requested, logged and violated (the logs are emptied first)."""
    driver.get_log("performance")
    driver.get_log("browser")
    sink.requests.clear()
    url = path.as_uri()
    driver.get(url)
    deadline = time.monotonic() + 10
    while driver.execute_script("return document.readyState") != "complete" and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(settle)
    requested = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    violations = list(driver.execute_script("return window.__violations || []"))
    return Visit(url, requested, driver.get_log("browser"), violations)


def screenshot(driver: Any) -> Image.Image:
    """The whole page (beyond the window), at one device pixel per CSS pixel."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )

    return Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")


def region(driver: Any, image: Image.Image, selector: str) -> Image.Image:
    box = driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];",
        selector,
    )
    left, top, width, height = (round(v) for v in box)
    assert width > 100, selector
    assert height > 40, selector
    return image.crop((left, top, left + width, top + height))


def colours(image: Image.Image) -> list[tuple[int, tuple[int, int, int]]]:
    """(count, colour) of every colour in the image."""
    found = image.getcolors(image.width * image.height)
    assert found is not None
    return found  # type: ignore[return-value]


def share_of(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 24) -> float:
    """The share of pixels within ``tolerance`` of ``colour`` on each channel."""
    close = sum(n for n, c in colours(image) if all(abs(a - b) <= tolerance for a, b in zip(c, colour, strict=True)))
    return close / (image.width * image.height)


def ink(image: Image.Image) -> float:
    """The share of pixels that are not (near) white: text, borders, shading and marks."""
    return sum(n for n, c in colours(image) if min(c) < 200) / (image.width * image.height)


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "drift.html"
    path.write_text(render(fleet_report(), tool_version=VERSION), encoding="utf-8")
    return path


def test_the_report_renders_its_table_and_chart_and_requests_nothing(
    browser: Any, sink: Sink, report_page: Path, tmp_path: Path
) -> None:
    report = fleet_report()
    seen = visit(browser, sink, report_page, settle=0.5)

    assert [u for u in seen.requested if u != seen.url] == []
    assert sink.from_pages == []
    assert seen.violations == []  # the policy's hashes admit the page's own style and script
    assert [e for e in seen.console if e["level"] in {"SEVERE", "WARNING"}] == []

    rows = browser.execute_script("return document.querySelectorAll('#instances-table tbody tr').length")
    assert rows == len(report.instances)
    marks = browser.execute_script(
        "return Array.from(document.querySelectorAll('#timeline .mark .dot'))"
        ".map(e => e.getBoundingClientRect()).filter(r => r.width > 4 && r.height > 4).length"
    )
    assert marks == len(report.expiry)
    # The stylesheet applied (a refused <style> would leave the header cells transparent).
    header = browser.execute_script(
        "return getComputedStyle(document.querySelector('#instances-table thead th')).backgroundColor"
    )
    assert header == "rgb(243, 244, 246)"
    # Long unbroken strings (a hostile subject) wrap: the page fits the window, no sideways scrolling.
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

    image = screenshot(browser)
    image.save(tmp_path / "drift.png")
    table = region(browser, image, "#instances-table")
    assert ink(table) > 0.03
    assert len(colours(table)) > 20  # text is anti-aliased: many shades, not a flat block
    chart = region(browser, image, "#timeline")
    assert share_of(chart, (0xFE, 0xF3, 0xC7), 4) > 0.002  # the renewal zone, shaded
    for mark in [(0xD9, 0x77, 0x06), (0xB9, 0x1C, 0x1C), (0x15, 0x80, 0x3D)]:  # due, expired/RequireUpdate, ok
        assert share_of(chart, mark) > 0.0002, mark
    heading = region(browser, image, "header")
    assert share_of(heading, (0xFE, 0xF3, 0xC7), 4) == 0  # the colours above are the chart's, not the page's


def test_a_header_click_sorts_the_table(browser: Any, sink: Sink, report_page: Path) -> None:
    from selenium.webdriver.common.by import By

    report = fleet_report()
    visit(browser, sink, report_page)

    def column(index: int) -> list[str]:
        return list(
            browser.execute_script(
                "return Array.from(document.querySelectorAll('#instances-table tbody tr'))"
                ".map(r => r.cells[arguments[0]].textContent.trim())",
                index,
            )
        )

    def header(title: str) -> Any:
        return browser.find_element(
            By.XPATH, f"//table[@id='instances-table']//th[button[normalize-space()='{title}']]"
        )

    ids = sorted(i.id for i in report.instances)
    assert column(1) != ids  # worst first, not by id: the click below has something to do
    header("Instance").click()
    assert column(1) == ids
    assert header("Instance").get_attribute("aria-sort") == "ascending"
    header("Instance").click()
    assert column(1) == ids[::-1]
    header("Fields drifted").click()
    counts = [int(n) for n in column(4)]
    assert counts == sorted(counts)  # numerically: a column of numbers is not sorted as text
    assert sink.from_pages == []


def test_control_a_page_that_loads_is_caught_by_the_events_and_the_sink(
    browser: Any, sink: Sink, tmp_path: Path
) -> None:
    """The detectors above can fail: a page with external assets (and no policy) is seen by both."""
    page = tmp_path / "loads.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="stylesheet" href="https://fonts.invalid/a.css"></head>'
        '<body><img src="http://assets.invalid/pixel.png"></body></html>',
        encoding="utf-8",
    )
    seen = visit(browser, sink, page)
    assert "http://assets.invalid/pixel.png" in seen.requested
    assert "https://fonts.invalid/a.css" in seen.requested
    reached = sink.wait_for(2)
    assert any("assets.invalid" in line for line in reached), reached
    assert any(line.startswith("CONNECT fonts.invalid:443") for line in reached), reached


def test_control_an_asset_the_policy_blocks_is_caught_as_a_violation(
    browser: Any, sink: Sink, report_page: Path, tmp_path: Path
) -> None:
    """A request the CSP refuses never reaches the network, so the violation listener must see it."""
    text = report_page.read_text(encoding="utf-8")
    page = tmp_path / "blocked.html"
    page.write_text(text.replace("<main>", '<main><img src="http://blocked.invalid/x.png">', 1), encoding="utf-8")
    seen = visit(browser, sink, page, settle=0.5)
    assert seen.violations
    assert any("blocked.invalid" in v for v in seen.violations), seen.violations
    assert [e for e in seen.console if e["level"] == "SEVERE"]
    assert sink.from_pages == []  # the policy stopped it before the network
