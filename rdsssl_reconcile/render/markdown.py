"""The plan as a pull-request comment: a restart banner first, a summary table, details per instance.

GitHub and GitLab render the ``> [!WARNING]`` alert and ``<details>`` blocks; other renderers still
show readable quotes and sections.
"""

from __future__ import annotations

import html

from rdsssl_reconcile.planning.model import InstancePlan, Plan, PlanStatus
from rdsssl_reconcile.planning.rules import Restart, rule


def _text(text: str | None) -> str:
    """Inline text that cannot break out of its line or block.

    Reasons and warnings carry text from the API (e.g. ModifyStatusReason); a newline, ``</details>`` or
    ``> [!NOTE]`` in them must not close a block early or forge a banner in the pull-request comment.
    """
    return html.escape(" ".join((text or "").split()), quote=False)


def _cell(text: str | None) -> str:
    return _text(text).replace("|", "\\|")


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
        f"<details><summary><code>{item.id}</code>: {item.status.value}, restart {item.restart.restart.value}</summary>",
        "",
        "| Field | Before | After | Restart |",
        "|---|---|---|---|",
    ]
    for change in item.changes:
        reason = f" ({change.reason})" if change.reason else ""
        lines.append(
            f"| `{change.field}` | {_cell(change.before)} | {_cell(change.after)}{_cell(reason)} | {change.restart.value} |"
        )
    lines.append("")
    if item.restart.rule_ids:
        lines.append("Restart rules:")
        lines.extend(
            f"- {rule(r).operation}: **{rule(r).restart.value}** ({rule(r).source})" for r in item.restart.rule_ids
        )
        lines.append("")
    if item.request:
        lines.append(f"Request ({item.request.action}, one call):")
        lines.append("```")
        lines.extend(f"{p.name} = {p.display}" for p in item.request.parameters)
        lines.append("```")
    lines.extend(f"- note: {_text(note)}" for note in item.notes)
    lines.extend(f"- :warning: {_text(warning)}" for warning in item.warnings)
    lines.append(f"- policy: {_text(item.policy)}; spec `{_text(item.spec_location)}`")
    lines += ["", "</details>", ""]
    return lines


def render_markdown(plan: Plan) -> str:
    summary = plan.summary
    lines = ["### rdsssl-reconcile plan", ""]
    restarting = [i for i in plan.instances if i.status is PlanStatus.CHANGE and i.restart.restart.counts_as_restart]
    if restarting:
        minutes = round(summary.restart_seconds / max(1, summary.restarts) / 60)
        names = ", ".join(f"`{i.id}`" for i in restarting)
        lines += [
            "> [!WARNING]",
            f"> **{len(restarting)} instance{'s' if len(restarting) != 1 else ''} will restart (~{minutes} min each):** {names}",
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
        lines.append(f"| `{item.id}` | {item.status.value} | {_restart_cell(item)} | {_cell(detail)} |")
    lines.append("")
    for warning in plan.spec_warnings:
        lines.append(f"- :warning: {_cell(warning)}")
    for item in plan.instances:
        if item.status is PlanStatus.CHANGE or item.warnings:
            lines.extend(_details(item))
    lines.append(f"**Plan:** {summary.sentence()}.")
    return "\n".join(lines) + "\n"
