"""The drift report as one self-contained HTML file: summary, sortable instance table, drift details and an
expiry timeline chart, for a CI artifact someone opens in a browser.

Self-contained means no request at all: no external stylesheet, script, font or image, and a strict
Content-Security-Policy (``default-src 'none'``) that allows only this file's one inline ``<style>`` and one
inline ``<script>``, by their SHA-256 hashes (no ``'unsafe-inline'``), so even a string that escaped its
escaping could not load or run anything. The chart is inline SVG drawn here, in Python, from the report's
values: one mark per certificate on a time axis, with the expired zone and the renewal zone shaded. The
script only reorders table rows when a column header is clicked; the page reads fine without it.

Every value from a spec, certificate or the API is made visible (:func:`~rdsssl_reconcile.render.markup.
markup_text`: control characters, bidi overrides and noncharacters shown as escapes) and then
:func:`html.escape`-d, in text and in attributes alike. No ``style`` attribute is used (the CSP would block
it); SVG geometry is written as presentation attributes and colours come from the stylesheet's classes.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rdsssl_reconcile.drift.model import (
    CertificateKind,
    DriftReport,
    DriftStatus,
    ExpiryEntry,
    FieldDrift,
    InstanceDrift,
)
from rdsssl_reconcile.render.markup import markup_text

TITLE = "rdsssl-reconcile drift report"
#: Worst news first: the order of the default sort and the numeric key of the status column.
SEVERITY = {
    DriftStatus.ERROR: 0,
    DriftStatus.MISSING: 1,
    DriftStatus.DRIFTED: 2,
    DriftStatus.PENDING: 3,
    DriftStatus.INELIGIBLE: 4,
    DriftStatus.IN_SYNC: 5,
}
#: The chart's time axis stops this far from the report's time; later (or earlier) marks sit at the edge.
HORIZON_AHEAD = timedelta(days=400)
HORIZON_BEHIND = timedelta(days=180)
#: A label longer than this is cut in the chart (the expiry table beside it has the whole text).
CHART_LABEL_CHARS = 42

_STYLE = """
:root { color-scheme: light; --ok: #15803d; --due: #d97706; --bad: #b91c1c; --muted: #6b7280; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #111827;
  background: #ffffff; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.verdict { font-weight: 600; margin: 8px 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 0; padding: 0; list-style: none; }
.cards li { border: 1px solid #e5e7eb; border-radius: 6px; padding: 6px 12px; min-width: 88px; }
.cards .n { display: block; font-size: 20px; font-weight: 700; }
.cards .bad .n { color: var(--bad); } .cards .due .n { color: var(--due); } .cards .ok .n { color: var(--ok); }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; }
thead th { background: #f3f4f6; padding: 0; white-space: nowrap; }
thead th button { all: unset; box-sizing: border-box; display: block; width: 100%; padding: 6px 8px;
  cursor: pointer; font-weight: 600; }
thead th button:focus-visible { outline: 2px solid #2563eb; }
thead th[aria-sort="ascending"] button::after { content: " \\25B2"; }
thead th[aria-sort="descending"] button::after { content: " \\25BC"; }
tbody tr:nth-child(even) { background: #f9fafb; }
td { overflow-wrap: anywhere; }
td.region, td.num, td.status { white-space: nowrap; overflow-wrap: normal; }
td.id code { overflow-wrap: normal; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
  overflow-wrap: anywhere; }
.status { font-weight: 600; white-space: nowrap; }
.status-in_sync { color: var(--ok); } .status-pending, .status-ineligible { color: var(--due); }
.status-drifted, .status-missing, .status-error { color: var(--bad); }
.ignored { color: var(--muted); }
.instance { border-left: 3px solid #e5e7eb; padding-left: 12px; margin: 12px 0; }
.instance.status-drifted, .instance.status-missing, .instance.status-error { border-left-color: var(--bad); }
.instance.status-pending, .instance.status-ineligible { border-left-color: var(--due); }
svg.timeline { display: block; width: 100%; height: auto; border: 1px solid #e5e7eb; border-radius: 6px; }
svg.timeline text { font: 12px system-ui, sans-serif; fill: #111827; }
svg.timeline .axis text, svg.timeline .zone-label { fill: var(--muted); font-size: 11px; }
svg.timeline .grid { stroke: #e5e7eb; }
svg.timeline .lane { stroke: #f3f4f6; }
svg.timeline .now { stroke: #111827; stroke-dasharray: 4 3; }
svg.timeline .zone-expired { fill: #fee2e2; }
svg.timeline .zone-renewal { fill: #fef3c7; }
svg.timeline .mark.ok .dot { fill: var(--ok); }
svg.timeline .mark.due .dot { fill: var(--due); }
svg.timeline .mark.expired .dot, svg.timeline .mark.require-update .dot { fill: var(--bad); }
svg.timeline .mark .days { font-size: 11px; fill: #374151; }
.legend { color: var(--muted); font-size: 12px; }
"""

_SCRIPT = """
(function () {
  "use strict";
  function key(cell, type) {
    var value = cell.getAttribute("data-sort");
    if (value === null) { value = cell.textContent.trim(); }
    return type === "number" ? parseFloat(value) : value.toLowerCase();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, index) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var type = th.getAttribute("data-type");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[index], type);
          var y = key(b.cells[index], type);
          var order = x < y ? -1 : (x > y ? 1 : 0);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
}());
"""


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


#: default-src 'none' forbids every fetch (images, fonts, frames, connect, ...); base-uri and form-action are
#: not covered by default-src, so they are closed too.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_csp_hash(_STYLE)}; script-src {_csp_hash(_SCRIPT)}; "
    "base-uri 'none'; form-action 'none'"
)


def _e(text: str | None) -> str:
    """Untrusted text for HTML text or a quoted attribute."""
    return html.escape(markup_text(text), quote=True)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def render(report: DriftReport, *, tool_version: str) -> str:
    """The whole HTML document."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{TITLE}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        *_header(report, tool_version),
        *_instances_section(report),
        *_expiry_section(report),
        *_details_section(report),
        *_unmanaged_section(report),
        "</main>",
        f"<script>{_SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


# -- summary ----------------------------------------------------------------------------------------


def _verdict(report: DriftReport) -> str:
    code = report.exit_code
    s = report.summary
    if code == 1:
        return f"Exit code 1: {s.error} error(s), {s.missing} missing instance(s)."
    if code == 2:
        return f"Exit code 2: {s.drifted} drifted, {s.pending} pending, {s.expiring} certificate(s) due."
    return "Exit code 0: no drift, nothing pending, no certificate due."


def _header(report: DriftReport, tool_version: str) -> list[str]:
    s = report.summary
    cards = [
        ("In sync", s.in_sync, "ok"),
        ("Drifted", s.drifted, "bad" if s.drifted else ""),
        ("Pending", s.pending, "due" if s.pending else ""),
        ("Missing", s.missing, "bad" if s.missing else ""),
        ("Error", s.error, "bad" if s.error else ""),
        ("Ineligible", s.ineligible, ""),
        ("Certificates due", s.expiring, "due" if s.expiring else ""),
        ("Ignored differences", s.ignored_fields, ""),
    ]
    if report.coverage is not None or report.unmanaged:
        cards.append(("Unmanaged", s.unmanaged, "due" if s.unmanaged else ""))
    lines = [
        "<header>",
        f"<h1>{TITLE}</h1>",
        f'<p class="meta">Generated <time datetime="{report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ")}">'
        f"{_stamp(report.generated_at)}</time> by rdsssl-reconcile {_e(tool_version)}"
        + (f" from {', '.join(f'<code>{_e(p)}</code>' for p in report.spec_paths)}" if report.spec_paths else "")
        + "</p>",
        f'<p class="verdict" id="verdict">{_verdict(report)}</p>',
        '<ul class="cards" id="summary">',
        *(f'<li class="{cls}"><span class="n">{n}</span>{label}</li>' for label, n, cls in cards),
        "</ul>",
    ]
    coverage = report.coverage
    if coverage is not None:
        ratio = coverage.ratio
        figure = "no PostgreSQL instance found" if ratio is None else f"{ratio:.0%}"
        regions = ", ".join(_e(r) for r in coverage.regions)
        lines.append(
            f'<p id="coverage">Coverage: {coverage.managed} managed of {coverage.scanned} scanned ({figure}) in {regions}.</p>'
        )
    lines.append("</header>")
    return lines


# -- tables -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Column:
    title: str
    number: bool = False


def _table(table_id: str, columns: Sequence[_Column], rows: Iterable[str]) -> list[str]:
    number = ' data-type="number"'
    head = "".join(
        f'<th scope="col"{number if c.number else ""}><button type="button">{c.title}</button></th>' for c in columns
    )
    return [
        f'<table class="sortable" id="{table_id}">',
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *rows,
        "</tbody>",
        "</table>",
    ]


def _status_cell(status: DriftStatus) -> str:
    return f'<td class="status status-{status.value}" data-sort="{SEVERITY[status]}">{status.value}</td>'


def _instances_section(report: DriftReport) -> list[str]:
    columns = [
        _Column("Status"),
        _Column("Instance"),
        _Column("Region"),
        _Column("Description"),
        _Column("Fields drifted", number=True),
        _Column("Ignored", number=True),
        _Column("Likely cause"),
        _Column("Spec"),
    ]
    ordered = sorted(enumerate(report.instances), key=lambda pair: (SEVERITY[pair[1].status], pair[0]))
    rows = []
    for index, instance in ordered:
        ignored = len(instance.fields) - len(instance.counted_fields)
        causes = "; ".join(_e(c.summary) for c in instance.causes)
        if not causes and instance.error:
            causes = _e(instance.error)
        elif not causes and instance.reasons:
            causes = "; ".join(_e(r) for r in instance.reasons)
        rows.append(
            f'<tr class="row-{instance.status.value}">'
            + _status_cell(instance.status)
            + f'<td class="id"><a href="#i{index}"><code>{_e(instance.id)}</code></a></td>'
            + f'<td class="region">{_e(instance.region)}</td>'
            + f"<td>{_e(instance.description)}</td>"
            + f'<td class="num">{len(instance.counted_fields)}</td>'
            + f'<td class="num">{ignored}</td>'
            + f"<td>{causes}</td>"
            + f"<td><code>{_e(instance.spec_location)}</code></td>"
            + "</tr>"
        )
    return [
        '<section id="instances">',
        f"<h2>Instances ({len(report.instances)})</h2>",
        *_table("instances-table", columns, rows),
        "</section>",
    ]


# -- expiry -------------------------------------------------------------------------------------------

_KIND_WORDS = {
    CertificateKind.SERVER_CLOUD: "server (cloud)",
    CertificateKind.SERVER_CUSTOM: "server (custom)",
    CertificateKind.SERVER_ISSUED: "server (issued)",
    CertificateKind.CLIENT_CA: "client CA",
    CertificateKind.CRL: "CRL next update",
}


def _state(entry: ExpiryEntry) -> tuple[str, str]:
    """The CSS class and the words of a certificate's state, the worst first."""
    if entry.days_left < 0:
        return "expired", "expired"
    if entry.require_update:
        return "require-update", "RequireUpdate"
    if entry.in_renewal_window:
        return "due", "in renewal window"
    return "ok", "valid"


def _expiry_section(report: DriftReport) -> list[str]:
    entries = sorted(report.expiry, key=lambda e: (e.not_after, e.instance_id, e.kind.value))
    lines = ['<section id="expiry">', f"<h2>Certificate expiry ({len(entries)})</h2>"]
    if not entries:
        return [*lines, "<p>No certificate was read.</p>", "</section>"]
    lines.extend(_timeline(report.generated_at, entries))
    columns = [
        _Column("State"),
        _Column("Days left", number=True),
        _Column("Not after"),
        _Column("Instance"),
        _Column("Region"),
        _Column("Kind"),
        _Column("Subject"),
        _Column("Fingerprint (SHA-256)"),
    ]
    rows = []
    for entry in entries:
        css, words = _state(entry)
        fingerprint = entry.fingerprint
        rows.append(
            f'<tr class="row-{css}">'
            + f'<td class="status" data-sort="{["expired", "require-update", "due", "ok"].index(css)}">{words}</td>'
            + f'<td class="num">{entry.days_left}</td>'
            + f'<td data-sort="{entry.not_after.timestamp():.0f}">{_stamp(entry.not_after)}</td>'
            + f'<td class="id"><code>{_e(entry.instance_id)}</code></td>'
            + f'<td class="region">{_e(entry.region)}</td>'
            + f"<td>{_KIND_WORDS[entry.kind]}</td>"
            + f"<td>{_e(entry.subject)}</td>"
            + (
                f'<td class="mono" title="{_e(fingerprint)}">{_e(fingerprint[:12])}…</td>'
                if fingerprint
                else "<td>-</td>"
            )
            + "</tr>"
        )
    return [*lines, *_table("expiry-table", columns, rows), "</section>"]


@dataclass(frozen=True, slots=True)
class _Axis:
    start: datetime
    end: datetime
    left: float
    right: float

    def x(self, moment: datetime) -> float:
        clamped = min(max(moment, self.start), self.end)
        share = (clamped - self.start) / (self.end - self.start)
        return round(self.left + share * (self.right - self.left), 1)


_WIDTH = 1000
_LABEL_RIGHT = 300
_PLOT_LEFT = 320
_PLOT_RIGHT = 940
_TOP = 62
_LANE = 24
_TICK_DAYS = (1, 7, 14, 30, 60, 90, 180, 365, 730)


def _short(text: str) -> str:
    return text if len(text) <= CHART_LABEL_CHARS else text[: CHART_LABEL_CHARS - 1] + "…"


def _timeline(now: datetime, entries: Sequence[ExpiryEntry]) -> list[str]:
    """An SVG timeline: one lane per certificate (soonest first), the expired and renewal zones shaded."""
    earliest = min(min(e.not_after for e in entries), now)
    latest = max(max(e.not_after for e in entries), now + timedelta(days=30))
    start = max(earliest, now - HORIZON_BEHIND)
    end = min(latest, now + HORIZON_AHEAD)
    pad = (end - start) * 0.03
    axis = _Axis(start - pad, end + pad, _PLOT_LEFT, _PLOT_RIGHT)
    bottom = _TOP + _LANE * len(entries)
    height = bottom + 30
    now_x = axis.x(now)
    out = [
        f'<svg class="timeline" id="timeline" viewBox="0 0 {_WIDTH} {height}" '
        f'width="{_WIDTH}" height="{height}" role="img" aria-labelledby="timeline-title">',
        f'<title id="timeline-title">Certificate expiry timeline: {len(entries)} certificate(s)</title>',
    ]
    # Zones: before now the certificates have expired; from now to the last certificate reported inside its
    # renewal window, they are due (each instance has its own window, so the zone ends at the data).
    out.append(
        f'<rect class="zone zone-expired" x="{axis.left}" y="{_TOP - 8}" width="{round(now_x - axis.left, 1)}" '
        f'height="{bottom - _TOP + 8}"><title>expired</title></rect>'
    )
    in_window = [e.not_after for e in entries if e.in_renewal_window and e.not_after >= now]
    if in_window:
        zone_end = axis.x(max(in_window) + timedelta(days=1))
        out.append(
            f'<rect class="zone zone-renewal" id="renewal-zone" x="{now_x}" y="{_TOP - 8}" '
            f'width="{round(zone_end - now_x, 1)}" height="{bottom - _TOP + 8}">'
            "<title>certificates inside their renewal window</title></rect>"
        )
        out.append(f'<text class="zone-label" x="{now_x + 4}" y="{bottom + 22}">renewal window</text>')
    out.extend(_ticks(axis, now, bottom))
    out.append(f'<line class="now" x1="{now_x}" y1="{_TOP - 44}" x2="{now_x}" y2="{bottom}"/>')
    out.append(f'<text x="{now_x + 4}" y="{_TOP - 34}">now ({now.strftime("%Y-%m-%d")})</text>')
    for lane, entry in enumerate(entries):
        out.extend(_mark(axis, entry, _TOP + lane * _LANE + _LANE / 2))
    out.append("</svg>")
    out.append(
        '<p class="legend">Each dot is a certificate at its expiry (a CRL at its next update); red: expired or '
        "RequireUpdate, amber: inside its renewal window, green: valid. A triangle at the edge is beyond the axis.</p>"
    )
    return out


def _ticks(axis: _Axis, now: datetime, bottom: float) -> list[str]:
    span_days = (axis.end - axis.start).days or 1
    step = next((d for d in _TICK_DAYS if span_days / d <= 8), _TICK_DAYS[-1])
    out = ['<g class="axis">']
    k = -((now - axis.start).days // step)
    while (tick := now + timedelta(days=k * step)) <= axis.end:
        if tick >= axis.start and k != 0:
            x = axis.x(tick)
            out.append(f'<line class="grid" x1="{x}" y1="{_TOP - 8}" x2="{x}" y2="{bottom}"/>')
            out.append(f'<text x="{x}" y="{bottom + 12}" text-anchor="middle">{tick.strftime("%Y-%m-%d")}</text>')
            out.append(f'<text x="{x}" y="{_TOP - 14}" text-anchor="middle">{k * step:+d} d</text>')
        k += 1
    out.append("</g>")
    return out


def _mark(axis: _Axis, entry: ExpiryEntry, y: float) -> list[str]:
    css, words = _state(entry)
    x = axis.x(entry.not_after)
    label = _e(_short(f"{markup_text(entry.instance_id)} · {_KIND_WORDS[entry.kind]}"))
    tooltip = (
        f"{_e(entry.instance_id)} ({_e(entry.region)}), {_KIND_WORDS[entry.kind]}: {_e(entry.subject)}, "
        f"{_stamp(entry.not_after)}, {entry.days_left} days left, {words}"
    )
    if entry.not_after > axis.end:
        shape = f'<path class="dot" d="M{x - 6},{y - 6} L{x + 2},{y} L{x - 6},{y + 6} Z"/>'
    elif entry.not_after < axis.start:
        shape = f'<path class="dot" d="M{x + 6},{y - 6} L{x - 2},{y} L{x + 6},{y + 6} Z"/>'
    else:
        shape = f'<circle class="dot" cx="{x}" cy="{y}" r="6"/>'
    days_x, anchor = (x - 10, "end") if x > _PLOT_RIGHT - 60 else (x + 10, "start")
    return [
        f'<line class="lane" x1="{_PLOT_LEFT}" y1="{y}" x2="{_PLOT_RIGHT}" y2="{y}"/>',
        f'<text x="{_LABEL_RIGHT}" y="{y + 4}" text-anchor="end">{label}</text>',
        f'<g class="mark {css}" data-days-left="{entry.days_left}"><title>{tooltip}</title>{shape}'
        f'<text class="days" x="{days_x}" y="{y + 4}" text-anchor="{anchor}">{entry.days_left} d</text></g>',
    ]


# -- details ------------------------------------------------------------------------------------------


def _value(value: str | None) -> str:
    return '<span class="ignored">(none)</span>' if value is None else f"<code>{_e(value)}</code>"


def _field_row(field: FieldDrift) -> str:
    if field.ignored:
        where = f" by <code>{_e(field.ignore_rule)}</code>" if field.ignore_rule else ""
        note = f'<span class="ignored">ignored{where}: {_e(field.ignore_reason or "no reason given")}</span>'
    else:
        note = "differs"
    row_class = ' class="ignored"' if field.ignored else ""
    return (
        f"<tr{row_class}><td><code>{_e(field.field)}</code></td><td>{_value(field.expected)}</td>"
        f"<td>{_value(field.live)}</td><td>{note}</td></tr>"
    )


def _instance_details(index: int, instance: InstanceDrift) -> list[str]:
    status = instance.status.value
    lines = [
        f'<section class="instance status-{status}" id="i{index}">',
        f'<h3><code>{_e(instance.id)}</code> ({_e(instance.region)}): <span class="status status-{status}">{status}</span></h3>',
    ]
    facts = []
    if instance.description:
        facts.append(f"Description: {_e(instance.description)}")
    if instance.spec_location:
        facts.append(f"Spec: <code>{_e(instance.spec_location)}</code>")
    if instance.baseline:
        facts.append(f"Expected state from: {_e(instance.baseline)}")
    if facts:
        lines.append("<p>" + "<br>".join(facts) + "</p>")
    if instance.fields:
        lines.extend(
            [
                "<table><thead><tr><th>Field</th><th>Expected</th><th>Live</th><th></th></tr></thead><tbody>",
                *(_field_row(f) for f in instance.fields),
                "</tbody></table>",
            ]
        )
    if instance.causes:
        lines.append("<p>Likely causes:</p><ul>")
        lines.extend(f"<li>{_e(c.summary)} <em>(based on: {_e(c.evidence)})</em></li>" for c in instance.causes)
        lines.append("</ul>")
    if instance.reasons:
        lines.append("<p>Reasons:</p><ul>")
        lines.extend(f"<li>{_e(r)}</li>" for r in instance.reasons)
        lines.append("</ul>")
    if instance.error:
        lines.append(f'<p class="status-error">Error: {_e(instance.error)}</p>')
    lines.append("</section>")
    return lines


def _details_section(report: DriftReport) -> list[str]:
    lines = ['<section id="details">', "<h2>Details</h2>"]
    ordered = sorted(enumerate(report.instances), key=lambda pair: (SEVERITY[pair[1].status], pair[0]))
    for index, instance in ordered:
        lines.extend(_instance_details(index, instance))
    lines.append("</section>")
    return lines


# -- unmanaged ------------------------------------------------------------------------------------------


_SSL_WORDS = {True: "on", False: "off", None: "unknown"}


def _unmanaged_section(report: DriftReport) -> list[str]:
    if report.coverage is None and not report.unmanaged:
        return []
    columns = [_Column("Instance"), _Column("Region"), _Column("SSL"), _Column("Status"), _Column("Description")]
    rows = [
        "<tr>"
        f"<td><code>{_e(u.id)}</code></td><td>{_e(u.region)}</td>"
        f'<td class="{"status-in_sync" if u.ssl_enabled else "status-error"}">{_SSL_WORDS[u.ssl_enabled]}</td>'
        f"<td>{_e(u.status)}</td><td>{_e(u.description)}</td>"
        "</tr>"
        for u in report.unmanaged
    ]
    return [
        '<section id="unmanaged">',
        f"<h2>Unmanaged instances ({len(report.unmanaged)})</h2>",
        "<p>PostgreSQL instances of the scanned regions that no spec covers.</p>",
        *_table("unmanaged-table", columns, rows),
        "</section>",
    ]
