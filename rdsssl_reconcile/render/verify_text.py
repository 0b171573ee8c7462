"""The verify report as text for a terminal or a CI log: one block per instance, one per endpoint.

Problems (mismatches, errors) come first under their endpoint, each with its code, then what was
established (info). Styles are applied with click (dropped when the output is not a terminal); every
value from a spec, certificate, server or the API goes through :func:`~rdsssl_reconcile.textsafe.visible`.
"""

from __future__ import annotations

import click

from rdsssl_reconcile.textsafe import visible
from rdsssl_reconcile.verify.model import EndpointReport, Finding, InstanceReport, Severity, VerifyReport

_STATUS_STYLE = {"ok": {"fg": "green"}, "mismatch": {"fg": "red", "bold": True}, "error": {"fg": "red", "bold": True}}
_LABEL = {Severity.INFO: "info", Severity.MISMATCH: "MISMATCH", Severity.ERROR: "ERROR"}


def _status(word: str) -> str:
    return click.style(word if word == "ok" else word.upper(), **_STATUS_STYLE[word])  # type: ignore[arg-type]


def _finding(finding: Finding) -> str:
    label = _LABEL[finding.severity]
    styled = click.style(f"{label:<8}", fg="red" if finding.severity is not Severity.INFO else None)
    return f"      {styled} {visible(finding.code)}: {visible(finding.message)}"


def _endpoint_lines(report: EndpointReport) -> list[str]:
    target = report.target
    where = f"{visible(target.name)}:{target.port}" if target.port else visible(target.name)
    via = f" via {visible(target.address)}" if target.address != target.name else ""
    lines = [f"    {where}{via}: {_status(report.status)}"]
    ordered = [*report.problems(), *(f for f in report.findings if f.severity is Severity.INFO)]
    lines.extend(_finding(f) for f in ordered)
    return lines


def _instance_lines(report: InstanceReport) -> list[str]:
    source = f", {visible(report.source)}" if report.source else ""
    lines = [f"  {visible(report.instance_id)} ({visible(report.region)}{source}): {_status(report.status)}"]
    if report.problem is not None:
        lines.append(_finding(report.problem))
    for endpoint in report.endpoints:
        lines.extend(_endpoint_lines(endpoint))
    if report.problem is None and not report.endpoints:
        lines.append("      nothing to verify (SSL declared off on an instance that cannot carry SSL)")
    return lines


def summary_sentence(report: VerifyReport) -> str:
    counts = report.counts()
    endpoints = len(report.endpoints)
    return (
        f"Verify: {counts['ok']} ok, {counts['mismatch']} mismatch, {counts['error']} error "
        f"({endpoints} endpoint{'s' if endpoints != 1 else ''} of {len(report.instances)} instance(s), "
        f"up to {report.parallelism} at once, {report.wall_seconds:.2f} s)."
    )


def render_verify_text(report: VerifyReport) -> str:
    lines = [
        f"Target: {visible(str(report.target.get('description')))}",
        f"Verified at {report.checked_at:%Y-%m-%d %H:%M:%S} UTC (timeout {report.timeout_seconds:g} s per step)",
        "",
    ]
    for instance in report.instances:
        lines.extend(_instance_lines(instance))
        lines.append("")
    lines.append(summary_sentence(report))
    return "\n".join(lines) + "\n"
