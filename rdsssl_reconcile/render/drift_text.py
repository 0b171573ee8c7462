"""The drift report as text for a terminal or a CI log.

Worst news first: per instance a header line (``~ drifted``, ``> pending``, ``? missing``, ``x error``,
``! ineligible``, ``= in sync``), its differing fields as ``expected -> live`` (ignored ones marked, with the
reason and the rule's place), the causes with their evidence, and the baseline the comparison was read
against. Then the expiry section, the unmanaged instances and coverage, notes, and one closing line.
Styles are applied with click, which drops them when the output is not a terminal (a ``--report text=FILE``
is written unstyled). Every value from outside goes through :func:`~rdsssl_reconcile.textsafe.visible`.
"""

from __future__ import annotations

import click

from rdsssl_reconcile.drift.model import DriftReport, DriftStatus, ExpiryEntry, InstanceDrift
from rdsssl_reconcile.textsafe import visible

#: Header symbol, colour and words per status; also the order instances are listed in.
STATUS_STYLE: dict[DriftStatus, tuple[str, str, str]] = {
    DriftStatus.ERROR: ("x", "red", "error"),
    DriftStatus.MISSING: ("?", "red", "missing (declared, not found)"),
    DriftStatus.DRIFTED: ("~", "yellow", "drifted"),
    DriftStatus.PENDING: (">", "cyan", "pending (spec changed, not applied yet)"),
    DriftStatus.INELIGIBLE: ("!", "yellow", "ineligible"),
    DriftStatus.IN_SYNC: ("=", "green", "in sync"),
}
ORDER = {status: index for index, status in enumerate(STATUS_STYLE)}


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _value(text: str | None) -> str:
    return "(none)" if text is None else visible(text)


def instance_lines(item: InstanceDrift) -> list[str]:
    symbol, colour, words = STATUS_STYLE[item.status]
    name = f"{visible(item.id)} ({visible(item.region)})"
    lead = "; ".join(visible(c.summary) for c in item.causes)
    rest = list(item.reasons)
    if not lead and rest:
        lead = visible(rest.pop(0))
    lines = [
        f"  {click.style(symbol, fg=colour, bold=True)} {name}: {click.style(words, fg=colour)}"
        + (f" - {lead}" if lead else "")
    ]
    if item.description:
        lines.append(f"      # {visible(item.description)}")
    width = max((len(visible(f.field)) for f in item.fields), default=0)
    for f in item.fields:
        change = f"expected {_value(f.expected)}, live {_value(f.live)}"
        if f.ignored:
            lines.append(
                f"      {click.style('(ignored)', dim=True)} {visible(f.field).ljust(width)}  {change}  "
                f"[{visible(f.ignore_reason or '')}; {visible(f.ignore_rule or '')}]"
            )
        else:
            lines.append(f"      {click.style('~', fg=colour)} {visible(f.field).ljust(width)}  {change}")
    for cause in item.causes:
        lines.append(f"      cause: {visible(cause.summary)} (based on: {visible(cause.evidence)})")
    for reason in rest:
        lines.append(f"      - {visible(reason)}")
    shows_baseline = item.status in (DriftStatus.DRIFTED, DriftStatus.PENDING) or (
        item.status is DriftStatus.IN_SYNC and item.baseline.startswith(("audit log", "saved plan"))
    )
    if shows_baseline and item.baseline:
        lines.append(f"      baseline: {visible(item.baseline)}")
    if item.spec_location:
        lines.append(f"      spec: {visible(item.spec_location)}")
    return lines


def expiry_line(entry: ExpiryEntry, width: int) -> str:
    flags = []
    if entry.in_renewal_window:
        flags.append(click.style("IN RENEWAL WINDOW", fg="yellow", bold=True))
    if entry.require_update:
        flags.append(click.style("RequireUpdate", fg="yellow", bold=True))
    days = f"expired {-entry.days_left} days ago" if entry.days_left < 0 else f"{entry.days_left} days left"
    what = "next update" if entry.kind.value == "crl" else "expires"
    fingerprint = f", sha256 {visible(entry.fingerprint)[:23]}" if entry.fingerprint else ""
    return (
        f"  {visible(entry.instance_id).ljust(width)}  {entry.kind.value:<13}  {what} {entry.not_after:%Y-%m-%d} "
        f"({days})  {visible(entry.subject)}{fingerprint}" + (f"  {', '.join(flags)}" if flags else "")
    )


def summary_sentence(report: DriftReport) -> str:
    s = report.summary
    parts = [f"{s.drifted} drifted", f"{s.pending} pending", f"{s.in_sync} in sync"]
    for count, word in ((s.missing, "missing"), (s.ineligible, "ineligible"), (s.error, "error")):
        if count:
            parts.append(f"{count} {word}{'s' if word == 'error' and count != 1 else ''}")
    parts.append(f"{_plural(s.expiring, 'certificate')} in the renewal window")
    if report.coverage is not None:
        parts.append(f"{s.unmanaged} unmanaged")
    if s.ignored_fields:
        parts.append(f"{_plural(s.ignored_fields, 'ignored difference')}")
    return ", ".join(parts)


def render_drift_text(report: DriftReport) -> str:
    lines = [
        f"Target: {visible(str(report.target.get('description')))}",
        f"Drift report at {report.generated_at:%Y-%m-%d %H:%M:%S} UTC from {', '.join(visible(p) for p in report.spec_paths) or 'specs'}",
        f"Baseline: {visible(report.baseline or 'none')}",
        "",
    ]
    for item in sorted(report.instances, key=lambda i: ORDER[i.status]):
        lines += [*instance_lines(item), ""]
    if not report.instances:
        lines += ["  No instance declared.", ""]
    if report.expiry:
        flagged = sum(1 for e in report.expiry if e.in_renewal_window or e.require_update)
        lines.append(
            f"Expiry ({_plural(len(report.expiry), 'certificate')}, {flagged} in the renewal window or RequireUpdate):"
        )
        width = max(len(visible(e.instance_id)) for e in report.expiry)
        lines += [expiry_line(e, width) for e in report.expiry]
        lines.append("")
    if report.coverage is not None:
        regions = ", ".join(visible(r) for r in report.coverage.regions)
        if report.unmanaged:
            lines.append(f"Unmanaged PostgreSQL instances (no spec covers them) in {regions}:")
            for u in report.unmanaged:
                ssl = {True: "SSL on", False: click.style("SSL off", fg="yellow"), None: "SSL unknown"}[u.ssl_enabled]
                desc = f" - {visible(u.description)}" if u.description else ""
                lines.append(
                    f"  + {visible(u.id)} ({visible(u.region)}): {ssl}, {visible(u.status or 'status unknown')}{desc}"
                )
        else:
            lines.append(f"Unmanaged PostgreSQL instances in {regions}: none")
        ratio = report.coverage.ratio
        percent = f" ({ratio:.0%})" if ratio is not None else ""
        lines.append(
            f"Coverage: {report.coverage.managed} of {report.coverage.scanned} PostgreSQL instances managed{percent}"
        )
        lines.append("")
    for note in report.notes:
        lines.append(f"note: {visible(note)}")
    if report.notes:
        lines.append("")
    lines.append(f"Drift: {summary_sentence(report)}.")
    return "\n".join(lines) + "\n"
