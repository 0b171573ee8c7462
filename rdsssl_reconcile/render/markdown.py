"""The plan as a pull-request comment: a restart banner first, a summary table, details per instance.

GitHub and GitLab render the ``> [!WARNING]`` alert and ``<details>`` blocks; other renderers still
show readable quotes and sections. Every value that does not come from this module is first made
terminal-safe (:func:`~rdsssl_reconcile.textsafe.visible`: a comment is also read in CI logs and pasted
into terminals), then escaped for Markdown and HTML.
"""

from __future__ import annotations

import html
import re

from rdsssl_reconcile.planning.model import InstancePlan, Plan, PlanStatus
from rdsssl_reconcile.planning.rules import Restart, rule
from rdsssl_reconcile.textsafe import visible


def _text(text: str | None) -> str:
    """Inline text that cannot break out of its line or block.

    Reasons and warnings carry text from the API (e.g. ModifyStatusReason); a newline, ``</details>`` or
    ``> [!NOTE]`` in them must not close a block early or forge a banner in the pull-request comment.
    Control characters are made visible first (a newline shows as ``\\n``, as in the text plan), then
    runs of spaces are folded and HTML is escaped.
    """
    return html.escape(" ".join(visible(text or "").split()), quote=False)


def _cell(text: str | None) -> str:
    return _text(text).replace("|", "\\|")


def _code(text: str, *, in_table: bool = False) -> str:
    """A code span that shows ``text`` literally, whatever backticks it holds (CommonMark, code spans).

    Entities and HTML are not interpreted inside a code span, so only the fence needs care: one backtick
    longer than the longest run inside. In a table a ``|`` still ends the cell (GFM), so it is escaped.
    """
    shown = visible(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    code = f"{fence}{pad}{shown}{pad}{fence}"
    return code.replace("|", "\\|") if in_table else code


def _restart_cell(item: InstancePlan) -> str:
    if item.status is not PlanStatus.CHANGE:
        return "-"
    minutes = round(item.restart.estimated_seconds / 60)
    if item.restart.restart is Restart.REQUIRED:
        return f"**required (~{minutes} min)**"
    if item.restart.restart is Restart.UNKNOWN:
        return f"**assumed (~{minutes} min, undocumented)**"
    return "none"


def _details(item: InstancePlan) -> list[str]:
    lines = [
        f"<details><summary><code>{_text(item.id)}</code>: {item.status.value}, "
        f"restart {item.restart.restart.value}</summary>",
        "",
        *([f"Description: {_text(item.description)}", ""] if item.description else []),
        "| Field | Before | After | Restart |",
        "|---|---|---|---|",
    ]
    for change in item.changes:
        reason = f" ({change.reason})" if change.reason else ""
        lines.append(
            f"| {_code(change.field, in_table=True)} | {_cell(change.before)} | {_cell(change.after)}{_cell(reason)} | {change.restart.value} |"
        )
    lines.append("")
    if item.restart.rule_ids:
        lines.append("Restart rules:")
        lines.extend(
            f"- {rule(r).operation}: **{rule(r).restart.value}**, ~{max(1, round(rule(r).estimated_seconds / 60))} min "
            f"({rule(r).source})"
            for r in item.restart.rule_ids
        )
        lines.append("")
    if item.request:
        lines.append(f"Request ({_text(item.request.action)}, one call):")
        # One line per parameter, control characters (newlines too) escaped: nothing can close the fence.
        lines.append("```")
        lines.extend(f"{visible(p.name)} = {visible(p.display)}" for p in item.request.parameters)
        lines.append("```")
    lines.extend(f"- note: {_text(note)}" for note in item.notes)
    lines.extend(f"- :warning: {_text(warning)}" for warning in item.warnings)
    lines.append(f"- policy: {_text(item.policy)}; spec {_code(item.spec_location)}")
    lines += ["", "</details>", ""]
    return lines


def render_markdown(plan: Plan) -> str:
    summary = plan.summary
    lines = ["### rdsssl-reconcile plan", ""]
    restarting = [i for i in plan.instances if i.status is PlanStatus.CHANGE and i.restart.restart.counts_as_restart]
    if restarting:
        names = ", ".join(_code(i.id) for i in restarting)
        lines += [
            "> [!WARNING]",
            f"> **{len(restarting)} instance{'s' if len(restarting) != 1 else ''} will restart "
            f"({summary.restart_estimate()}):** {names}",
            "",
        ]
    else:
        lines += ["> [!NOTE]", "> No instance restarts in this plan.", ""]
    lines += [
        f"Target: {_cell(str(plan.target.get('description')))} · planned {plan.generated_at:%Y-%m-%d %H:%M} UTC",
        "",
        "| Instance | Status | Restart | Details |",
        "|---|---|---|---|",
    ]
    for item in plan.instances:
        detail = ", ".join(c.field for c in item.changes) if item.changes else "; ".join(item.reasons)
        lines.append(
            f"| {_code(item.id, in_table=True)} | {item.status.value} | {_restart_cell(item)} | {_cell(detail)} |"
        )
    lines.append("")
    for warning in plan.spec_warnings:
        lines.append(f"- :warning: {_cell(warning)}")
    for item in plan.instances:
        if item.status is PlanStatus.CHANGE or item.warnings:
            lines.extend(_details(item))
    lines.append(f"**Plan:** {summary.sentence()}.")
    return "\n".join(lines) + "\n"
