"""The last applied state of each instance: the evidence that tells drift apart from a spec not yet applied.

Two sources, both read-only:

- **The audit log** of ``apply``. Its ``result`` record of an instance that ended ``applied`` (proved by a
  re-read) or ``already_in_sync`` carries ``desired_digest`` (the spec that was applied) and ``live`` (the
  live state read then, public identity only: the same JSON as a plan's ``live``). The last such record
  wins. Records written before these fields existed are no evidence, and said so.
- **A saved plan** (``--baseline-plan FILE``, the artifact a merge job applied): its ``desired_digest`` per
  instance, and for instances it found in sync its ``live`` (which apply did not change). For an instance
  it planned to change, the state after apply is not in the file: only the spec digest is known.

Pure: :func:`from_audit_records` and :func:`from_saved_plan` take what was read; :func:`load_audit_baseline`
and :func:`load_plan_baseline` are the thin readers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rdsssl_reconcile.apply.audit import read_audit_log
from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.textsafe import visible

#: Result outcomes after which the live state is the applied spec (proved by a re-read).
APPLIED_OUTCOMES = frozenset({"applied", "already_in_sync"})


@dataclass(frozen=True, slots=True)
class AppliedState:
    """What an instance looked like when the tool last brought it in line with a spec."""

    instance_id: str
    #: ``audit log, apply of 2026-11-30T10:00:00Z`` or ``saved plan plan.json of 2026-11-30T10:00:00Z``.
    source: str
    time: datetime
    desired_digest: str
    #: ``live_to_json`` of the instance then; None when the source does not know it.
    live: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Baseline:
    states: Mapping[str, AppliedState]
    #: Where the evidence was looked for, for the report (``audit log /x/audit.jsonl: 3 instances``).
    description: str
    notes: tuple[str, ...] = ()

    def of(self, instance_id: str) -> AppliedState | None:
        return self.states.get(instance_id)


NO_BASELINE = Baseline(states={}, description="none")


def _time(text: Any) -> datetime | None:
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def from_audit_records(records: Iterable[Mapping[str, Any]], *, where: str) -> Baseline:
    states: dict[str, AppliedState] = {}
    without_digest: set[str] = set()
    for record in records:
        if record.get("kind") != "result" or record.get("outcome") not in APPLIED_OUTCOMES:
            continue
        instance = record.get("instance")
        when = _time(record.get("time"))
        if not isinstance(instance, str) or when is None:
            continue
        digest = record.get("desired_digest")
        if not isinstance(digest, str):
            without_digest.add(instance)
            continue
        without_digest.discard(instance)
        live = record.get("live")
        states[instance] = AppliedState(
            instance_id=instance,
            source=f"audit log, {record.get('outcome')} at {when:%Y-%m-%dT%H:%M:%SZ}",
            time=when,
            desired_digest=digest,
            live=live if isinstance(live, Mapping) else None,
        )
    notes = tuple(
        f"the audit log's last apply record of {visible(i)} predates the applied-state fields: no evidence"
        for i in sorted(without_digest - set(states))
    )
    return Baseline(states=states, description=f"audit log {where}: {len(states)} applied", notes=notes)


def load_audit_baseline(path: Path, *, explicit: bool) -> Baseline:
    """The audit log at ``path``; a missing default log is no evidence, a missing ``--audit-log`` an error."""
    shown = visible(str(path))
    if not path.exists():
        if explicit:
            raise UserError(f"--audit-log {shown}: no such file; expected the audit log that apply wrote")
        return Baseline(states={}, description=f"no audit log at {shown}")
    try:
        read = read_audit_log(path)
    except OSError as exc:
        raise UserError(f"--audit-log {shown}: cannot read it: {exc.strerror or type(exc).__name__}") from None
    baseline = from_audit_records(read.records, where=shown)
    if read.torn:
        lines = ", ".join(str(t.line) for t in read.torn[:5])
        note = f"the audit log {shown} has torn lines (skipped: {lines})"
        return Baseline(states=baseline.states, description=baseline.description, notes=(*baseline.notes, note))
    return baseline


def from_saved_plan(document: Mapping[str, Any], *, where: str) -> Baseline:
    when = _time(document.get("generated_at")) or datetime.fromtimestamp(0, UTC)
    states: dict[str, AppliedState] = {}
    for item in document.get("instances", ()):
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            continue
        digest = item.get("desired_digest")
        if not isinstance(digest, str):
            continue
        live = item.get("live") if item.get("status") == "in_sync" else None
        states[item["id"]] = AppliedState(
            instance_id=item["id"],
            source=f"saved plan {where} of {when:%Y-%m-%dT%H:%M:%SZ}",
            time=when,
            desired_digest=digest,
            live=live if isinstance(live, Mapping) else None,
        )
    return Baseline(states=states, description=f"saved plan {where}: {len(states)} instances")


def load_plan_baseline(path: Path) -> Baseline:
    """A saved plan, read and checked as ``show`` and ``apply`` read one (located errors)."""
    from rdsssl_reconcile.planfile import read_plan

    return from_saved_plan(read_plan(path), where=visible(str(path)))


def merged(first: Baseline, second: Baseline) -> Baseline:
    """Per instance, the later of the two states (a saved plan and an audit log may both be given)."""
    states = dict(first.states)
    for instance_id, state in second.states.items():
        if instance_id not in states or state.time >= states[instance_id].time:
            states[instance_id] = state
    return Baseline(
        states=states,
        description=f"{first.description}; {second.description}",
        notes=(*first.notes, *second.notes),
    )
