"""``apply``: plan (or load a saved plan), confirm, carry it out, report.

Confirmation: ``apply [PATHS]`` shows the plan and asks for ``yes`` at a terminal; ``--auto-approve``
skips the question (CI); with neither a terminal nor ``--auto-approve`` it refuses. ``apply PLANFILE``
does not ask again: as with ``terraform apply PLANFILE``, the reviewed plan is the approval, and it is
refused as a whole if anything it describes has moved since.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, chdir, nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from rdsssl_reconcile import __version__
from rdsssl_reconcile.apply.audit import AuditLog, default_audit_path
from rdsssl_reconcile.apply.executor import ApplySettings, Executor, Outcome, export_files
from rdsssl_reconcile.apply.locks import Holder, InstanceLocks, lock_directory
from rdsssl_reconcile.apply.poll_schedule import restart_scale
from rdsssl_reconcile.apply.progress import HEARTBEAT_SECONDS, JsonReporter, choose_mode, open_reporter
from rdsssl_reconcile.apply.progress import MODES as PROGRESS_MODES
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
from rdsssl_reconcile.cli.runner import check_declared, plan_specs, render_plan, selected, session, targeted
from rdsssl_reconcile.cli.select_options import selection_options
from rdsssl_reconcile.cli.verify_cmd import verify_connect_options, with_connect_settings
from rdsssl_reconcile.cloud.session import Connection
from rdsssl_reconcile.errors import CloudError, PlanFileError, UserError
from rdsssl_reconcile.live.reader import InstanceRef, read_live
from rdsssl_reconcile.planfile import (
    action_from_json,
    deferral_from_json,
    generated_at,
    locate_specs,
    read_plan,
    saved_plan_document,
)
from rdsssl_reconcile.planning.compare import (
    decision_differences,
    differences,
    explain,
    path_label,
    render_value,
    without_volatile,
)
from rdsssl_reconcile.planning.eligibility import can_carry_ssl
from rdsssl_reconcile.planning.model import InstancePlan, Plan, PlanStatus
from rdsssl_reconcile.planning.outcome import (
    Assessment,
    Verdict,
    apply_exit_code,
    assess_instance,
    declared_ssl,
)
from rdsssl_reconcile.planning.planner import make_plan
from rdsssl_reconcile.secretfiles import refuse_existing
from rdsssl_reconcile.spec.loader import SpecSet, load_specs
from rdsssl_reconcile.spec.model import IssuerCertificate
from rdsssl_reconcile.spec.selection import EVERY_INSTANCE, Selection, parse_selection, selection_from_json
from rdsssl_reconcile.textsafe import listing, visible
from rdsssl_reconcile.verify.run import ConnectSettings

SPEC_SUFFIXES = (".yaml", ".yml")


def _is_plan_file(paths: tuple[Path, ...]) -> bool:
    """One argument that is a file but not a spec, or a missing name with a suffix a spec never has.

    The second case makes ``apply reviewed.plan`` with a mistyped name say "no such plan file", not
    "no such file or directory" about a spec path nobody meant.
    """
    if len(paths) != 1:
        return False
    (path,) = paths
    if path.suffix.lower() in SPEC_SUFFIXES or path.is_dir():
        return False
    return path.is_file() or (not path.exists() and bool(path.suffix))


def _working_in(directory: Path | None) -> AbstractContextManager[Any]:
    """Run from the directory the saved plan's spec paths are relative to (see planfile.locate_specs)."""
    return nullcontext() if directory is None else chdir(directory)


def _replan_saved(
    saved: dict[str, Any],
    spec_set: SpecSet,
    connection: Connection,
    *,
    spec_paths: list[Path],
    parallelism: int,
    now: datetime,
    targets: set[str] | None,
    selection: Selection = EVERY_INSTANCE,
) -> tuple[Plan, tuple[str, ...]]:
    """The plan to carry out (as of now), once the saved plan is proven to be exactly what it says.

    Returns it with the instances found already applied: non-empty only when the whole plan (in the
    ``--target`` scope) has been applied and nothing else moved, which is then not a refusal but "nothing
    to do". A plan applied in part is refused, naming what was applied.

    One live read serves two plans: one *as of* the file's ``generated_at``, compared with the file
    field by field (so "expires in 364 days" written yesterday is still the truth of yesterday), and
    one as of now, which must decide the same (status, changes, request, restart) and is what runs.
    The request sent is always rebuilt; nothing is read from the file but the spec paths and the time.
    """
    then = generated_at(saved)
    refs = [InstanceRef(instance_id=i.id, region=i.region) for i in spec_set.instances]
    live = read_live(connection.client, refs, wants_ssl=can_carry_ssl, parallelism=parallelism)
    try:
        specs_then = selected(load_specs(spec_paths, now=then), selection)
    except UserError as exc:
        raise PlanFileError(
            f"the specs cannot be read as of the plan's time ({then:%Y-%m-%d %H:%M:%S} UTC), so the saved plan "
            f"cannot be checked; nothing was changed:\n{exc}"
        ) from None

    def plan_at(specs: SpecSet, when: datetime) -> Plan:
        return make_plan(
            specs.instances,
            live,
            now=when,
            target=connection.target.to_json(),
            spec_paths=tuple(str(p) for p in spec_paths),
            spec_warnings=tuple(str(w) for w in specs.warnings),
            allow_restart=saved["allow_restart"],  # the reviewed plan's own overrides
        )

    current = plan_at(spec_set, now)

    # generated_at is written to the second; the plan was made at some instant of that second, and an
    # "expires in N days" may turn over within it. Either end of the second is a plan that was possible.
    def rebuilt_at(instant: datetime) -> dict[str, Any]:
        return saved_plan_document(plan_at(specs_then, instant), specs_then.instances)

    # Made only when needed: the second end is built only when the first is not exact (at 10,000 instances a
    # document is some 100 MB of objects, and a plan several seconds of CPU).
    rebuilt = [functools.partial(rebuilt_at, instant) for instant in (then, then + timedelta(microseconds=999_999))]
    problems = _refusal(saved, rebuilt, current, targets)
    if not problems:
        return _reviewed_decisions(current, saved), ()
    applied = _already_applied(saved, current, targets)
    if applied:
        # Are the applied instances all that moved? Compare the rest alone (the summary counts them all).
        in_scope = {i["id"] for i in saved["instances"] if targets is None or i["id"] in targets}
        rest = _refusal(saved, rebuilt, current, in_scope - set(applied))
        if not rest and len(applied) == _changing(saved, targets):
            return current, applied
        problems = [
            *(
                f"{i}: this part of the plan has already been applied ({i} is now in sync); nothing to do for it"
                for i in applied
            ),
            *rest,
        ]
    raise PlanFileError(
        listing("the saved plan is stale; nothing was changed. Re-run 'plan' and review it again:", problems)
    )


def _reviewed_decisions(current: Plan, saved: dict[str, Any]) -> Plan:
    """The plan as of now, carrying the file's now-or-deferred decisions: what the reviewer read is what runs.

    The policy is not compared as of now (a window that closed since the review is not a stale plan):
    apply decides again right before each request, and a restart the file runs now but the policy defers
    then is reported ``deferred`` in plain words; a restart the file defers is never run by this apply.
    """
    reviewed = {item["id"]: item for item in saved["instances"]}

    def carried(item: InstancePlan) -> InstancePlan:
        then = reviewed.get(item.id)
        if then is None:
            return item
        return replace(item, action=action_from_json(then["action"]), deferral=deferral_from_json(then["deferral"]))

    return replace(current, instances=tuple(carried(i) for i in current.instances))


def listed(ids: tuple[str, ...]) -> str:
    return ", ".join(visible(i) for i in ids)


def _changing(saved: dict[str, Any], targets: set[str] | None) -> int:
    return sum(1 for i in saved["instances"] if i["status"] == "change" and (targets is None or i["id"] in targets))


def _already_applied(saved: dict[str, Any], current: Plan, targets: set[str] | None) -> tuple[str, ...]:
    """Instances the file would change that are now in sync with the same spec: the plan's end state.

    "In sync" under an unchanged desired state (its digest is the file's) is exactly what the planned
    request would have produced, whoever sent it (an earlier apply of this file, a colleague, the console).
    """
    now = {item.id: item for item in current.instances}
    applied = []
    for item in saved["instances"]:
        if item["status"] != "change" or (targets is not None and item["id"] not in targets):
            continue
        fresh = now.get(item["id"])
        if fresh is not None and fresh.status is PlanStatus.IN_SYNC and fresh.desired_digest == item["desired_digest"]:
            applied.append(item["id"])
    return tuple(applied)


#: Differences listed in a refusal; the rest are counted.
MAX_LISTED = 12


def _refusal(
    saved: dict[str, Any],
    rebuilt: Sequence[Callable[[], dict[str, Any]]],
    current: Plan,
    targets: set[str] | None,
) -> list[str]:
    """Every way the saved plan differs from what apply would do, in plain words (empty: it holds).

    ``rebuilt`` make the saved-plan documents of the specs and live state as of the file's time (each end
    of its second); one must equal the file apart from the documented volatile fields. They are made in
    order, and the first that equals the file ends the search (it is the one the fewest differences pick).
    ``current`` is the plan as of now; its decisions must equal that one's. With ``--target``, only
    those instances (and the fields outside instances, but not the summary, which counts the others
    too) are compared.
    """
    problems: list[str] = []
    made_by = saved.get("tool_version")
    if made_by != __version__:
        problems.append(f"the plan was made by rdsssl-reconcile {render_value(made_by)}, this is {__version__}")
    # tool_version is said above; origin says where the specs were read from, not what is done.
    in_file = {k: v for k, v in without_volatile(saved).items() if k not in ("tool_version", "origin")}
    if targets is not None:
        in_file = _only(in_file, targets)
    candidates = []
    for build in rebuilt:
        document = build()
        in_plan = {k: v for k, v in without_volatile(document).items() if k not in ("tool_version", "origin")}
        if targets is not None:
            in_plan = _only(in_plan, targets)
        candidates.append((explain(list(differences(in_file, in_plan)), in_file, in_plan), document))
        if not candidates[-1][0]:
            break  # exact: min() below would pick this one (the first of equals) anyway
    moved, matching = min(candidates, key=lambda c: len(c[0]))  # the likelier instant: fewer differences
    problems.extend(moved)
    if not problems:
        then = {item["id"]: item for item in matching["instances"]}
        for item in current.instances:
            if (targets is None or item.id in targets) and item.id in then:
                for change in list(decision_differences(then[item.id], item.to_json()))[:3]:
                    problems.append(
                        f"{item.id}: the plan is as of {saved['generated_at']}; at this time "
                        f"{path_label(change.path, then[item.id])} would be {render_value(change.in_plan)} "
                        f"instead of {render_value(change.in_file)}"
                    )
    if len(problems) > MAX_LISTED:
        problems[MAX_LISTED:] = [f"and {len(problems) - MAX_LISTED} more differences"]
    return problems


def _only(document: dict[str, Any], targets: set[str]) -> dict[str, Any]:
    kept = dict(document)
    kept.pop("summary", None)
    kept["instances"] = [i for i in document["instances"] if i.get("id") in targets]
    kept["desired"] = {k: v for k, v in document["desired"].items() if k in targets}
    return kept


def _errors_as_json(command: Callable[..., int]) -> Callable[..., int]:
    """With ``--progress json``, an error that ends the command is a JSON line too (stderr stays JSON).

    Without it, errors reach :func:`rdsssl_reconcile.cli.run` and are printed as text, as for every command.
    """

    @functools.wraps(command)
    def run_command(**options: Any) -> int:
        if options["progress"] != "json":
            return command(**options)
        lines = JsonReporter(clock=clock_from(options["now"]), heartbeat=False)
        try:
            return command(**options)
        except (UserError, CloudError) as exc:
            lines.error(exc)
            return EXIT_ERROR
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            lines.error(UserError(f"{where}{exc.strerror or type(exc).__name__}"))
            return EXIT_ERROR
        except (KeyboardInterrupt, click.Abort):
            lines.message("Interrupted.")
            return EXIT_INTERRUPTED

    return run_command


def _what_happens(plan: Plan) -> str:
    """The prompt's promise: the restarts that really run now, and the deferred ones said as deferred."""
    restarting = [i.id for i in plan.instances if i.restarts_now]
    deferred = [i for i in plan.instances if i.deferred]
    text = ""
    if restarting:
        text += (
            f" {len(restarting)} instance(s) will restart ({plan.summary.restart_estimate()}): "
            f"{', '.join(map(visible, restarting))}."
        )
    if deferred:
        text += f" {len(deferred)} instance(s) deferred by policy, not changed by this apply: " + "; ".join(
            f"{visible(i.id)} ({visible(i.deferral.sentence(i.id) if i.deferral else 'deferred')})" for i in deferred
        )
        text += "."
    return text


def _confirm(plan: Plan, auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise UserError(
            "apply needs confirmation: run it at a terminal and type 'yes', or pass --auto-approve (for CI). "
            "Nothing was changed."
        )
    click.echo(f"\nDo you want to perform these actions?{_what_happens(plan)}")
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
    help="Instances restarting at the same time, whatever --parallelism is (apply works on "
    "max(parallelism, max-restarts) instances at once; their API calls share --parallelism).",
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
    default=None,
    metavar="SECONDS",
    help="Densest status poll interval, near a restart's expected end (default: 1/100 of the "
    "restart's estimate, 0.25-2 s); polls are sparse before it. Other waits start at it (default 2 s), "
    "growing 1.5x to 15 s.",
)
@click.option(
    "--expected-restart",
    type=FiniteFloatRange(0.1, 24 * 3600),
    default=None,
    metavar="SECONDS",
    help="How long a certificate restart takes on this target, if known (default: the documents' ~3 min, "
    "an embedded emulator's own restart time; ACL changes a third of it). Paces the status polls only.",
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
@click.option(
    "--lock-timeout",
    type=click.FloatRange(0, 24 * 3600),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="Wait up to this long for another apply on this machine to release an instance, then plan afresh "
    "(0: refuse at once).",
)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--progress",
    type=click.Choice(PROGRESS_MODES),
    default="auto",
    show_default=True,
    help="Progress on stderr: live table, timestamped lines with a heartbeat, or JSON lines "
    "(auto: live on a terminal, plain otherwise).",
)
@click.option(
    "--heartbeat-interval",
    type=FiniteFloatRange(0.1, 3600),
    default=HEARTBEAT_SECONDS,
    hidden=True,
    metavar="SECONDS",
    help="Seconds between heartbeat lines of an instance in progress (plain and json progress).",
)
@selection_options
@click.option(
    "--verify",
    "verify",
    is_flag=True,
    help="After the proof, connect to each applied instance's endpoints as 'verify' does; a mismatch or a failed "
    "connection fails the proof (not_converged, exit 3). See --resolve, --ca-bundle, --verify-timeout.",
)
@verify_connect_options(prefix="verify-")
@timeout_option
@now_option
@_errors_as_json
@with_connect_settings
def apply(
    paths: tuple[Path, ...],
    endpoint: str | None,
    auto_approve: bool,
    targets: tuple[str, ...],
    regions: tuple[str, ...],
    selects: tuple[str, ...],
    allow_restart: tuple[str, ...],
    parallelism: int,
    max_restarts: int,
    instance_timeout: float,
    poll_interval: float | None,
    expected_restart: float | None,
    audit_log: Path | None,
    export_dir: Path | None,
    force_export: bool,
    lock_timeout: float,
    output_format: str,
    progress: str,
    heartbeat_interval: float,
    timeout: float,
    now: str | None,
    verify_settings: ConnectSettings | None,
) -> int:
    """Carry out the plan: one request per instance, restarts only where policy allows, proof at the end.

    PATHS are spec files or directories (default ./specs); a single PLANFILE from 'plan --out' applies
    that saved plan instead (review it with 'show PLANFILE'; its specs are read in the directory it was
    made in, from wherever apply runs). Exit 0: every selected instance ends in sync; 1: error or refusal
    (nothing changed), or a selected instance does not exist, cannot be read or can never satisfy its spec;
    3: some instances deferred, failed, not converged, unknown or not plannable now; 130: interrupted.

    Each selected instance is locked on this machine for the whole run (see --lock-timeout).
    """
    from rdsssl_reconcile.apply.report import REPORT_FORMAT_VERSION, ApplyReport

    clock = clock_from(now)
    saved: dict[str, Any] | None = None
    workdir: Path | None = None
    reading_from: str | None = None
    selection = parse_selection(regions, selects)
    if _is_plan_file(paths):
        saved = read_plan(paths[0])
        if allow_restart:
            raise UserError(
                f"--allow-restart cannot be used with a saved plan: {visible(str(paths[0]))} records the restarts "
                f"it allows ({listed(tuple(saved['allow_restart'])) or 'none'}), as reviewed. Make the plan again "
                "with 'plan --allow-restart ID --out FILE'. Nothing was changed."
            )
        if not selection.empty:
            raise UserError(
                f"{selection.describe()}: a saved plan applies the selection it was made with; "
                "apply a subset of it with --target ID"
            )
        selection = selection_from_json((saved.get("origin") or {}).get("selection"))
        spec_paths = [Path(p) for p in saved.get("spec_paths") or ["specs"]]
        location = locate_specs(saved, paths[0], Path.cwd(), visible(str(paths[0])))
        if location.directory.resolve() != Path.cwd().resolve():
            workdir = location.directory
            # The user's own relative paths stay relative to where the user is.
            audit_log = (audit_log or default_audit_path()).absolute()
            export_dir = export_dir.absolute() if export_dir is not None else None
            reading_from = f"Reading the specs from {visible(str(workdir))} ({location.how})."
    else:
        spec_paths = list(paths) if paths else [Path("specs")]
    target_filter = set(targets) if targets else None
    # A real, fsync'ed run_started record before any cloud call: an unwritable log changes nothing.
    run = {"command": "apply", "paths": [str(p) for p in paths], "plan_file": saved is not None}
    run |= {"targets": list(targets), "auto_approve": auto_approve, "max_restarts": max_restarts}
    audit = AuditLog.open(audit_log or default_audit_path(), run=run, time=clock.now())
    # From the first cloud call on, every stderr line goes through the reporter (retries and lock waits
    # included), so --progress json is JSON on every line; the live table itself starts after the prompt.
    reporter = open_reporter(
        choose_mode(progress, terminal=sys.stderr.isatty()),
        clock=clock,
        interval=heartbeat_interval,
        color=click.get_current_context().color,
    )
    if reading_from is not None:
        reporter.message(reading_from)  # through the reporter: a JSON line under --progress json

    def on_wait(instance_id: str, holder: Holder, path: Path) -> None:
        reporter.message(_wait_text(holder, path), instance_id=instance_id)

    with (
        _working_in(workdir),
        session(spec_paths, endpoint=endpoint, timeout=timeout, now=clock.now(), on_retry=reporter.retry) as (
            spec_set,
            connection,
        ),
        ExitStack() as held,
    ):
        if saved is not None:
            _check_same_target(saved, connection.target.to_json())
        spec_set = selected(spec_set, selection)
        by_id = spec_set.by_id()
        # A typo in an instance id is a user mistake: refused before the first cloud call.
        check_declared("--target", targets, by_id)
        check_declared("--allow-restart", allow_restart, by_id)
        # Before planning: a run that waited for another one plans from what that one left.
        held.enter_context(
            InstanceLocks(
                lock_directory(connection.target.to_json()),
                [i for i in by_id if target_filter is None or i in target_filter],
                timeout=lock_timeout,
                on_wait=on_wait,
                started=clock.now(),
            )
        )
        if saved is None:
            # --target filters everything shown and done: the other instances are not even read.
            plan = plan_specs(
                targeted(spec_set, targets),
                connection,
                spec_paths=spec_paths,
                parallelism=parallelism,
                now=clock.now(),
                allow_restart=allow_restart,
            )
        else:
            plan, applied = _replan_saved(
                saved,
                spec_set,
                connection,
                spec_paths=spec_paths,
                parallelism=parallelism,
                now=clock.now(),
                targets=target_filter,
                selection=selection,
            )
            if applied:
                now_in_sync = f"{listed(applied)} {'is' if len(applied) == 1 else 'are'} now in sync"
                click.echo(
                    f"This plan has already been applied ({now_in_sync}); nothing to do.", err=output_format == "json"
                )
                if output_format == "json":
                    click.echo(
                        json.dumps({"format_version": REPORT_FORMAT_VERSION, "target": plan.target, "instances": []})
                    )
                return EXIT_OK
        items = [(item, by_id[item.id]) for item in plan.instances if target_filter is None or item.id in target_filter]
        # The exit-code rule of plan (planning/outcome.py), for the selected instances.
        declared = declared_ssl(by_id.values())
        verdicts = [assess_instance(item, declares_ssl=declared[item.id]) for item, _ in items]
        if saved is None:
            if output_format == "text":
                click.echo(render_plan(plan, "text"), nl=False)
            if not any(item.status is PlanStatus.CHANGE for item, _ in items):
                code = apply_exit_code(verdicts, done=())
                left = _cannot_apply(verdicts, "No changes to apply, but ")
                if output_format == "json" or left:
                    for line in (left or "No changes. Nothing to apply.").splitlines():
                        reporter.message(line)
                else:
                    click.echo("No changes. Nothing to apply.")
                if output_format == "json":
                    click.echo(
                        json.dumps({"format_version": REPORT_FORMAT_VERSION, "target": plan.target, "instances": []})
                    )
                return code
            if any(item.status is PlanStatus.CHANGE and not item.deferred for item, _ in items):
                _confirm(plan, auto_approve)
            else:
                # Every change is deferred: nothing will happen, so there is nothing to approve.
                reporter.message(f"No change runs now:{_what_happens(plan)}")

        if export_dir is not None:
            # Refuse before anything runs, not halfway through a fleet.
            issuing = [
                d.id
                for item, d in items
                if item.status is PlanStatus.CHANGE and isinstance(d.ssl.certificate, IssuerCertificate)
            ]
            refuse_existing(
                [p for iid in issuing for p in export_files(export_dir, iid)],
                force=force_export,
                option="--force-export",
            )
        settings = ApplySettings(
            parallelism=parallelism,
            max_restarts=max_restarts,
            # A saved plan carries the overrides it was reviewed with (--allow-restart is refused with it).
            allow_restart=frozenset(allow_restart if saved is None else saved["allow_restart"]),
            instance_timeout=instance_timeout,
            backoff=Backoff(initial=poll_interval or 2.0, factor=1.5, maximum=max(poll_interval or 2.0, 15.0)),
            dense_poll=poll_interval,
            restart_scale=restart_scale(connection.target, expected_restart),
            export_dir=export_dir,
            force_export=force_export,
        )
        executor = Executor(
            connection.client,
            clock=clock,
            settings=settings,
            audit=audit,
            reporter=reporter,
            target=connection.target.to_json(),
        )
        try:
            reporter.start([i.id for i, _ in items])
            results, interrupted = executor.run(items)
        finally:
            reporter.close()
        verified: dict[str, Any] = {}
        if verify_settings is not None and not interrupted:
            from rdsssl_reconcile.verify.apply_hook import verify_applied

            results, verified = verify_applied(
                results, by_id, connection.client, verify_settings, target=plan.target, now=clock.now, reporter=reporter
            )
        report = ApplyReport(results=tuple(results), target=connection.target.to_json(), interrupted=interrupted)
        done = {r.id for r in results if r.outcome in (Outcome.APPLIED, Outcome.ALREADY_IN_SYNC)}
        code = apply_exit_code(verdicts, done=done)
        if output_format == "json":
            from rdsssl_reconcile.verify.apply_hook import with_verify

            click.echo(json.dumps(with_verify(report.to_json() | {"exit_code": code}, verified), indent=2))
        else:
            click.echo(report.render_text(), nl=False)
        left = _cannot_apply(verdicts, "")
        for line in (left or "").splitlines():
            reporter.message(line)
        failures = audit.failures
        if failures:
            reporter.message(
                f"Error: the audit log {audit.path} could not be written {len(failures)} time(s) "
                f"(first: {failures[0]}); the results above are complete."
            )
        if interrupted:
            return EXIT_INTERRUPTED
        return EXIT_ERROR if failures and code == EXIT_OK else code


def _cannot_apply(verdicts: list[Assessment], lead: str) -> str | None:
    """The instances apply cannot act on (README "Exit codes": 1 for errors, 3 for not now), or None."""
    left = [a for a in verdicts if a.verdict in (Verdict.ERROR, Verdict.NOT_NOW)]
    if not left:
        return None
    return listing(f"{lead}{len(left)} instance(s) cannot be applied:", [f"{a.instance.id}: {a.why}" for a in left])


def _wait_text(holder: Holder, path: Path) -> str:
    return f"waiting for another apply on this machine to finish ({holder.describe()}; lock file {path})"


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
