"""``validate``, ``plan`` and ``schema``: read specs, read live state, show what would change."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.planning.model import Plan
from rdsssl_reconcile.spec.loader import SpecSet, load_specs
from rdsssl_reconcile.textsafe import listing, visible

#: Instances named in plan's closing error line before "and K more".
MAX_NAMED = 10


def check_writable_out(out: Path) -> None:
    """Prove that ``plan --out FILE`` can be written, without creating anything that stays behind.

    ``write_plan`` creates missing parent directories and then a temporary file beside FILE, renamed over
    it. So: FILE, if it exists, must be a regular file (renaming over a device or a FIFO would replace it);
    the nearest existing ancestor must be a directory; and a probe file must be creatable there (this
    catches permissions, read-only file systems and root's exceptions alike, which ``os.access`` does not).
    """
    shown = f"--out {str(out)!r}"
    try:
        info = out.lstat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UserError(f"{shown}: cannot use this path: {exc.strerror or type(exc).__name__}") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise UserError(f"{shown}: is a directory; expected the path of a file to save the plan in")
    if info is not None and not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        raise UserError(f"{shown}: exists and is not a regular file (a device or FIFO?); expected a file path")
    ancestor = out.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"{shown}: cannot create the directory for it: {ancestor} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=ancestor)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"{shown}: cannot write in {ancestor}: {reason}; expected a writable place") from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)


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
    from rdsssl_reconcile.cloud.target import check_target_file

    with document_on_error(output_format, command="validate"):
        moment = resolve_now(now)
        spec_set = load_specs(_spec_paths(paths), now=moment)
        # The same _target.yaml check plan makes, offline: validate must not accept what plan refuses.
        check_target_file(_spec_paths(paths), now=moment)
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
    help="Exit 0 only when every instance is in sync; 2 when changes are pending or an instance cannot be "
    "planned now; 1 when an instance does not exist, cannot be read or can never satisfy its spec.",
)
@max_bytes_option
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ID",
    help="Plan only this instance (repeatable): nothing else is read or shown. Not with --out.",
)
@click.option(
    "--allow-restart",
    "allow_restart",
    multiple=True,
    metavar="ID",
    help="Plan ID's restart to run now despite policy 'never' (repeatable); recorded in a saved plan.",
)
@selection_options
@parallelism_option
@timeout_option
@now_option
def plan(
    paths: tuple[Path, ...],
    endpoint: str | None,
    output_format: str,
    out: Path | None,
    detailed_exitcode: bool,
    max_bytes: int,
    targets: tuple[str, ...],
    regions: tuple[str, ...],
    selects: tuple[str, ...],
    allow_restart: tuple[str, ...],
    parallelism: int,
    timeout: float,
    now: str | None,
) -> int:
    """Show what would change on each instance, and which changes restart it (and for how long)."""
    from rdsssl_reconcile.cli.runner import build_plan, echo_plan
    from rdsssl_reconcile.planning.outcome import Verdict, assess, declared_ssl, plan_exit_code
    from rdsssl_reconcile.spec.selection import parse_selection

    spec_paths = _spec_paths(paths)
    with document_on_error(output_format, command="plan"):
        if targets and out is not None:
            raise UserError(
                "--target cannot be combined with --out: a saved plan covers every declared instance "
                "(apply a subset of it with 'apply PLANFILE --target ID')"
            )
        selection = parse_selection(regions, selects)
        if out is not None:
            check_writable_out(out)  # before any cloud call: a plan that cannot be saved is not worth reading
        result = build_plan(
            spec_paths,
            selection=selection,
            endpoint=endpoint,
            parallelism=parallelism,
            timeout=timeout,
            now=resolve_now(now),
            targets=targets,
            allow_restart=allow_restart,
            render_json=output_format == "json" or out is not None,
        )
    declared = declared_ssl(result.spec_set.instances)
    assessments = assess(result.plan, declared)
    errors = [a for a in assessments if a.verdict is Verdict.ERROR]
    # As terraform: a plan with errors is shown, never saved (apply could not carry it out as reviewed).
    saving = out if out is not None and not errors else None
    if output_format == "markdown":
        echo_markdown(result.plan, declared, max_bytes=max_bytes, out=saving)
    else:
        echo_plan(result.plan, output_format, instance_json=result.instance_json)
    if saving is not None:
        from rdsssl_reconcile.planfile import write_plan

        write_plan(
            saving,
            result.plan,
            result.spec_set.instances,
            selection=None if selection.empty else selection.to_json(),
            rendered=result.instance_json,
        )
        click.echo(
            f"Saved the plan to {visible(str(saving))}; apply it with: rdsssl-reconcile apply {visible(str(saving))}",
            err=True,
        )
    elif out is not None:
        click.echo(
            f"Error: the plan has errors, so it was not saved to {visible(str(out))} (a plan with errors cannot be "
            "applied); fix them and run 'plan --out' again.",
            err=True,
        )
    if errors:
        # The plan shows them among the others; a CI log must also say why the step fails.
        shown = [f"{a.instance.id}: {a.why}" for a in errors[:MAX_NAMED]]
        if len(errors) > MAX_NAMED:
            shown.append(f"and {len(errors) - MAX_NAMED} more")
        click.echo(
            listing(f"Error: {len(errors)} instance(s) cannot be planned or can never satisfy their spec:", shown),
            err=True,
        )
    return plan_exit_code(assessments, detailed=detailed_exitcode)


def echo_markdown(plan: Plan, declared: Mapping[str, bool], *, max_bytes: int, out: Path | None) -> None:
    """The PR comment within its budget; ``out``, the saved plan file the comment points to for the rest.

    ``plan --format markdown`` and ``show --format markdown`` both print through here.
    """
    from rdsssl_reconcile.render.markdown import render_markdown

    full_plan = None
    if out is not None:
        shown = str(out).replace("`", "")
        full_plan = f"the saved plan file `{visible(shown)}`: `rdsssl-reconcile show {visible(shown)}`."
    text = render_markdown(plan, declared=declared, max_bytes=max_bytes, full_plan=full_plan)
    click.echo(text, nl=False)
    size = len(text.encode())
    if size > max_bytes:
        click.echo(
            f"warning: --max-bytes {max_bytes}: the banners and the summary alone take {size} bytes; they are "
            "never left out, so the comment is over the budget",
            err=True,
        )


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of stdout.")
def schema(out: Path | None) -> None:
    """Print the JSON Schema of the spec format (v1), for editors and CI checks."""
    from rdsssl_reconcile.spec.schema import schema_json

    if out:
        out.write_text(schema_json(), encoding="utf-8")
    else:
        click.echo(schema_json(), nl=False)
