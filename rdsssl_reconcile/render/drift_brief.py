"""A merged drift report in brief, as text or Markdown: per instance its status, then the counts.

``merge`` of drift reports needs a human view; the full drift renderers (changelog, causes, expiry
timeline) are the ``drift`` command's. This one is a function of the same report values and escapes as
they do: every string from a report through :func:`~rdsssl_reconcile.textsafe.visible` (text) or
:func:`~rdsssl_reconcile.render.markdown.markdown_inline` (Markdown).
"""

from __future__ import annotations

from rdsssl_reconcile.drift.model import DriftReport
from rdsssl_reconcile.render.markdown import markdown_inline
from rdsssl_reconcile.textsafe import visible


def _counts(report: DriftReport) -> str:
    summary = report.summary.to_json()
    return ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in summary.items())


def _coverage(report: DriftReport) -> str | None:
    coverage = report.coverage
    if coverage is None or coverage.ratio is None:
        return None
    return f"Coverage: {coverage.managed} of {coverage.scanned} scanned instances managed ({coverage.ratio:.0%})"


def render_drift_text(report: DriftReport, *, header: str) -> str:
    lines = [visible(header), ""]
    for item in report.instances:
        fields = ", ".join(visible(f.field) for f in item.counted_fields)
        detail = f": {fields}" if fields else (f": {visible('; '.join(item.reasons))}" if item.reasons else "")
        lines.append(f"  {visible(item.id)} ({visible(item.region)}): {item.status.value}{detail}")
    for entry in report.unmanaged:
        lines.append(f"  {visible(entry.id)} ({visible(entry.region)}): unmanaged")
    lines.append("")
    lines.append(f"Drift: {_counts(report)}.")
    coverage = _coverage(report)
    if coverage:
        lines.append(coverage + ".")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return markdown_inline(text).replace("|", "\\|")


def render_drift_markdown(report: DriftReport, *, header: str) -> str:
    lines = [f"### {markdown_inline(header)}", "", "| instance | region | status | fields |", "|---|---|---|---|"]
    for item in report.instances:
        fields = ", ".join(f.field for f in item.counted_fields)
        lines.append(f"| {_cell(item.id)} | {_cell(item.region)} | {item.status.value} | {_cell(fields) or '-'} |")
    lines.append("")
    lines.append(f"**Drift:** {markdown_inline(_counts(report))}.")
    coverage = _coverage(report)
    if coverage:
        lines.append("")
        lines.append(markdown_inline(coverage) + ".")
    return "\n".join(lines) + "\n"
