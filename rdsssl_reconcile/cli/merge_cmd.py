"""``merge FILE...``: one summary of several CI shards' plans (or drift reports), with one exit code.

Thin: files are read and parsed defensively here (the saved-plan reader's JSON parser and schema), the
merge itself is :mod:`rdsssl_reconcile.planning.merge`, the views are the plan's renderers (and, for
drift, the drift command's own renderers). Exit codes: for plans, those of ``plan`` over the
merged instances (``--detailed-exitcode`` as for plan: 0 all in sync, 2 something left to do, 1 an
error); for drift reports, those of ``drift`` (0 no drift, 2 drift, pending or expiring, 1 an error or a
missing instance); 1 when the inputs cannot be merged. So the merged code is the worst of the inputs'.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import click

from rdsssl_reconcile.cli.options import max_bytes_option
from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.textsafe import visible


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="json is a plan (or drift report) document of every input's instances; it can be merged again.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Plans: exit 0 only when every merged instance is in sync, 2 when something is left to do, 1 on an "
    "error (as plan --detailed-exitcode). Drift reports always exit as drift does.",
)
@max_bytes_option
def merge(files: tuple[Path, ...], output_format: str, detailed_exitcode: bool, max_bytes: int) -> int:
    """Merge JSON plans (plan --format json, plan --out files) or drift reports (drift --format json).

    For CI matrix jobs that each plan one region or account: the merged summary is what one plan of all
    their instances says. Inputs must be of one kind, and an instance in two inputs must be the same in both.
    """
    from rdsssl_reconcile.planning.merge import Source, kind_of

    sources = [Source(name=str(path), document=_read(path)) for path in files]
    if kind_of(sources) == "drift":
        return _merge_drift(sources, output_format, max_bytes=max_bytes)
    return _merge_plans(sources, output_format, detailed=detailed_exitcode, max_bytes=max_bytes)


def _read(path: Path) -> dict[str, Any]:
    from rdsssl_reconcile.planfile import MAX_BYTES, parse_plan

    where = visible(str(path))
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise UserError(f"{where}: not a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{where}: no such file") from None
    except OSError as exc:
        raise UserError(f"{where}: cannot read it: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_BYTES:
        raise UserError(f"{where}: larger than a plan or report may be")
    document = parse_plan(data, where)
    if not isinstance(document, dict):
        raise UserError(f"{where}: expected a JSON object (a plan or a drift report)")
    return document


def _plan_of(source: Any) -> Any:
    """The Plan a plan document describes, checked as show PLANFILE checks a saved plan."""
    from rdsssl_reconcile.planfile import KIND, plan_from_document, schema_problems
    from rdsssl_reconcile.planning.merge import MERGED_KIND
    from rdsssl_reconcile.planning.model import PLAN_FORMAT_VERSION

    document = dict(source.document)
    where = visible(source.name)
    kind = document.get("kind")
    if kind not in (None, KIND, MERGED_KIND):
        raise UserError(f"{where}: kind {json.dumps(kind)[:80]} is not a plan or a drift report")
    version = document.get("format_version")
    if not isinstance(version, str) or version.split(".")[0] != PLAN_FORMAT_VERSION.split(".")[0]:
        raise UserError(f"{where}: format_version {json.dumps(version)[:40]} is not a plan format this version reads")
    document.pop("sources", None)
    problems = schema_problems({**document, "kind": KIND, "desired": document.get("desired") or {}})
    if problems:
        raise UserError(f"{where}: not a valid plan: " + "; ".join(problems[:5]))
    return plan_from_document(document, where)


def _merge_plans(sources: list[Any], output_format: str, *, detailed: bool, max_bytes: int) -> int:
    from rdsssl_reconcile import __version__
    from rdsssl_reconcile.planning.merge import MERGED_KIND, merge_plans
    from rdsssl_reconcile.planning.model import plan_to_json
    from rdsssl_reconcile.planning.outcome import assess, plan_exit_code
    from rdsssl_reconcile.render.markdown import render_markdown
    from rdsssl_reconcile.render.text import render_text

    merged = merge_plans(sources, [_plan_of(s) for s in sources])
    if output_format == "json":
        document = plan_to_json(merged.plan, tool_version=__version__)
        document |= {"kind": MERGED_KIND, "desired": merged.desired, "sources": list(merged.sources)}
        click.echo(json.dumps(document, indent=2))
    elif output_format == "markdown":
        click.echo(render_markdown(merged.plan, declared=merged.declared, max_bytes=max_bytes), nl=False)
    else:
        shown = ", ".join(f"{visible(s['file'])} ({s['instances']} instances)" for s in merged.sources)
        click.echo(f"Merged {len(merged.sources)} plans: {shown}")
        click.echo(render_text(merged.plan), nl=False)
    assessments = assess(merged.plan, merged.declared)
    if merged.undeclared:
        from rdsssl_reconcile.planning.model import PlanStatus

        strict = [i for i in merged.plan.instances if i.id in merged.undeclared and i.status is PlanStatus.INELIGIBLE]
        if strict:
            click.echo(
                "note: "
                + ", ".join(visible(i.id) for i in strict)
                + ": ineligible, and their plan documents do not say whether the spec declares SSL (saved plans "
                "from 'plan --out' do); counted as SSL declared on",
                err=True,
            )
    return plan_exit_code(assessments, detailed=detailed)


def _merge_drift(sources: list[Any], output_format: str, *, max_bytes: int) -> int:
    from rdsssl_reconcile import __version__
    from rdsssl_reconcile.drift.model import report_to_json
    from rdsssl_reconcile.planning.merge import merge_drift
    from rdsssl_reconcile.render.drift_markdown import render_drift_markdown
    from rdsssl_reconcile.render.drift_text import render_drift_text

    report = merge_drift(sources)
    header = f"Drift merged from {len(sources)} reports: {', '.join(s.name for s in sources)}"
    if output_format == "json":
        click.echo(json.dumps(report_to_json(report, tool_version=__version__), indent=2))
    else:
        # The same views as one drift run of all the shards' instances; which files went in goes to stderr.
        click.echo(visible(header), err=True)
        if output_format == "markdown":
            click.echo(render_drift_markdown(report, max_bytes=max_bytes), nl=False)
        else:
            click.echo(render_drift_text(report), nl=False)
    return report.exit_code
