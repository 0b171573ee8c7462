"""``apply``: plan (or load a saved plan), confirm, carry it out, report.

Confirmation: ``apply [PATHS]`` shows the plan and asks for ``yes`` at a terminal; ``--auto-approve``
skips the question (CI); with neither a terminal nor ``--auto-approve`` it refuses. ``apply PLANFILE``
does not ask again: as with ``terraform apply PLANFILE``, the reviewed plan is the approval, and it is
refused as a whole if anything it describes has moved since.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from rdsssl_reconcile import __version__
from rdsssl_reconcile.apply.audit import AuditLog, default_audit_path
from rdsssl_reconcile.apply.executor import ApplySettings, Executor, describe_drift, export_files
from rdsssl_reconcile.apply.waiting import Backoff
from rdsssl_reconcile.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from rdsssl_reconcile.cli.options import (
    FiniteFloatRange,
    clock_from,
    endpoint_option,
    now_option,
    parallelism_option,
    paths_argument,
    timeout_option,
)
from rdsssl_reconcile.cli.runner import plan_specs, render_plan, session
from rdsssl_reconcile.errors import PlanFileError, UserError
from rdsssl_reconcile.planfile import read_plan
from rdsssl_reconcile.planning.model import Plan, PlanStatus
from rdsssl_reconcile.secretfiles import refuse_existing
from rdsssl_reconcile.spec.model import IssuerCertificate, desired_to_json

#: Plan statuses that mean an instance could not be planned at all: an error for apply, as for plan.
UNPLANNABLE = (PlanStatus.ERROR, PlanStatus.NOT_FOUND)


def _check_declared(option: str, ids: tuple[str, ...], by_id: dict[str, Any]) -> None:
    unknown = sorted(set(ids) - set(by_id))
    if unknown:
        raise UserError(
            f"{option} {', '.join(unknown)}: not declared in the specs (declared: {', '.join(sorted(by_id))})"
        )


def _is_plan_file(paths: tuple[Path, ...]) -> bool:
    return len(paths) == 1 and paths[0].is_file() and paths[0].suffix not in (".yaml", ".yml")


def _refusal(saved: dict[str, Any], current: Plan, desired: dict[str, Any], targets: set[str] | None) -> list[str]:
    """Every way the world moved since the saved plan, per instance (empty: the plan still holds)."""
    problems: list[str] = []
    made_by = saved.get("tool_version")
    if made_by != __version__:
        problems.append(f"the plan was made by rdsssl-reconcile {made_by}, this is {__version__}")
    fresh = {item.id: item.to_json() for item in current.instances}
    for planned in saved.get("instances", []):
        instance_id = planned["id"]
        if targets is not None and instance_id not in targets:
            continue
        now = fresh.get(instance_id)
        if now is None:
            problems.append(f"{instance_id}: no longer declared in the specs")
            continue
        moved = describe_drift(
            planned, now, desired_then=saved.get("desired", {}).get(instance_id), desired_now=desired.get(instance_id)
        )
        problems.extend(f"{instance_id}: {m}" for m in moved)
    for instance_id in fresh:
        if instance_id not in {p["id"] for p in saved.get("instances", [])} and (
            targets is None or instance_id in targets
        ):
            problems.append(f"{instance_id}: declared in the specs but not in the saved plan")
    return problems


def _confirm(plan: Plan, auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise UserError(
            "apply needs confirmation: run it at a terminal and type 'yes', or pass --auto-approve (for CI). "
            "Nothing was changed."
        )
    restarting = [i.id for i in plan.instances if i.status is PlanStatus.CHANGE and i.restart.restart.counts_as_restart]
    warning = (
        f" {len(restarting)} instance(s) will restart for about 3 minutes: {', '.join(restarting)}."
        if restarting
        else ""
    )
    click.echo(f"\nDo you want to perform these actions?{warning}")
    answer = click.prompt("  Only 'yes' will be accepted", default="", show_default=False, err=False)
    if answer.strip() != "yes":
        raise UserError("Apply cancelled. Nothing was changed.")


@click.command()
@paths_argument
@endpoint_option
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (CI).")
@click.option("--target", "targets", multiple=True, metavar="ID", help="Apply only this instance (repeatable).")
@click.option(
    "--allow-restart", "allow_restart", multiple=True, metavar="ID", help="Allow restarting ID despite policy 'never'."
)
@parallelism_option
@click.option(
    "--max-restarts",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Instances restarting at the same time.",
)
@click.option(
    "--instance-timeout",
    type=FiniteFloatRange(1, 24 * 3600),
    default=1200,
    show_default=True,
    metavar="SECONDS",
    help="Give up waiting for one instance's change after this long.",
)
@click.option(
    "--poll-interval",
    type=FiniteFloatRange(0.01, 60),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="First status poll delay while waiting (grows 1.5x per poll, up to 15 s).",
)
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Append one JSON line per mutating call here (default {default_audit_path()}).",
)
@click.option(
    "--export-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="source issuer: also write each issued certificate and key (0600) to DIR/ID/.",
)
@click.option("--force-export", is_flag=True, help="Overwrite existing files in --export-dir.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@timeout_option
@now_option
def apply(
    paths: tuple[Path, ...],
    endpoint: str | None,
    auto_approve: bool,
    targets: tuple[str, ...],
    allow_restart: tuple[str, ...],
    parallelism: int,
    max_restarts: int,
    instance_timeout: float,
    poll_interval: float,
    audit_log: Path | None,
    export_dir: Path | None,
    force_export: bool,
    output_format: str,
    timeout: float,
    now: str | None,
) -> int:
    """Carry out the plan: one request per instance, restarts only where policy allows, proof at the end.

    PATHS are spec files or directories (default ./specs); a single PLANFILE from 'plan --out' applies
    that saved plan instead. Exit 0: all applied or nothing to do; 1: error or refusal (nothing changed);
    3: some instances deferred, failed or not converged; 130: interrupted.
    """
    from rdsssl_reconcile.apply.progress import LiveReporter, PlainReporter
    from rdsssl_reconcile.apply.report import ApplyReport

    clock = clock_from(now)
    saved: dict[str, Any] | None = None
    if _is_plan_file(paths):
        saved = read_plan(paths[0])
        spec_paths = [Path(p) for p in saved.get("spec_paths") or ["specs"]]
    else:
        spec_paths = list(paths) if paths else [Path("specs")]
    target_filter = set(targets) if targets else None
    audit = AuditLog(audit_log or default_audit_path())  # proven writable before any cloud call

    with session(spec_paths, endpoint=endpoint, timeout=timeout, now=clock.now()) as (spec_set, connection):
        if saved is not None:
            _check_same_target(saved, connection.target.to_json())
        by_id = spec_set.by_id()
        # A typo in an instance id is a user mistake: refused before the first cloud call.
        _check_declared("--target", targets, by_id)
        _check_declared("--allow-restart", allow_restart, by_id)
        plan = plan_specs(spec_set, connection, spec_paths=spec_paths, parallelism=parallelism, now=clock.now())
        if saved is not None:
            problems = _refusal(saved, plan, {i: desired_to_json(d) for i, d in by_id.items()}, target_filter)
            if problems:
                raise PlanFileError(
                    "the saved plan is stale; nothing was changed. Re-run 'plan' and review it again:\n"
                    + "\n".join(f"  - {p}" for p in problems)
                )
        items = [(item, by_id[item.id]) for item in plan.instances if target_filter is None or item.id in target_filter]
        if saved is None:
            if output_format == "text":
                click.echo(render_plan(plan, "text"), nl=False)
            if not any(item.status is PlanStatus.CHANGE for item, _ in items):
                unplanned = [item.id for item, _ in items if item.status in UNPLANNABLE]
                message = "No changes. Nothing to apply."
                if unplanned:
                    message = f"No changes to apply, but {len(unplanned)} instance(s) could not be planned: {', '.join(unplanned)}."
                click.echo(message, err=output_format == "json" or bool(unplanned))
                if output_format == "json":
                    click.echo(json.dumps({"format_version": "1.0", "target": plan.target, "instances": []}))
                return EXIT_ERROR if unplanned else EXIT_OK
            _confirm(plan, auto_approve)

        if export_dir is not None:
            # Refuse before anything runs, not halfway through a fleet.
            issuing = [
                d.id
                for item, d in items
                if item.status is PlanStatus.CHANGE and isinstance(d.ssl.certificate, IssuerCertificate)
            ]
            refuse_existing([p for iid in issuing for p in export_files(export_dir, iid)], force=force_export)
        settings = ApplySettings(
            parallelism=parallelism,
            max_restarts=max_restarts,
            allow_restart=frozenset(allow_restart),
            instance_timeout=instance_timeout,
            backoff=Backoff(initial=poll_interval, factor=1.5, maximum=max(poll_interval, 15.0)),
            export_dir=export_dir,
            force_export=force_export,
        )
        reporter: Any = LiveReporter([i.id for i, _ in items]) if sys.stderr.isatty() else PlainReporter()
        executor = Executor(
            connection.client,
            clock=clock,
            settings=settings,
            audit=audit,
            reporter=reporter,
            target=connection.target.to_json(),
        )
        try:
            results, interrupted = executor.run(items)
        finally:
            reporter.close()
        report = ApplyReport(results=tuple(results), target=connection.target.to_json(), interrupted=interrupted)
        if output_format == "json":
            click.echo(json.dumps(report.to_json(), indent=2))
        else:
            click.echo(report.render_text(), nl=False)
        if audit.failures:
            click.echo(
                f"Error: the audit log {audit.path} could not be written {len(audit.failures)} time(s) "
                f"(first: {audit.failures[0]}); the results above are complete.",
                err=True,
            )
        if interrupted:
            return EXIT_INTERRUPTED
        return EXIT_ERROR if audit.failures and report.exit_code == EXIT_OK else report.exit_code


def _check_same_target(saved: dict[str, Any], current: dict[str, Any]) -> None:
    then = saved.get("target") or {}
    same = then.get("kind") == current.get("kind") and (
        then.get("source") == current.get("source")
        if current.get("kind") == "embedded-emulator"
        else then.get("endpoint") == current.get("endpoint")
    )
    if not same:
        raise PlanFileError(
            f"the plan was made against {then.get('description')}, this run targets {current.get('description')}; "
            "nothing was changed"
        )
