"""The plan as text for a terminal or a CI log, shaped like ``terraform plan``.

Restarts are never a footnote: an instance that restarts says so in its header line, its restart
block lists the fields that trigger it with the rule and source, and the last line counts them.
Styles are applied with click, which drops them when the output is not a terminal.

Every value that does not come from this module (ids, descriptions, certificate text, API reasons,
paths) goes through :func:`~rdsssl_reconcile.textsafe.visible` where it is interpolated, so a control
sequence in it is shown, never obeyed (see :mod:`rdsssl_reconcile.textsafe`).
"""

from __future__ import annotations

from collections.abc import Iterable

import click

from rdsssl_reconcile.planning.model import FieldChange, InstancePlan, Plan, PlanStatus
from rdsssl_reconcile.planning.rules import Restart, rule
from rdsssl_reconcile.textsafe import visible

NONE = "(none)"


def _symbol(change: FieldChange) -> str:
    if change.before in (None, NONE, "(unset)", "false") and change.field != "ssl.enabled":
        return "+"
    if change.after in (None, NONE):
        return "-"
    return "~"


def _minutes(seconds: int) -> int:
    return max(1, round(seconds / 60)) if seconds else 0


def _restart_label(item: InstancePlan) -> str:
    restart = item.restart
    minutes = _minutes(restart.estimated_seconds)
    if restart.restart is Restart.REQUIRED:
        return click.style(f"RESTART required (~{minutes} min)", fg="red", bold=True)
    if restart.restart is Restart.UNKNOWN:
        return click.style(f"RESTART assumed (~{minutes} min, undocumented)", fg="red", bold=True)
    return click.style("no restart", fg="green")


def _joined(texts: Iterable[str], separator: str) -> str:
    return separator.join(visible(t) for t in texts)


def _instance_lines(item: InstancePlan) -> list[str]:
    name = f"{visible(item.id)} ({visible(item.region)})"
    reasons = _joined(item.reasons, "; ")
    if item.status is PlanStatus.IN_SYNC:
        lines = [f"  {click.style('=', fg='green')} {name}: in sync - {reasons}"]
    elif item.status is PlanStatus.INELIGIBLE:
        lines = [f"  {click.style('!', fg='yellow')} {name}: ineligible - {reasons}"]
    elif item.status is PlanStatus.NOT_FOUND:
        lines = [f"  {click.style('?', fg='yellow')} {name}: not found - {reasons}"]
    elif item.status is PlanStatus.ERROR:
        lines = [f"  {click.style('x', fg='red')} {name}: error - {reasons}"]
    elif item.deferred:
        lines = [f"  {click.style('~', fg='yellow')} {name} deferred, not changed now: {_restart_label(item)}"]
        if item.deferral is not None:
            lines.append(click.style(f"      deferred: {visible(item.deferral.sentence(item.id))}", fg="yellow"))
    else:
        lines = [f"  {click.style('~', fg='yellow')} {name} will be changed: {_restart_label(item)}"]
    if item.status is PlanStatus.CHANGE:
        if item.description:
            lines.append(f"      # {visible(item.description)}")
        fields = [visible(c.field) for c in item.changes]
        width = max(len(f) for f in fields)
        for field, change in zip(fields, item.changes, strict=True):
            reason = f"  ({visible(change.reason)})" if change.reason else ""
            before, after = visible(change.before or NONE), visible(change.after or NONE)
            lines.append(f"      {_symbol(change)} {field.ljust(width)} {before} -> {after}{reason}")
        if item.restart.restart.counts_as_restart:
            lines.append(
                f"      restart: {item.restart.restart.value}, triggered by {_joined(item.restart.triggers, ', ')}"
            )
            for rule_id in item.restart.rule_ids:
                current = rule(rule_id)
                lines.append(
                    f"        - {current.operation}: {current.restart.value}, ~{_minutes(current.estimated_seconds)} min "
                    f"(source: {current.source})"
                )
        if item.request:
            lines.append(f"      request: {visible(item.request.action)} (one call)")
            names = [visible(p.name) for p in item.request.parameters]
            pad = max(len(n) for n in names)
            lines.extend(
                f"        {n.ljust(pad)} = {visible(p.display)}"
                for n, p in zip(names, item.request.parameters, strict=True)
            )
    for note in item.notes:
        lines.append(f"      note: {visible(note)}")
    for warning in item.warnings:
        lines.append(click.style(f"      warning: {visible(warning)}", fg="yellow"))
    if item.status is PlanStatus.CHANGE:
        lines.append(f"      policy: {visible(item.policy.describe())}; spec {visible(item.spec_location)}")
    return lines


def render_text(plan: Plan) -> str:
    summary = plan.summary
    lines = [
        f"Target: {visible(str(plan.target.get('description', plan.target.get('kind'))))}",
        f"Planned at {plan.generated_at:%Y-%m-%d %H:%M:%S} UTC from {_joined(plan.spec_paths, ', ') or 'specs'}",
        "",
    ]
    for warning in plan.spec_warnings:
        lines.append(click.style(f"warning: {visible(warning)}", fg="yellow"))
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
        restarting = [visible(i.id) for i in plan.instances if i.restarts_now]
        lines.append(
            click.style(
                f"{summary.restarts} instance{'s' if summary.restarts != 1 else ''} will restart: {', '.join(restarting)}",
                fg="red",
                bold=True,
            )
        )
    if summary.deferred:
        deferred = [visible(i.id) for i in plan.instances if i.deferred]
        lines.append(
            click.style(
                f"{summary.deferred} instance{'s' if summary.deferred != 1 else ''} deferred by policy, not changed "
                f"by this apply: {', '.join(deferred)}",
                fg="yellow",
                bold=True,
            )
        )
    lines.append(click.style(f"Plan: {summary.sentence()}.", bold=True))
    return "\n".join(lines) + "\n"
