"""``probe``: check the tool's assumptions against a target, strictly read-only (Describe actions only).

The command hands :func:`~rdsssl_reconcile.live.probe.run_probe` a
:class:`~rdsssl_reconcile.cloud.port.ReadOnlyView` of the connection's client: the probe's code path has
no object on which a modify could be called. The text form is for a terminal or a bug report (every
value escaped with :func:`~rdsssl_reconcile.textsafe.visible`); ``--format json`` keeps values exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from rdsssl_reconcile.cli.options import endpoint_option, paths_argument, timeout_option
from rdsssl_reconcile.textsafe import visible


@click.command()
@paths_argument
@click.option("--region", required=True, metavar="REGION", help="The region to probe, e.g. cn-hangzhou.")
@click.option(
    "--instance",
    "instances",
    multiple=True,
    metavar="ID",
    help="An instance to probe (repeatable; two or more let it compare a two-id call). "
    "Default: the first instances the region lists.",
)
@endpoint_option
@timeout_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def probe(
    paths: tuple[Path, ...],
    region: str,
    instances: tuple[str, ...],
    endpoint: str | None,
    timeout: float,
    output_format: str,
) -> int:
    """Check what the API really answers, read-only: several ids per call, ConnectionString, field formats.

    Makes only Describe calls. The target is found as for plan (--endpoint, RDSSSL_ENDPOINT, a _target.yaml
    in PATHS or specs/, else Alibaba Cloud). Attach the output to a bug report: keys are never shown
    (certificates appear by fingerprint).
    """
    from rdsssl_reconcile.cli.runner import report_retry
    from rdsssl_reconcile.cloud.port import ReadOnlyView
    from rdsssl_reconcile.cloud.session import connect
    from rdsssl_reconcile.cloud.target import resolve_target
    from rdsssl_reconcile.live.probe import run_probe

    spec_paths = list(paths) if paths else [Path("specs")]
    target = resolve_target(endpoint_option=endpoint, spec_paths=spec_paths)
    with connect(target, timeout_seconds=timeout, on_retry=report_retry) as connection:
        report = run_probe(ReadOnlyView(connection.client), region, instances, target=connection.target.describe())
    if output_format == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(render_probe(report), nl=False)
    return 0


def render_probe(report: object) -> str:
    """The text form of a :class:`~rdsssl_reconcile.live.probe.ProbeReport`."""
    from rdsssl_reconcile.live.probe import ProbeReport

    assert isinstance(report, ProbeReport)
    v = visible
    lines: list[str] = []
    calls = ", ".join(f"{v(action)} x{count}" for action, count in sorted(report.calls.items()))
    kind = "only Describe actions" if report.only_describe else "NOT only Describe actions"
    lines.append(f"Probe of {v(report.target)}, region {v(report.region)}")
    lines.append(f"Calls made: {sum(report.calls.values())}, {kind} ({calls})")
    lines.append("")
    lines.append("DescribeDBInstances")
    paging = ", ".join(f"{v(name)} {v(fmt)}" for name, fmt in report.paging_fields.items()) or "(no answer)"
    lines.append(f"  paging fields: {paging}")
    total = "unknown" if report.listed_total is None else str(report.listed_total)
    lines.append(f"  PostgreSQL instances listed in the region: {total}")
    multi = report.multi_id
    lines.append(f"  several ids in one call: {v(multi.reading)} - {v(multi.detail)}")
    if multi.asked:
        answered = ", ".join(v(i) for i in multi.answered) or "none"
        lines.append(f"    asked {', '.join(v(i) for i in multi.asked)}; answered {answered}")
    lines.append("")
    lines.append("Protected endpoints (DescribeDBInstanceSSL.ConnectionString vs the certificate's SANs)")
    if not report.endpoints:
        lines.append("  not checked: no probed instance has SSL on")
    for check in report.endpoints:
        lines.append(f"  {v(check.instance_id)}: {v(check.reading)} - {v(check.detail)}")
        lines.append(f"    ConnectionString {v(repr(check.connection_string))}")
        covered = ", ".join(v(h) for h in check.covered_by_certificate) or "none"
        lines.append(f"    endpoints covered by the certificate: {covered}")
    lines.append("")
    lines.append("DescribeDBInstanceSSL fields (formats; keys never shown)")
    for instance in report.instances:
        status = v(instance.status) if instance.status else "status unknown"
        lines.append(f"  {v(instance.instance_id)} ({status})")
        if instance.error:
            lines.append(f"    error: {v(instance.error)}")
        width = max((len(name) for name in instance.ssl_fields), default=0)
        for name, fmt in instance.ssl_fields.items():
            lines.append(f"    {v(name).ljust(width)}  {v(fmt)}")
        if instance.unexpected_fields:
            lines.append(f"    fields not on the API page: {', '.join(v(f) for f in instance.unexpected_fields)}")
    if not report.instances:
        lines.append("  no instance probed (none listed in the region; pass --instance)")
    markers = ", ".join(json.dumps(m) for m in report.empty_markers) or "none seen"
    lines.append(f"  empty-value markers: {markers}")
    lines.append("")
    if report.busy_statuses:
        for instance_id, status in report.busy_statuses.items():
            lines.append(f"Busy status: {v(instance_id)} is {v(status)}")
    else:
        lines.append("Busy status: not observed (every probed instance is Running)")
    unknown = "; ".join(f"{v(action)} {v(answer)}" for action, answer in report.unknown_instance.items())
    lines.append(f"Unknown instance: {unknown}")
    for problem in report.problems:
        lines.append(f"Problem: {v(problem)}")
    return "\n".join(lines) + "\n"
