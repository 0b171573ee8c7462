"""The drift report as Markdown for an issue or a pull-request comment (a nightly job's issue body).

The plan comment's conventions and its size budget, shared rather than copied
(:func:`~rdsssl_reconcile.render.markdown.fit_to_budget`): a ``> [!CAUTION]`` banner when an instance is
missing or could not be read (exit code 1), a ``> [!WARNING]`` banner for drift, pending specs and
certificates in their renewal window (exit code 2), a ``> [!NOTE]`` "No drift" only when nothing of that
holds. Then the summary table, the instance table (worst first), the expiry table, unmanaged instances and
coverage, and a ``<details>`` block per instance with fields and causes. Over budget, detail blocks go
first, then rows; banners and the summary always stay. Every value from outside is made terminal-safe and
escaped (the plan comment's helpers).
"""

from __future__ import annotations

from rdsssl_reconcile.drift.model import DriftReport, DriftStatus, InstanceDrift
from rdsssl_reconcile.render.drift_text import ORDER, summary_sentence
from rdsssl_reconcile.render.markdown import (
    BANNER_ERRORS,
    BANNER_RESTARTS,
    DEFAULT_MAX_BYTES,
    _and_more,
    _cell,
    _code,
    _plural,
    _short,
    _text,
    fit_to_budget,
)

#: Rows of the expiry and unmanaged tables (soonest first); they stay whatever the budget, so they are capped.
SECTION_ROWS = 30

DEFAULT_FULL_REPORT = "run `rdsssl-reconcile drift` (text), or `rdsssl-reconcile drift --format json`."


def _names(items: list[InstanceDrift], limit: int) -> str:
    return ", ".join(_code(i.id) for i in items[:limit]) + _and_more(min(len(items), limit), len(items))


def _banners(report: DriftReport) -> list[str]:
    bad = [i for i in report.instances if i.status in (DriftStatus.ERROR, DriftStatus.MISSING)]
    drifted = [i for i in report.instances if i.status is DriftStatus.DRIFTED]
    pending = [i for i in report.instances if i.status is DriftStatus.PENDING]
    expiring = [e for e in report.expiry if e.in_renewal_window or e.require_update]
    lines: list[str] = []
    if bad:
        lines += [
            "> [!CAUTION]",
            f"> **{_plural(len(bad), 'instance')} missing or not readable** (exit code 1):",
        ]
        for item in bad[:BANNER_ERRORS]:
            why = item.error or "; ".join(item.reasons) or item.status.value
            lines.append(f"> - {_code(item.id)}: {item.status.value}: {_short(why)}")
        if len(bad) > BANNER_ERRORS:
            lines.append(f"> - and {len(bad) - BANNER_ERRORS} more (marked in the table below)")
        lines.append("")
    if drifted or pending or expiring:
        lines.append("> [!WARNING]")
        parts: list[str] = []
        if drifted:
            parts.append(
                f"> **{_plural(len(drifted), 'instance')} drifted** from the specs: {_names(drifted, BANNER_RESTARTS)}"
            )
        if pending:
            parts.append(
                f"> **{_plural(len(pending), 'instance')} pending** (spec changed, not applied yet): "
                f"{_names(pending, BANNER_RESTARTS)}"
            )
        if expiring:
            soonest = min(expiring, key=lambda e: e.days_left)
            parts.append(
                f"> **{_plural(len(expiring), 'certificate')} in the renewal window or RequireUpdate**; the soonest: "
                f"{_code(soonest.instance_id)} {soonest.kind.value}, {soonest.days_left} days left"
            )
        lines += [p for part in parts for p in (part, ">")][:-1]
        lines.append("")
    if not (bad or drifted or pending or expiring):
        lines += ["> [!NOTE]", "> No drift: every declared instance is as declared.", ""]
    return lines


def _summary_table(report: DriftReport) -> list[str]:
    s = report.summary
    return [
        "| Drifted | Pending | In sync | Missing | Ineligible | Errors | Expiring | Unmanaged | Ignored |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s.drifted} | {s.pending} | {s.in_sync} | {s.missing} | {s.ineligible} | {s.error} | {s.expiring} | "
        f"{s.unmanaged if report.coverage is not None else '-'} | {s.ignored_fields} |",
    ]


def _row(item: InstanceDrift) -> str:
    status = item.status.value
    if item.status in (DriftStatus.ERROR, DriftStatus.MISSING):
        status = f"**{status}** :x:"
    elif item.status in (DriftStatus.DRIFTED, DriftStatus.PENDING):
        status = f"**{status}**"
    cause = "; ".join(c.summary for c in item.causes) or "-"
    counted = [f.field for f in item.fields if not f.ignored]
    detail = ", ".join(counted) if counted else (item.error or "; ".join(item.reasons))
    return f"| {_code(item.id, in_table=True)} | {status} | {_cell(cause, short=True)} | {_cell(detail, short=True)} |"


def _details(item: InstanceDrift) -> list[str]:
    lines = [f"<details><summary><code>{_text(item.id)}</code>: {item.status.value}</summary>", ""]
    if item.description:
        lines += [f"Description: {_text(item.description)}", ""]
    if item.fields:
        lines += ["| Field | Expected | Live | Ignored |", "|---|---|---|---|"]
        for f in item.fields:
            ignored = f"yes: {_cell(f.ignore_reason)} ({_cell(f.ignore_rule)})" if f.ignored else "no"
            lines.append(
                f"| {_code(f.field, in_table=True)} | {_cell(f.expected or '(none)')} | {_cell(f.live or '(none)')} | {ignored} |"
            )
        lines.append("")
    lines.extend(f"- cause: **{_text(c.summary)}** (based on: {_text(c.evidence)})" for c in item.causes)
    lines.extend(f"- {_text(r)}" for r in item.reasons)
    if item.baseline:
        lines.append(f"- baseline: {_text(item.baseline)}")
    if item.spec_location:
        lines.append(f"- spec {_code(item.spec_location)}")
    lines += ["", "</details>", ""]
    return lines


def _expiry(report: DriftReport) -> list[str]:
    if not report.expiry:
        return []
    lines = [
        "",
        "#### Expiry",
        "",
        "| Instance | Certificate | Subject | Expires | Days left | Flags |",
        "|---|---|---|---|---:|---|",
    ]
    ordered = sorted(report.expiry, key=lambda e: e.days_left)
    for e in ordered[:SECTION_ROWS]:
        flags = ", ".join(
            flag
            for flag, on in (("**in renewal window**", e.in_renewal_window), ("**RequireUpdate**", e.require_update))
            if on
        )
        lines.append(
            f"| {_code(e.instance_id, in_table=True)} | {e.kind.value} | {_cell(e.subject, short=True)} | "
            f"{e.not_after:%Y-%m-%d} | {e.days_left} | {flags or '-'} |"
        )
    if len(ordered) > SECTION_ROWS:
        lines.append(f"| … and {len(ordered) - SECTION_ROWS} more, later | | | | | |")
    return lines


def _unmanaged(report: DriftReport) -> list[str]:
    if report.coverage is None:
        return []
    ratio = report.coverage.ratio
    percent = f" ({ratio:.0%})" if ratio is not None else ""
    lines = [
        "",
        "#### Unmanaged instances",
        "",
        f"Coverage: **{report.coverage.managed} of {report.coverage.scanned}** PostgreSQL instances managed{percent} "
        f"in {', '.join(_text(r) for r in report.coverage.regions)}.",
    ]
    if report.unmanaged:
        lines += ["", "| Instance | Region | SSL | Status |", "|---|---|---|---|"]
        for u in report.unmanaged[:SECTION_ROWS]:
            ssl = {True: "on", False: "**off**", None: "unknown"}[u.ssl_enabled]
            lines.append(f"| {_code(u.id, in_table=True)} | {_cell(u.region)} | {ssl} | {_cell(u.status or '-')} |")
        if len(report.unmanaged) > SECTION_ROWS:
            lines.append(f"| … and {len(report.unmanaged) - SECTION_ROWS} more | | | |")
    return lines


def render_drift_markdown(
    report: DriftReport, *, max_bytes: int = DEFAULT_MAX_BYTES, full_report: str | None = None
) -> str:
    items = sorted(report.instances, key=lambda i: ORDER[i.status])
    head = [
        "### rdsssl-reconcile drift",
        "",
        *_banners(report),
        f"Target: {_cell(str(report.target.get('description')))} · read {report.generated_at:%Y-%m-%d %H:%M} UTC · "
        f"baseline: {_cell(report.baseline or 'none', short=True)}",
        "",
        *_summary_table(report),
        "",
        "| Instance | Status | Cause | Details |",
        "|---|---|---|---|",
    ]
    rows = [_row(i) for i in items]
    notes = [f"- note: {_cell(n, short=True)}" for n in report.notes]
    middle = [*_expiry(report), *_unmanaged(report), "", *notes, *([""] if notes else [])]
    blocks = [_details(i) for i in items if i.fields or i.causes or i.status is not DriftStatus.IN_SYNC]
    footer = [f"**Drift:** {summary_sentence(report)}."]
    return fit_to_budget(
        head, rows, middle, blocks, footer, max_bytes=max_bytes, full=full_report or DEFAULT_FULL_REPORT, what="report"
    )
