"""``drift``: what differs from the specs now, and why, strictly read-only. Thin: options in, one report out.

The specs, the ignore file and the baseline are read first (bad input fails before any cloud call); the
target is opened as for ``plan``; the library reads through a :class:`~rdsssl_reconcile.cloud.port.ReadOnlyView`
(no modify can be called on it) and builds one :class:`~rdsssl_reconcile.drift.model.DriftReport`; every
format asked for (``--format`` on stdout, each ``--report FORMAT=PATH`` to its file) is rendered from that
one report, so a nightly job gets JSON, JUnit, HTML and Prometheus from one read. Exit code:
:attr:`DriftReport.exit_code` (0 no drift, 2 drift, pending or expiring, 1 an error).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import click

from rdsssl_reconcile.cli.machine_errors import document_on_error
from rdsssl_reconcile.cli.options import (
    endpoint_option,
    max_bytes_option,
    now_option,
    parallelism_option,
    paths_argument,
    resolve_now,
    timeout_option,
)
from rdsssl_reconcile.cli.select_options import selection_options
from rdsssl_reconcile.drift.model import DriftReport
from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.secretfiles import replace_atomically
from rdsssl_reconcile.textsafe import visible

Renderer = Callable[[DriftReport], str]


def renderers(*, max_bytes: int) -> dict[str, Renderer]:
    """Format name -> renderer. A new format is one import and one entry here."""
    from rdsssl_reconcile import __version__
    from rdsssl_reconcile.render import drift_html, drift_junit, drift_prometheus
    from rdsssl_reconcile.render.drift_json import render_drift_json
    from rdsssl_reconcile.render.drift_markdown import render_drift_markdown
    from rdsssl_reconcile.render.drift_text import render_drift_text

    return {
        "text": render_drift_text,
        "json": render_drift_json,
        "markdown": partial(render_drift_markdown, max_bytes=max_bytes),
        "junit": partial(drift_junit.render, tool_version=__version__),
        "html": partial(drift_html.render, tool_version=__version__),
        "prometheus": partial(drift_prometheus.render, tool_version=__version__),
    }


#: The formats --format prints on stdout; --report takes any key of :func:`renderers`.
STDOUT_FORMATS = ("text", "json", "markdown", "junit", "html", "prometheus")


def parse_reports(values: tuple[str, ...], known: list[str]) -> list[tuple[str, Path]]:
    """``--report json=out/drift.json`` -> [("json", Path(...))]; a located error for anything else."""
    out: list[tuple[str, Path]] = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not path:
            raise UserError(f"--report {visible(value)!r}: expected FORMAT=PATH, e.g. json=drift.json")
        if name not in known:
            raise UserError(
                f"--report {visible(value)!r}: unknown format {visible(name)!r}; expected one of {', '.join(known)}"
            )
        target = Path(path)
        if target.is_dir():
            raise UserError(f"--report {visible(value)!r}: {visible(path)} is a directory; expected a file path")
        out.append((name, target))
    return out


def write_report(path: Path, text: str) -> None:
    """Atomically (a dashboard never reads half a report), 0644, creating the directory."""
    replace_atomically(path, text)


@click.command()
@paths_argument
@endpoint_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(STDOUT_FORMATS),
    default="text",
    show_default=True,
    help="On stdout: text; json (versioned, schema in drift.schema.json, docs/drift.md); markdown for an issue; "
    "junit, html, prometheus (docs/drift-reports.md).",
)
@click.option(
    "--report",
    "reports",
    multiple=True,
    metavar="FORMAT=PATH",
    help="Also write FORMAT to PATH, from the same read (repeatable): e.g. --report json=drift.json.",
)
@click.option(
    "--scan-region",
    "scan_regions",
    multiple=True,
    metavar="REGION",
    help="List this region's PostgreSQL instances that no spec covers, with their SSL status, and the "
    "coverage (managed / scanned). Repeatable.",
)
@click.option(
    "--baseline-plan",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A saved plan (plan --out) that was applied: the applied state pending changes are told apart from.",
)
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="apply's audit log to take the last applied states from (default: apply's default log; "
    "a missing default log is no evidence, not an error).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ID",
    help="Report only this declared instance (repeatable): nothing else is read.",
)
@selection_options
@max_bytes_option
@parallelism_option
@timeout_option
@now_option
def drift(
    paths: tuple[Path, ...],
    endpoint: str | None,
    output_format: str,
    reports: tuple[str, ...],
    scan_regions: tuple[str, ...],
    baseline_plan: Path | None,
    audit_log: Path | None,
    targets: tuple[str, ...],
    regions: tuple[str, ...],
    selects: tuple[str, ...],
    max_bytes: int,
    parallelism: int,
    timeout: float,
    now: str | None,
) -> int:
    """Report drift, read-only: in sync, drifted, pending, missing, ineligible, error; causes; expiry.

    Makes only Describe calls (a Describe-only RAM policy is enough). Exit 0 when nothing drifted, 2 when
    an instance drifted or is pending or a certificate is in its renewal window, 1 on an error.
    """
    from rdsssl_reconcile.cli.runner import report_retry, selected, session, targeted
    from rdsssl_reconcile.cloud.port import ReadOnlyView
    from rdsssl_reconcile.drift.run import DriftInputs, load_inputs, run_drift
    from rdsssl_reconcile.spec.selection import parse_selection

    spec_paths = list(paths) if paths else [Path("specs")]
    with document_on_error(output_format, command="drift"):
        formats = renderers(max_bytes=max_bytes)
        extra = parse_reports(reports, list(formats))
        moment = resolve_now(now)
        selection = parse_selection(regions, selects)
        inputs: DriftInputs = load_inputs(spec_paths, baseline_plan=baseline_plan, audit_log=audit_log)
        with session(spec_paths, endpoint=endpoint, timeout=timeout, now=moment, on_retry=report_retry) as (
            spec_set,
            connection,
        ):
            declared = [i.id for i in spec_set.instances]
            spec_set = selected(targeted(spec_set, targets), selection)
            report = run_drift(
                ReadOnlyView(connection.client),
                spec_set,
                inputs,
                now=moment,
                target=connection.target.to_json(),
                spec_paths=tuple(str(p) for p in spec_paths),
                scan_regions=scan_regions,
                managed=declared,
                parallelism=parallelism,
            )
    for name, path in extra:
        text = formats[name](report)
        write_report(path, click.unstyle(text) if name == "text" else text)
        click.echo(f"Wrote the {name} report to {visible(str(path))}", err=True)
    click.echo(formats[output_format](report), nl=False)
    return report.exit_code
