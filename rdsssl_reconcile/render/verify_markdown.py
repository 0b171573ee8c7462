"""The verify report as Markdown (a PR comment or a job summary): a banner, a table, the problems.

Escaping is the plan comment's (:func:`rdsssl_reconcile.render.markdown.markdown_inline`): control
characters made visible, then Markdown and HTML escaped, so no value from a certificate or server can
format the comment.
"""

from __future__ import annotations

from rdsssl_reconcile.render.markdown import markdown_inline
from rdsssl_reconcile.verify.model import VerifyReport


def _cell(text: str | None) -> str:
    return markdown_inline(text or "-").replace("|", "\\|")


def render_verify_markdown(report: VerifyReport) -> str:
    counts = report.counts()
    lines = ["## rdsssl-reconcile verify", ""]
    if counts["error"]:
        lines += ["> [!CAUTION]", f"> {counts['error']} endpoint(s) or instance(s) could not be verified.", ""]
    if counts["mismatch"]:
        lines += [
            "> [!WARNING]",
            f"> {counts['mismatch']} endpoint(s) serve something other than the spec declares.",
            "",
        ]
    if not counts["error"] and not counts["mismatch"]:
        lines += ["> [!NOTE]", "> Every endpoint serves what the specs declare.", ""]
    lines += [
        "| Instance | Endpoint | Result | Protocol | Certificate (sha256) | Expires in |",
        "|---|---|---|---|---|---|",
    ]
    problems: list[str] = []
    for instance in report.instances:
        if instance.problem is not None:
            lines.append(f"| {_cell(instance.instance_id)} | - | {instance.status} | - | - | - |")
            problems.append(f"- **{_cell(instance.instance_id)}**: {_cell(instance.problem.message)}")
        for endpoint in instance.endpoints:
            cert = endpoint.certificate
            days = f"{cert.days_left:.0f} days" if cert else "-"
            where = f"{endpoint.target.name}:{endpoint.target.port}"
            lines.append(
                f"| {_cell(instance.instance_id)} | {_cell(where)} | {endpoint.status} | {_cell(endpoint.protocol)} "
                f"| {_cell(cert.sha256[:23] + '...' if cert else None)} | {days} |"
            )
            problems.extend(
                f"- **{_cell(instance.instance_id)}** {_cell(where)} {f.code}: {_cell(f.message)}"
                for f in endpoint.problems()
            )
    if problems:
        lines += ["", "### Problems", "", *problems]
    endpoints = len(report.endpoints)
    lines += [
        "",
        f"{counts['ok']} ok, {counts['mismatch']} mismatch, {counts['error']} error; {endpoints} endpoint(s) of "
        f"{len(report.instances)} instance(s), checked at {report.checked_at:%Y-%m-%d %H:%M} UTC.",
    ]
    return "\n".join(lines) + "\n"
