"""``validate``, ``plan`` and ``schema``: read specs, read live state, show what would change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from rdsssl_reconcile.cli.options import (
    endpoint_option,
    now_option,
    parallelism_option,
    paths_argument,
    resolve_now,
    timeout_option,
)
from rdsssl_reconcile.spec.loader import SpecSet, load_specs
from rdsssl_reconcile.textsafe import visible


def _spec_paths(paths: tuple[Path, ...]) -> list[Path]:
    return list(paths) if paths else [Path("specs")]


@click.command()
@paths_argument
@now_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def validate(paths: tuple[Path, ...], now: str | None, output_format: str) -> None:
    """Check specs offline: schema, referenced files and variables, keys, certificates, endpoint coverage.

    Makes no cloud call (and does not load the cloud SDK). Exit 0 when valid, 1 otherwise.
    """
    spec_set = load_specs(_spec_paths(paths), now=resolve_now(now))
    if output_format == "json":
        click.echo(json.dumps(_validate_json(spec_set), indent=2))
        return
    for warning in spec_set.warnings:
        click.secho(f"warning: {visible(str(warning))}", fg="yellow", err=True)
    for instance in spec_set.instances:
        certificate = instance.ssl.certificate
        source = certificate.source.value if certificate else "-"
        state = "ssl on" if instance.ssl.enabled else "ssl off"
        click.echo(
            f"  ok  {visible(instance.id)} ({visible(instance.region)}): {state}, certificate {source}, "
            f"{visible(instance.policy.describe())}"
        )
    files = len(spec_set.files)
    click.secho(
        f"Valid: {len(spec_set.instances)} instance(s) in {files} file(s), {len(spec_set.warnings)} warning(s). "
        "(offline check: no cloud call)",
        fg="green",
    )


def _validate_json(spec_set: SpecSet) -> dict[str, Any]:
    from rdsssl_reconcile.spec.model import desired_to_json

    return {
        "valid": True,
        "files": [str(f) for f in spec_set.files],
        "warnings": [str(w) for w in spec_set.warnings],
        "instances": [desired_to_json(i) for i in spec_set.instances],
    }


@click.command()
@paths_argument
@endpoint_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text reads like terraform plan; json is documented in docs/plan-format.md; markdown is for PR comments.",
)
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for 'apply PLANFILE'."
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing changes, 2 when changes are pending, 1 on errors (as terraform plan).",
)
@parallelism_option
@timeout_option
@now_option
def plan(
    paths: tuple[Path, ...],
    endpoint: str | None,
    output_format: str,
    out: Path | None,
    detailed_exitcode: bool,
    parallelism: int,
    timeout: float,
    now: str | None,
) -> int:
    """Show what would change on each instance, and which changes restart it (~3 min)."""
    from rdsssl_reconcile.cli.runner import build_plan, echo_plan

    spec_paths = _spec_paths(paths)
    result = build_plan(spec_paths, endpoint=endpoint, parallelism=parallelism, timeout=timeout, now=resolve_now(now))
    echo_plan(result.plan, output_format)
    if out is not None:
        from rdsssl_reconcile.planfile import write_plan

        write_plan(out, result.plan, result.spec_set.instances)
        click.echo(
            f"Saved the plan to {visible(str(out))}; apply it with: rdsssl-reconcile apply {visible(str(out))}",
            err=True,
        )
    if result.plan.has_errors:
        return 1
    if detailed_exitcode and result.plan.has_changes:
        return 2
    return 0


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of stdout.")
def schema(out: Path | None) -> None:
    """Print the JSON Schema of the spec format (v1), for editors and CI checks."""
    from rdsssl_reconcile.spec.schema import schema_json

    if out:
        out.write_text(schema_json(), encoding="utf-8")
    else:
        click.echo(schema_json(), nl=False)
