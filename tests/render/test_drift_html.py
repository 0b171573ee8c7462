"""The HTML drift report read as a parser reads it: nothing that loads, every outside string escaped (issue 11).

The browser half (the page really renders, sorts and requests nothing) is test_drift_html_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

import pytest

from rdsssl_reconcile.drift.model import DriftStatus
from rdsssl_reconcile.render.drift_html import SEVERITY, render
from rdsssl_reconcile.render.markup import markup_text
from tests.drift.factories import HOSTILE, fleet_report, quiet_report

VERSION = "9.9.9-test"
#: Attributes through which HTML or SVG can make a request or navigate.
FETCHING_ATTRIBUTES = {
    "src",
    "srcset",
    "href",
    "xlink:href",
    "action",
    "formaction",
    "poster",
    "data",
    "background",
    "ping",
    "manifest",
    "codebase",
    "cite",
    "longdesc",
}
LOADING_TAGS = {"link", "iframe", "frame", "object", "embed", "img", "image", "base", "form", "audio", "video"}
LOADING_TAGS |= {"source", "track", "use", "feimage", "portal"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""


@dataclass
class Page(HTMLParser):
    """Every element with its attributes, the text of style and script elements, and all other text."""

    elements: list[Element] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    _raw: Element | None = None

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag in {"style", "script"}:
            self._raw = element

    def handle_endtag(self, tag: str) -> None:
        self._raw = None

    def handle_data(self, data: str) -> None:
        if self._raw is not None:
            self._raw.text += data
        else:
            self.texts.append(data)

    def all(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]

    def with_class(self, tag: str, css: str) -> list[Element]:
        return [e for e in self.all(tag) if css in (e.attrs.get("class") or "").split()]

    def text(self) -> str:
        return "".join(self.texts)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def csp(page: Page) -> dict[str, list[str]]:
    (meta,) = [m for m in page.all("meta") if (m.attrs.get("http-equiv") or "").lower() == "content-security-policy"]
    policy = meta.attrs["content"] or ""
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d}


def test_nothing_in_the_page_can_load_anything() -> None:
    page = parse(render(fleet_report(), tool_version=VERSION))
    assert not LOADING_TAGS & {e.tag for e in page.elements}
    for element in page.elements:
        for name, value in element.attrs.items():
            if name in FETCHING_ATTRIBUTES:
                assert name == "href", element
                assert (value or "").startswith("#"), element  # in-page links only
            assert not re.match(r"\s*(https?|ftp|file|data|javascript):", value or "", re.IGNORECASE), element
            assert not name.startswith("on"), element  # no inline handlers (the CSP would refuse them anyway)
    assert [s.attrs for s in page.all("script")] == [{}]  # one inline script, no src
    assert len(page.all("style")) == 1


def test_the_policy_allows_exactly_the_inline_style_and_script() -> None:
    page = parse(render(fleet_report(), tool_version=VERSION))
    policy = csp(page)
    assert policy["default-src"] == ["'none'"]
    assert policy["style-src"] == [sha256_source(page.all("style")[0].text)]
    assert policy["script-src"] == [sha256_source(page.all("script")[0].text)]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]
    assert not any("unsafe" in source or ":" in source for sources in policy.values() for source in sources)
    assert not [e for e in page.elements if "style" in e.attrs]  # a style attribute would be refused


def test_in_page_links_point_at_existing_ids() -> None:
    page = parse(render(fleet_report(), tool_version=VERSION))
    ids = {e.attrs["id"] for e in page.elements if e.attrs.get("id")}
    links = [e.attrs["href"] for e in page.all("a")]
    assert links
    assert {(href or "")[1:] for href in links} <= ids


@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_outside_string_is_visible_and_escaped(hostile: str) -> None:
    text = render(fleet_report(), tool_version=VERSION)
    page = parse(text)
    assert hostile not in text
    assert html.escape(markup_text(hostile), quote=True) in text
    assert markup_text(hostile) in page.text()  # what a reader sees: the escapes, not the characters
    assert len(page.all("script")) == 1  # no <script> (or <img>) of a subject became markup


def test_hostile_ids_and_regions_cannot_break_attributes_or_markup() -> None:
    report = fleet_report()
    hostile_id = '"><script>alert(1)</script><a href="https://evil.example/'
    instance = replace(report.instances[1], id=hostile_id, region=hostile_id, spec_location=hostile_id)
    entry = replace(report.expiry[0], instance_id=hostile_id, fingerprint=hostile_id)
    page = parse(render(replace(report, instances=(instance,), expiry=(entry,)), tool_version=hostile_id))
    assert len(page.all("script")) == 1
    assert [a.attrs["href"] for a in page.all("a")] == ["#i0"]
    assert hostile_id in page.text()


def test_the_summary_header() -> None:
    report = fleet_report()
    text = render(report, tool_version=VERSION)
    cards = {label: int(n) for n, label in re.findall(r'<span class="n">(\d+)</span>([^<]+)</li>', text)}
    s = report.summary
    assert cards == {
        "In sync": s.in_sync,
        "Drifted": s.drifted,
        "Pending": s.pending,
        "Missing": s.missing,
        "Error": s.error,
        "Ineligible": s.ineligible,
        "Certificates due": s.expiring,
        "Ignored differences": s.ignored_fields,
        "Unmanaged": s.unmanaged,
    }
    shown = " ".join(parse(text).text().split())
    assert f"Exit code {report.exit_code}" in shown
    assert report.coverage is not None
    assert f"{report.coverage.managed} managed of {report.coverage.scanned} scanned (70%)" in shown
    assert "Generated 2026-12-01 02:00 UTC" in shown
    assert VERSION in shown


def test_the_instance_table_has_one_row_per_instance_worst_first() -> None:
    report = fleet_report()
    text = render(report, tool_version=VERSION)
    table = text[text.index('id="instances-table"') : text.index("</table>", text.index('id="instances-table"'))]
    rows = parse(table).all("tr")[1:]
    assert len(rows) == len(report.instances)
    statuses = [(r.attrs.get("class") or "").removeprefix("row-") for r in rows]
    ranks = [SEVERITY[DriftStatus(s)] for s in statuses]
    assert ranks == sorted(ranks)
    headers = parse(table).all("button")
    assert [h.attrs["type"] for h in headers] == ["button"] * 8


def test_the_chart_has_one_mark_per_certificate_and_the_zones() -> None:
    report = fleet_report()
    page = parse(render(report, tool_version=VERSION))
    (svg,) = page.all("svg")
    marks = [e for e in page.all("g") if "mark" in (e.attrs.get("class") or "").split()]
    assert len(marks) == len(report.expiry)
    assert sorted(int(m.attrs["data-days-left"] or "") for m in marks) == sorted(e.days_left for e in report.expiry)
    states = {m.attrs["class"] for m in marks}
    assert {"mark expired", "mark due", "mark require-update", "mark ok"} <= states
    assert page.with_class("rect", "zone-renewal")
    assert page.with_class("rect", "zone-expired")
    assert page.with_class("line", "now")
    assert svg.attrs["viewbox"]


def test_marks_are_placed_in_time_order() -> None:
    report = fleet_report()
    text = render(report, tool_version=VERSION)
    xs = [float(x) for x in re.findall(r'<circle class="dot" cx="([\d.]+)"', text)]
    assert len(xs) >= 4
    assert xs == sorted(xs)  # lanes are soonest first, so their x positions grow


def test_drift_details_list_fields_causes_and_ignored_rules() -> None:
    report = fleet_report()
    drifted = report.instances[1]
    text = " ".join(parse(render(report, tool_version=VERSION)).text().split())
    for f in drifted.fields:
        assert markup_text(f.field) in text
        if f.ignored:
            assert f"ignored by {f.ignore_rule}: {markup_text(f.ignore_reason)}" in text
    for cause in drifted.causes:
        assert f"{cause.summary} (based on: {markup_text(cause.evidence)})" in text


def test_a_quiet_fleet_and_an_empty_one() -> None:
    page = parse(render(quiet_report(), tool_version=VERSION))
    assert "Exit code 0" in page.text()
    assert not [e for e in page.elements if e.attrs.get("id") == "unmanaged"]
    empty = parse(render(replace(quiet_report(), instances=(), expiry=()), tool_version=VERSION))
    assert not empty.all("svg")
    assert "No certificate was read." in empty.text()


def test_rendering_is_a_pure_function() -> None:
    assert render(fleet_report(), tool_version=VERSION) == render(fleet_report(), tool_version=VERSION)
