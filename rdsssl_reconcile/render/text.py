"""The plan as text for a terminal or a CI log, shaped like ``terraform plan``.

Restarts are never a footnote: an instance that restarts says so in its header line, its restart
block lists the fields that trigger it with the rule and source, and the last line counts them.
Styles are applied with click, which drops them when the output is not a terminal.
"""

from __future__ import annotations

import click

from rdsssl_reconcile.planning.model import FieldChange, InstancePlan, Plan, PlanStatus
from rdsssl_reconcile.planning.rules import Restart, rule

NONE = "(none)"


def _symbol(change: FieldChange) -> str:
    if change.before in (None, NONE, "(unset)", "false") and change.field != "ssl.enabled":
        return "+"
    if change.after in (None, NONE):
        return "-"
    return "~"


def _restart_label(item: InstancePlan) -> str:
    restart = item.restart
    minutes = round(restart.estimated_seconds / 60)
    if restart.restart is Restart.REQUIRED:
        return click.style(f"RESTART required (~{minutes} min)", fg="red", bold=True)
    if restart.restart is Restart.UNKNOWN:
        return click.style(f"RESTART assumed (~{minutes} min, undocumented)", fg="red", bold=True)
    return click.style("no restart", fg="green")


def _instance_lines(item: InstancePlan) -> list[str]:
    name = f"{item.id} ({item.region})"
    if item.status is PlanStatus.IN_SYNC:
        lines = [f"  {click.style('=', fg='green')} {name}: in sync - {'; '.join(item.reasons)}"]
    elif item.status is PlanStatus.INELIGIBLE:
        lines = [f"  {click.style('!', fg='yellow')} {name}: ineligible - {'; '.join(item.reasons)}"]
    elif item.status is PlanStatus.NOT_FOUND:
        lines = [f"  {click.style('?', fg='yellow')} {name}: not found - {'; '.join(item.reasons)}"]
    elif item.status is PlanStatus.ERROR:
        lines = [f"  {click.style('x', fg='red')} {name}: error - {'; '.join(item.reasons)}"]
    else:
        lines = [f"  {click.style('~', fg='yellow')} {name} will be changed: {_restart_label(item)}"]
        if item.description:
            lines.append(f"      # {item.description}")
        width = max(len(c.field) for c in item.changes)
        for change in item.changes:
            reason = f"  ({change.reason})" if change.reason else ""
            lines.append(
                f"      {_symbol(change)} {change.field.ljust(width)} {change.before or NONE} -> {change.after or NONE}{reason}"
            )
        if item.restart.restart.counts_as_restart:
            lines.append(
                f"      restart: {item.restart.restart.value}, triggered by {', '.join(item.restart.triggers)}"
            )
            for rule_id in item.restart.rule_ids:
                current = rule(rule_id)
                lines.append(f"        - {current.operation}: {current.restart.value} (source: {current.source})")
        if item.request:
            lines.append(f"      request: {item.request.action} (one call)")
            pad = max(len(p.name) for p in item.request.parameters)
            lines.extend(f"        {p.name.ljust(pad)} = {p.display}" for p in item.request.parameters)
    for note in item.notes:
        lines.append(f"      note: {note}")
    for warning in item.warnings:
        lines.append(click.style(f"      warning: {warning}", fg="yellow"))
    if item.status is PlanStatus.CHANGE:
        lines.append(f"      policy: {item.policy}; spec {item.spec_location}")
    return lines


def render_text(plan: Plan) -> str:
    summary = plan.summary
    lines = [
        f"Target: {plan.target.get('description', plan.target.get('kind'))}",
        f"Planned at {plan.generated_at:%Y-%m-%d %H:%M:%S} UTC from {', '.join(plan.spec_paths) or 'specs'}",
        "",
    ]
    for warning in plan.spec_warnings:
        lines.append(click.style(f"warning: {warning}", fg="yellow"))
    if plan.spec_warnings:
        lines.append("")
    ordered = sorted(
        plan.instances,
        key=lambda i: [
            PlanStatus.CHANGE,
            PlanStatus.ERROR,
            PlanStatus.NOT_FOUND,
            PlanStatus.INELIGIBLE,
            PlanStatus.IN_SYNC,
        ].index(i.status),
    )
    for item in ordered:
        lines.extend(_instance_lines(item))
        lines.append("")
    if summary.restarts:
        restarting = [
            i.id for i in plan.instances if i.status is PlanStatus.CHANGE and i.restart.restart.counts_as_restart
        ]
        lines.append(
            click.style(
                f"{summary.restarts} instance{'s' if summary.restarts != 1 else ''} will restart: {', '.join(restarting)}",
                fg="red",
                bold=True,
            )
        )
    lines.append(click.style(f"Plan: {summary.sentence()}.", bold=True))
    return "\n".join(lines) + "\n"
