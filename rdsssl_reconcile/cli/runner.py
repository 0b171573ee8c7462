"""The plan pipeline shared by ``plan`` and ``apply``: specs -> target -> live state -> plan.

Specs are loaded and validated *before* the target is even resolved, so bad input never causes a
cloud call. The connection stays open for the caller (apply needs it after planning, and the embedded
emulator must keep running for as long as it does).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import click

from rdsssl_reconcile import __version__, collector
from rdsssl_reconcile.cloud.session import Connection, connect
from rdsssl_reconcile.cloud.target import resolve_target
from rdsssl_reconcile.errors import TransientCloudError, UserError
from rdsssl_reconcile.live.model import LiveInstance
from rdsssl_reconcile.live.reader import InstanceRef, read_fleet
from rdsssl_reconcile.planning.eligibility import can_carry_ssl
from rdsssl_reconcile.planning.model import InstancePlan, Plan, plan_to_json
from rdsssl_reconcile.planning.planner import make_plan, plan_instance
from rdsssl_reconcile.render.markdown import render_markdown
from rdsssl_reconcile.render.plan_json import BATCH_CHARACTERS, batched, instance_text, plan_json_chunks
from rdsssl_reconcile.render.text import render_text
from rdsssl_reconcile.spec.loader import SpecSet, load_specs
from rdsssl_reconcile.spec.selection import EVERY_INSTANCE, Selection, select
from rdsssl_reconcile.textsafe import visible


@dataclass(frozen=True, slots=True)
class PlanResult:
    spec_set: SpecSet
    plan: Plan
    connection: Connection
    #: Each instance's part of the JSON plan, rendered while the reads ran (when asked for: see echo_plan).
    instance_json: Mapping[str, str] = field(default_factory=dict)


#: What the SDK layer calls before it retries a failed call: (error, attempt from 0, delay in seconds).
OnRetry = Callable[[TransientCloudError, int, float], None]


def report_retry(error: TransientCloudError, attempt: int, delay: float) -> None:
    """A retry line on stderr, timestamped like apply's progress lines (a CI log shows when it waited)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    click.echo(
        f"{stamp} retrying {visible(error.action)} after {visible(error.code)} (attempt {attempt + 1}, in {delay:.1f}s)",
        err=True,
    )


@contextmanager
def session(
    spec_paths: list[Path], *, endpoint: str | None, timeout: float, now: datetime, on_retry: OnRetry = report_retry
) -> Iterator[tuple[SpecSet, Connection]]:
    """Load specs (failing before any cloud call on bad input), then open the target.

    ``on_retry`` is where retry lines go (apply sends them to its progress reporter, so that
    ``--progress json`` stays JSON on every line).
    """
    # The specs live as long as the command: frozen before the collector is back, neither its first pass
    # after the load nor the full collections of the SDK's import (some 100,000 objects) walk them again
    # (0.2-0.3 s and 0.3 s at 10,000 instances).
    with collector.paused(freeze=True):
        spec_set = load_specs(spec_paths, now=now)
    target = resolve_target(endpoint_option=endpoint, spec_paths=spec_paths)
    with connect(target, timeout_seconds=timeout, on_retry=on_retry) as connection:
        yield spec_set, connection


def check_declared(option: str, ids: Iterable[str], declared: Iterable[str]) -> None:
    """A typo in an instance id is a user mistake: refused before the first cloud call."""
    known = set(declared)
    unknown = sorted(set(ids) - known)
    if unknown:
        raise UserError(
            f"{option} {', '.join(map(visible, unknown))}: not declared in the specs "
            f"(declared: {', '.join(map(visible, sorted(known)))})"
        )


def targeted(spec_set: SpecSet, targets: Iterable[str]) -> SpecSet:
    """Only the instances ``--target`` names (all of them without it): nothing else is read, shown or done."""
    wanted = set(targets)
    if not wanted:
        return spec_set
    check_declared("--target", wanted, (i.id for i in spec_set.instances))
    return replace(spec_set, instances=tuple(i for i in spec_set.instances if i.id in wanted))


def selected(spec_set: SpecSet, selection: Selection) -> SpecSet:
    """Only the instances ``--region`` / ``--select`` choose: the others are not read, shown or done."""
    return replace(spec_set, instances=select(spec_set.instances, selection))


def plan_specs(
    spec_set: SpecSet,
    connection: Connection,
    *,
    spec_paths: list[Path],
    parallelism: int,
    now: datetime,
    allow_restart: Iterable[str] = (),
    instance_json: dict[str, str] | None = None,
) -> Plan:
    """Read the live state and plan it; ``instance_json``, when given, receives each instance's JSON text."""
    refs = [InstanceRef(instance_id=i.id, region=i.region) for i in spec_set.instances]
    # Everything alive now (the vendor SDK's thousands of classes, the specs) lives as long as the
    # command: frozen out of the collector, the full collections a fleet read triggers do not walk
    # it again and again (2.2-2.7 s of 12 full collections at 10,000 instances before).
    gc.freeze()
    allowed = frozenset(allow_restart)
    desired = {i.id: i for i in spec_set.instances}
    planned: dict[str, InstancePlan] = {}

    def plan_as_read(live: LiveInstance) -> None:
        # In the read worker, while other reads are in flight: the pure planner's CPU overlaps the
        # waiting instead of following the last answer (0.7 s at 10,000 instances).
        instance = plan_instance(desired[live.instance_id], live, now=now, allow_restart=allowed)
        planned[live.instance_id] = instance
        if instance_json is not None:
            instance_json[live.instance_id] = instance_text(instance)

    read = read_fleet(connection.client, refs, wants_ssl=can_carry_ssl, parallelism=parallelism, on_read=plan_as_read)
    for note in read.notes():
        click.echo(f"note: {visible(note)}", err=True)
    return make_plan(
        spec_set.instances,
        read.instances,
        now=now,
        target=connection.target.to_json(),
        spec_paths=tuple(str(p) for p in spec_paths),
        spec_warnings=tuple(str(w) for w in spec_set.warnings),
        allow_restart=allowed,
        planned=planned,
    )


def build_plan(
    spec_paths: list[Path],
    *,
    endpoint: str | None,
    parallelism: int,
    timeout: float,
    now: datetime,
    targets: Iterable[str] = (),
    selection: Selection = EVERY_INSTANCE,
    allow_restart: Iterable[str] = (),
    render_json: bool = False,
) -> PlanResult:
    """``render_json``: also render each instance's JSON text as it is planned (for ``--format json``)."""
    with session(spec_paths, endpoint=endpoint, timeout=timeout, now=now) as (spec_set, connection):
        check_declared("--allow-restart", allow_restart, (i.id for i in spec_set.instances))
        spec_set = targeted(selected(spec_set, selection), targets)
        instance_json: dict[str, str] | None = {} if render_json else None
        plan = plan_specs(
            spec_set,
            connection,
            spec_paths=spec_paths,
            parallelism=parallelism,
            now=now,
            allow_restart=allow_restart,
            instance_json=instance_json,
        )
        return PlanResult(spec_set=spec_set, plan=plan, connection=connection, instance_json=instance_json or {})


def render_plan(plan: Plan, output_format: str) -> str:
    if output_format == "json":
        return json.dumps(plan_to_json(plan, tool_version=__version__), indent=2) + "\n"
    if output_format == "markdown":
        return render_markdown(plan)
    return render_text(plan)


#: Characters of JSON written at once when a plan is streamed to stdout.
_JSON_BATCH = BATCH_CHARACTERS


def echo_plan(plan: Plan, output_format: str, *, instance_json: Mapping[str, str] | None = None) -> None:
    """The plan on stdout; JSON is written in pieces, exactly as :func:`render_plan` would render it.

    ``instance_json``: instances already rendered by :func:`~rdsssl_reconcile.render.plan_json.instance_text`
    (plan renders them while its reads are in flight). ``json.dumps(..., indent=2)`` of 10,000 instances
    (30 MB of text) would also build millions of small strings before joining them: 170 MB of peak memory
    for a document that only has to be written out.
    """
    if output_format != "json":
        click.echo(render_plan(plan, output_format), nl=False)
        return
    for text in batched(plan_json_chunks(plan, tool_version=__version__, rendered=instance_json), _JSON_BATCH):
        click.echo(text, nl=False)
