"""The plan as a pull-request comment: the worst news first, a summary, then details, within a size budget.

Order: a ``> [!CAUTION]`` banner when an instance does not exist, cannot be read or can never satisfy its
spec (the verdicts of :mod:`rdsssl_reconcile.planning.outcome`, the same that decide the exit code); a
``> [!WARNING]`` banner for restarts that run now, with the plan's own estimates, for restarts the policy
defers (each with its reason and next opening), and for instances that cannot be planned now; a ``> [!NOTE]`` "No instance restarts" only when that is true and nothing failed. Then the
summary table, the instance table (worst first) and a ``<details>`` block per instance with details.

A comment has a size limit (GitHub: 65,536 characters). The budget is counted in UTF-8 bytes, never fewer
than characters, so a comment within it fits. Over budget, detail goes first (``<details>`` blocks from
the end of the table), then instance rows beyond the first N (one "... and K more" row); the banners, the
summary table and the plan sentence always stay, with a line that says where the full plan is.

GitHub and GitLab render the alerts and ``<details>`` blocks; other renderers still show readable quotes
and sections. Every value that does not come from this module is first made terminal-safe
(:func:`~rdsssl_reconcile.textsafe.visible`: a comment is also read in CI logs and pasted into
terminals), then escaped for Markdown and HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from rdsssl_reconcile.planning.model import InstancePlan, Plan, PlanStatus
from rdsssl_reconcile.planning.outcome import Assessment, Verdict, assess
from rdsssl_reconcile.planning.rules import Restart, rule
from rdsssl_reconcile.textsafe import visible

#: What a GitHub pull-request comment holds (characters; the budget counts bytes, which is stricter).
DEFAULT_MAX_BYTES = 65_536
#: Instances named in a banner before "and K more".
BANNER_ERRORS = 5
BANNER_RESTARTS = 10
#: A table cell or banner reason longer than this is cut (the details block, or the full plan, has it all).
CELL_CHARS = 240


def _text(text: str | None) -> str:
    """Inline text that cannot break out of its line or block.

    Reasons and warnings carry text from the API (e.g. ModifyStatusReason); a newline, ``</details>`` or
    ``> [!NOTE]`` in them must not close a block early or forge a banner in the pull-request comment.
    Control characters are made visible first (a newline shows as ``\\n``, as in the text plan), then
    runs of spaces are folded and HTML is escaped.
    """
    return html.escape(" ".join(visible(text or "").split()), quote=False)


def markdown_inline(text: str | None) -> str:
    """Untrusted text for one line of Markdown (the error document uses it too)."""
    return _text(text)


def _short(text: str | None) -> str:
    """:func:`_text`, cut to :data:`CELL_CHARS` visible characters (before escaping, so no entity is split)."""
    shown = " ".join(visible(text or "").split())
    if len(shown) > CELL_CHARS:
        shown = shown[: CELL_CHARS - 1] + "…"
    return html.escape(shown, quote=False)


def _cell(text: str | None, *, short: bool = False) -> str:
    return (_short(text) if short else _text(text)).replace("|", "\\|")


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


def _minutes(seconds: int) -> int:
    """Whole minutes for display, never 0 for a restart that takes any time at all."""
    return max(1, round(seconds / 60)) if seconds else 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _restarting(item: InstancePlan) -> bool:
    """Restarts that this plan runs now (a deferred one is said as deferred, never as "will restart")."""
    return item.restarts_now


def restart_estimate(items: Sequence[InstancePlan]) -> str:
    """The restarts' estimates as the plan states them: ``~3 min``, ``~3 min each``, or a range and total."""
    seconds = [i.restart.estimated_seconds for i in items]
    if not seconds:
        return ""
    if len(set(seconds)) == 1:
        return f"~{_minutes(seconds[0])} min{' each' if len(seconds) > 1 else ''}"
    return f"~{_minutes(min(seconds))}-{_minutes(max(seconds))} min each, ~{_minutes(sum(seconds))} min in total"


def _and_more(shown: int, total: int) -> str:
    return f", and {total - shown} more" if total > shown else ""


def _banners(assessments: Sequence[Assessment]) -> list[str]:
    errors = [a for a in assessments if a.verdict is Verdict.ERROR]
    later = [a for a in assessments if a.verdict is Verdict.NOT_NOW]
    restarting = [a.instance for a in assessments if _restarting(a.instance)]
    deferred = [a.instance for a in assessments if a.instance.deferred]
    lines: list[str] = []
    if errors:
        lines += [
            "> [!CAUTION]",
            f"> **{_plural(len(errors), 'instance')} cannot be planned or can never satisfy "
            f"{'its' if len(errors) == 1 else 'their'} spec** (the plan fails: exit code 1):",
        ]
        lines += [f"> - {_code(a.instance.id)}: {_short(a.why)}" for a in errors[:BANNER_ERRORS]]
        if len(errors) > BANNER_ERRORS:
            lines.append(f"> - and {len(errors) - BANNER_ERRORS} more (marked in the table below)")
        lines.append("")
    if restarting or later or deferred:
        lines.append("> [!WARNING]")
        if restarting:
            names = ", ".join(_code(i.id) for i in restarting[:BANNER_RESTARTS])
            assumed = sum(1 for i in restarting if i.restart.restart is Restart.UNKNOWN)
            lines.append(
                f"> **{_plural(len(restarting), 'instance')} will restart ({restart_estimate(restarting)}):** "
                f"{names}{_and_more(min(len(restarting), BANNER_RESTARTS), len(restarting))}"
            )
            if assumed:
                lines.append(
                    f"> {assumed} of these restart{'s' if assumed == 1 else ''} {'is' if assumed == 1 else 'are'} "
                    "assumed: Alibaba does not document whether the change restarts the instance."
                )
        if restarting and deferred:
            lines.append(">")
        if deferred:
            lines += _deferred_banner(deferred)
        if (restarting or deferred) and later:
            lines.append(">")
        if later:
            names = ", ".join(_code(a.instance.id) for a in later[:BANNER_RESTARTS])
            lines.append(
                f"> **{_plural(len(later), 'instance')} cannot be planned now** (not Running, or locked; plan "
                f"again later): {names}{_and_more(min(len(later), BANNER_RESTARTS), len(later))}"
            )
        lines.append("")
    if not restarting and not errors and not deferred:
        lines += ["> [!NOTE]", "> No instance restarts in this plan.", ""]
    return lines


def _deferred_banner(deferred: Sequence[InstancePlan]) -> list[str]:
    """``N instances deferred`` with each one's reason (policy ``never``, window closed, next opening)."""
    lines = [
        f"> **{_plural(len(deferred), 'instance')} deferred by policy, not changed by this apply "
        f"({'its' if len(deferred) == 1 else 'their'} restart does not run now):**"
    ]
    lines += [
        f"> - {_code(i.id)}: {_short(i.deferral.sentence(i.id) if i.deferral else 'deferred')}"
        for i in deferred[:BANNER_RESTARTS]
    ]
    if len(deferred) > BANNER_RESTARTS:
        lines.append(f"> - and {len(deferred) - BANNER_RESTARTS} more (marked in the table below)")
    return lines


def _summary_table(plan: Plan) -> list[str]:
    summary = plan.summary
    restarting = [i for i in plan.instances if _restarting(i)]
    restarts = f"{summary.restarts} ({restart_estimate(restarting)})" if restarting else "0"
    return [
        "| To change | Restarts | Deferred | In sync | Ineligible | Not found | Errors |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {summary.change} | {restarts} | {summary.deferred} | {summary.in_sync} | {summary.ineligible} | "
        f"{summary.not_found} | {summary.error} |",
    ]


def _restart_cell(item: InstancePlan) -> str:
    if item.status is not PlanStatus.CHANGE:
        return "-"
    minutes = _minutes(item.restart.estimated_seconds)
    if item.deferred:
        return f"**deferred** (~{minutes} min, not now)"
    if item.restart.restart is Restart.REQUIRED:
        return f"**required (~{minutes} min)**"
    if item.restart.restart is Restart.UNKNOWN:
        return f"**assumed (~{minutes} min, undocumented)**"
    return "none"


def _row(assessment: Assessment) -> str:
    item = assessment.instance
    status = item.status.value
    if assessment.verdict is Verdict.ERROR:
        status, detail = f"**{status}** :x:", assessment.why
    elif item.deferred and item.deferral is not None:
        status, detail = f"{status} (deferred)", item.deferral.sentence(item.id)
    elif item.changes:
        detail = ", ".join(c.field for c in item.changes)
    else:
        detail = "; ".join(item.reasons)
    return f"| {_code(item.id, in_table=True)} | {status} | {_restart_cell(item)} | {_cell(detail, short=True)} |"


def _has_details(item: InstancePlan) -> bool:
    return item.status is PlanStatus.CHANGE or bool(item.warnings or item.notes or item.error)


def _details(item: InstancePlan) -> list[str]:
    lines = [
        f"<details><summary><code>{_text(item.id)}</code>: {item.status.value}, "
        f"restart {item.restart.restart.value}{', deferred' if item.deferred else ''}</summary>",
        "",
        *([f"Description: {_text(item.description)}", ""] if item.description else []),
    ]
    if item.changes:
        lines += ["| Field | Before | After | Restart |", "|---|---|---|---|"]
        for change in item.changes:
            reason = f" ({change.reason})" if change.reason else ""
            lines.append(
                f"| {_code(change.field, in_table=True)} | {_cell(change.before)} | "
                f"{_cell(change.after)}{_cell(reason)} | {change.restart.value} |"
            )
        lines.append("")
    if item.deferral is not None:
        lines += [f"**Deferred:** {_text(item.deferral.sentence(item.id))}", ""]
    if item.restart.rule_ids:
        lines.append(f"Restart rules (one restart, ~{_minutes(item.restart.estimated_seconds)} min):")
        lines.extend(
            f"- {rule(r).operation}: **{rule(r).restart.value}**, ~{_minutes(rule(r).estimated_seconds)} min "
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
    if item.error is not None:
        request_id = f", request id {_code(item.error.request_id)}" if item.error.request_id else ""
        lines.append(
            f"- error: {_text(item.error.action)} answered {_code(item.error.code)}: "
            f"{_text(item.error.message)}{request_id}"
        )
    lines.extend(f"- note: {_text(note)}" for note in item.notes)
    lines.extend(f"- :warning: {_text(warning)}" for warning in item.warnings)
    lines.append(f"- policy: {_text(item.policy.describe())}; spec {_code(item.spec_location)}")
    lines += ["", "</details>", ""]
    return lines


def _severity(assessment: Assessment) -> int:
    """Table order: errors, restarts, other changes, not plannable now, in sync (plan order within each)."""
    if assessment.verdict is Verdict.ERROR:
        return 0
    if assessment.verdict is Verdict.PENDING:
        return 1 if assessment.instance.restarts else 2
    return 3 if assessment.verdict is Verdict.NOT_NOW else 4


def _size(lines: Sequence[str]) -> int:
    """Bytes of ``lines`` joined with newlines, each ending in one (how the comment is written)."""
    return sum(len(line.encode()) + 1 for line in lines)


def _omission(
    rows: int, details: int, total_rows: int, total_details: int, budget: int, full_plan: str, what: str = "plan"
) -> list[str]:
    return [
        f"_To fit {budget:,} bytes, this comment shows {rows} of {total_rows} instances and {details} of "
        f"{total_details} detail blocks. The full {what}: {full_plan}_",
        "",
    ]


def _more_row(count: int, what: str = "plan") -> str:
    return f"| … and {count} more | | | not shown here: see the full {what} |"


DEFAULT_FULL_PLAN = (
    "run `rdsssl-reconcile plan` (text), or save it with `rdsssl-reconcile plan --out plan.json` "
    "and read it with `rdsssl-reconcile show plan.json`."
)


def render_markdown(
    plan: Plan,
    *,
    declared: Mapping[str, bool] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    full_plan: str | None = None,
) -> str:
    """The comment. ``declared``: instance id -> SSL declared on (missing: on, the strict reading);
    ``full_plan``: Markdown saying where the whole plan is, shown when the budget dropped anything."""
    full_plan = full_plan or DEFAULT_FULL_PLAN
    assessments = sorted(assess(plan, declared or {}), key=_severity)
    head = ["### rdsssl-reconcile plan", "", *_banners(assessments)]
    head += [
        f"Target: {_cell(str(plan.target.get('description')))} · planned {plan.generated_at:%Y-%m-%d %H:%M} UTC",
        "",
        *_summary_table(plan),
        "",
        "| Instance | Status | Restart | Details |",
        "|---|---|---|---|",
    ]
    rows = [_row(a) for a in assessments]
    warnings = [f"- :warning: {_cell(w, short=True)}" for w in plan.spec_warnings]
    middle = ["", *warnings, *([""] if warnings else [])]
    blocks = [_details(a.instance) for a in assessments if _has_details(a.instance)]
    footer = [f"**Plan:** {plan.summary.sentence()}."]
    return fit_to_budget(head, rows, middle, blocks, footer, max_bytes=max_bytes, full=full_plan)


def fit_to_budget(
    head: Sequence[str],
    rows: Sequence[str],
    middle: Sequence[str],
    blocks: Sequence[Sequence[str]],
    footer: Sequence[str],
    *,
    max_bytes: int,
    full: str,
    what: str = "plan",
) -> str:
    """The comment within ``max_bytes``: ``head`` (banners, summary, table header), ``rows``, ``middle``,
    detail ``blocks`` and ``footer``. Blocks go first, then rows beyond the first N (one "... and K more"
    row); head, middle and footer always stay, with a line saying where the full ``what`` is (``full``).
    The plan's comment and the drift report's share it, so both keep one budget rule."""

    def compose(kept_rows: int, kept_blocks: int, note: list[str]) -> list[str]:
        more = [_more_row(len(rows) - kept_rows, what)] if kept_rows < len(rows) else []
        shown = [line for block in blocks[:kept_blocks] for line in block]
        return [*head, *rows[:kept_rows], *more, *middle, *shown, *note, *footer]

    everything = compose(len(rows), len(blocks), [])
    if _size(everything) <= max_bytes:
        return "\n".join(everything) + "\n"
    # Reserve the widest note and "more" row (their numbers never have more digits than the totals).
    widest = _omission(len(rows), len(blocks), len(rows), len(blocks), max_bytes, full, what)
    room = max_bytes - _size([*head, *middle, *widest, *footer])
    kept_rows = 0
    reserve = _size([_more_row(len(rows), what)])
    while kept_rows < len(rows):
        cost = _size([rows[kept_rows]]) + (reserve if kept_rows + 1 < len(rows) else 0)
        if cost > room:
            break
        room -= _size([rows[kept_rows]])
        kept_rows += 1
    if kept_rows < len(rows):
        room -= reserve
    kept_blocks = 0
    if kept_rows == len(rows):
        while kept_blocks < len(blocks) and _size(blocks[kept_blocks]) <= room:
            room -= _size(blocks[kept_blocks])
            kept_blocks += 1
    note = _omission(kept_rows, kept_blocks, len(rows), len(blocks), max_bytes, full, what)
    return "\n".join(compose(kept_rows, kept_blocks, note)) + "\n"
