"""What a plan is: per instance, a status, field-level changes, the one request, and the restart.

All values are frozen and JSON-safe through :func:`plan_to_json`, the documented plan format (see
``docs/plan-format.md``). Nothing in a plan is secret: certificates appear as summaries and
fingerprints, private keys as their reference and public-key fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from rdsssl_reconcile.live.model import ReadError
from rdsssl_reconcile.planning.rules import Restart, rule

#: 2.0: changes carry typed ``before``/``after`` (texts in ``before_text``/``after_text``), ``policy`` is an
#: object, and a change says ``action`` (now or deferred) and ``deferral``. 1.x files are refused.
PLAN_FORMAT_VERSION = "2.0"

#: How the planner writes "nothing" in a change's texts (no certificate, an ACL not set).
ABSENT_TEXTS = frozenset({"(none)", "(unset)"})


class Action(Enum):
    """What apply does with an instance's planned change: run it now, or leave it for later (policy)."""

    NOW = "now"
    DEFERRED = "deferred"


class DeferralReason(Enum):
    """Why a restart is deferred: policy ``never`` without ``--allow-restart``, or the window."""

    POLICY_NEVER = "policy_never"
    WINDOW_CLOSED = "window_closed"
    WINDOW_TOO_SHORT = "window_too_short"


def utc_text(moment: datetime | None) -> str | None:
    """A time as plans write it (``2026-11-28T02:00:00Z``), None for None."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


@dataclass(frozen=True, slots=True)
class Deferral:
    """Why a planned restart does not run now, as typed facts (renderers make the sentence).

    ``window`` is the window as written (``sat 02:00-04:00``); ``closes_at`` is set when the window is
    open but closes before a restart of ``estimated_seconds`` would end; ``next_opening`` when a window
    will open again.
    """

    reason: DeferralReason
    policy: str
    estimated_seconds: int
    window: str | None = None
    closes_at: datetime | None = None
    next_opening: datetime | None = None

    def sentence(self, instance_id: str) -> str:
        """The reason in plain words, the same in the plan, the prompt and apply's report."""
        minutes = max(1, round(self.estimated_seconds / 60)) if self.estimated_seconds else 0
        opening = f"; next opening {self.next_opening:%Y-%m-%d %H:%M} UTC" if self.next_opening else ""
        if self.reason is DeferralReason.POLICY_NEVER:
            return (
                f"policy restart: never; the change restarts the instance (~{minutes} min). "
                f"Re-run with --allow-restart {instance_id} to allow it"
            )
        if self.reason is DeferralReason.WINDOW_TOO_SHORT and self.closes_at is not None:
            return (
                f"maintenance window {self.window} UTC closes at {self.closes_at:%H:%M} UTC, too soon for a "
                f"~{minutes} min restart{opening}"
            )
        return f"outside maintenance window {self.window} UTC{opening}"

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason.value,
            "policy": self.policy,
            "window": self.window,
            "closes_at": utc_text(self.closes_at),
            "next_opening": utc_text(self.next_opening),
            "estimated_seconds": self.estimated_seconds,
        }


class PlanStatus(Enum):
    IN_SYNC = "in_sync"
    CHANGE = "change"
    INELIGIBLE = "ineligible"
    NOT_FOUND = "not_found"
    ERROR = "error"


def typed_value(field: str, text: str | None) -> Any:
    """A change's side as the JSON value it is: ``ssl.enabled`` a boolean, ``ssl.endpoints`` a list of host
    names, nothing (no certificate, an unset ACL) null, anything else its text (a certificate summary)."""
    if field == "ssl.endpoints":
        return [] if text is None or text in ABSENT_TEXTS else text.split(", ")
    if text is None or text in ABSENT_TEXTS:
        return None
    if field == "ssl.enabled" and text in ("true", "false"):
        return text == "true"
    return text


@dataclass(frozen=True, slots=True)
class PlannedPolicy:
    """The instance's policy as the plan records it (from the spec's ``policy``), typed."""

    mode: str = "allowed"
    window: str | None = None
    renew_before_days: int = 30

    def describe(self) -> str:
        """``restart allowed``, ``restart never``, ``restart in window sat 02:00-04:00 UTC``."""
        if self.mode == "window" and self.window:
            return f"restart in window {self.window} UTC"
        return f"restart {self.mode}"

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "window": self.window, "renew_before_days": self.renew_before_days}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs: ``before -> after`` as people read them, and the restart rule it hits."""

    field: str
    before: str | None
    after: str | None
    rule_id: str
    reason: str | None = None

    @property
    def restart(self) -> Restart:
        return rule(self.rule_id).restart

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "before": typed_value(self.field, self.before),
            "after": typed_value(self.field, self.after),
            "before_text": self.before,
            "after_text": self.after,
            "restart": self.restart.value,
            "rule": self.rule_id,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class RequestParameter:
    """One wire parameter of the planned request, as displayed (secrets as references and fingerprints)."""

    name: str
    display: str
    sensitive: bool = False
    known_after_apply: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.display,
            "sensitive": self.sensitive,
            "known_after_apply": self.known_after_apply,
        }


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """The single ModifyDBInstanceSSL call apply will make for the instance."""

    parameters: tuple[RequestParameter, ...]
    action: str = "ModifyDBInstanceSSL"

    @property
    def digest(self) -> str:
        """SHA-256 of the displayed parameters: apply rebuilds the request and must get the same digest."""
        data = [[p.name, p.display] for p in self.parameters]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "parameters": [p.to_json() for p in self.parameters],
            "digest": self.digest,
        }


@dataclass(frozen=True, slots=True)
class RestartAssessment:
    """The instance's one restart: its verdict, what triggers it, and how long it is expected to take."""

    restart: Restart
    triggers: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()
    estimated_seconds: int = 0

    @classmethod
    def of(cls, changes: tuple[FieldChange, ...]) -> RestartAssessment:
        if not changes:
            return cls(restart=Restart.NOT_REQUIRED)
        restart = Restart.worst([c.restart for c in changes])
        triggering = [c for c in changes if c.restart.counts_as_restart]
        return cls(
            restart=restart,
            triggers=tuple(dict.fromkeys(c.field for c in triggering)),
            rule_ids=tuple(dict.fromkeys(c.rule_id for c in triggering)),
            # One request per instance, so the pending fields cost one restart, never several: as long
            # as the longest of the rows that request triggers (a CRL and an ACL together: ~3 min).
            estimated_seconds=max((rule(c.rule_id).estimated_seconds for c in triggering), default=0),
        )

    def detail_json(self) -> dict[str, Any]:
        """Why and how long; the verdict itself is the instance's ``restart`` string."""
        return {
            "triggers": list(self.triggers),
            "rules": [rule(r).to_json() for r in self.rule_ids],
            "estimated_seconds": self.estimated_seconds,
        }


@dataclass(frozen=True, slots=True)
class InstancePlan:
    id: str
    region: str
    description: str | None
    status: PlanStatus
    reasons: tuple[str, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    request: PlannedRequest | None = None
    restart: RestartAssessment = field(default_factory=lambda: RestartAssessment(restart=Restart.NOT_REQUIRED))
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    policy: PlannedPolicy = field(default_factory=PlannedPolicy)
    spec_location: str = ""
    live_fingerprint: str | None = None
    desired_digest: str = ""
    error: ReadError | None = None
    live: dict[str, Any] | None = None
    #: For a change: whether apply runs it now or defers it (the policy, as of the plan's time).
    action: Action | None = None
    deferral: Deferral | None = None

    @property
    def restarts(self) -> bool:
        """A planned change that restarts the instance (now or deferred)."""
        return self.status is PlanStatus.CHANGE and self.restart.restart.counts_as_restart

    @property
    def restarts_now(self) -> bool:
        return self.restarts and self.action is not Action.DEFERRED

    @property
    def deferred(self) -> bool:
        return self.status is PlanStatus.CHANGE and self.action is Action.DEFERRED

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "region": self.region,
            "description": self.description,
            "status": self.status.value,
            "reasons": list(self.reasons),
            "changes": [c.to_json() for c in self.changes],
            # The verdict as a plain string, so that `jq 'select(.restart == "required")'` works;
            # an instance that could not be read may owe anything, so it is "unknown".
            "restart": Restart.UNKNOWN.value
            if self.status in (PlanStatus.ERROR, PlanStatus.NOT_FOUND)
            else self.restart.restart.value,
            "restart_detail": self.restart.detail_json(),
            "request": self.request.to_json() if self.request else None,
            "action": self.action.value if self.action else None,
            "deferral": self.deferral.to_json() if self.deferral else None,
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "policy": self.policy.to_json(),
            "spec": self.spec_location,
            "live_fingerprint": self.live_fingerprint,
            "desired_digest": self.desired_digest,
            "live": self.live,
            "error": None
            if self.error is None
            else {
                "action": self.error.action,
                "code": self.error.code,
                "message": self.error.message,
                "request_id": self.error.request_id,
            },
        }


@dataclass(frozen=True, slots=True)
class PlanSummary:
    change: int
    in_sync: int
    ineligible: int
    not_found: int
    error: int
    restarts: int
    restart_seconds: int
    longest_restart_seconds: int = 0
    #: Restarts the policy defers (not counted in ``restarts``, which are the ones apply runs now).
    deferred: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "change": self.change,
            "in_sync": self.in_sync,
            "ineligible": self.ineligible,
            "not_found": self.not_found,
            "error": self.error,
            "restarts": self.restarts,
            "deferred": self.deferred,
            "estimated_restart_seconds": self.restart_seconds,
        }

    def restart_estimate(self) -> str:
        """``~3 min`` for one restart; ``~3 min each`` when all are alike, else ``~4 min in total``."""
        if self.restarts == 1:
            return f"~{_minutes(self.restart_seconds)} min"
        if self.longest_restart_seconds * self.restarts == self.restart_seconds:
            return f"~{_minutes(self.longest_restart_seconds)} min each"
        return f"~{_minutes(self.restart_seconds)} min in total"

    def sentence(self) -> str:
        """``2 to change, 1 restart (~3 min), 3 in sync, 1 ineligible``.

        With deferrals: ``2 to change, 1 restart now (~3 min), 1 deferred, 3 in sync``.
        """
        parts = [f"{self.change} to change"]
        now = " now" if self.deferred else ""
        if self.restarts:
            parts.append(f"{self.restarts} restart{'s' if self.restarts != 1 else ''}{now} ({self.restart_estimate()})")
        else:
            parts.append(f"0 restarts{now}")
        if self.deferred:
            parts.append(f"{self.deferred} deferred")
        parts.append(f"{self.in_sync} in sync")
        for count, word in ((self.ineligible, "ineligible"), (self.not_found, "not found"), (self.error, "error")):
            if count:
                parts.append(f"{count} {word}{'s' if word == 'error' and count != 1 else ''}")
        return ", ".join(parts)


def _minutes(seconds: int) -> int:
    """Whole minutes for display, never 0 for a restart that takes any time at all."""
    return max(1, round(seconds / 60)) if seconds else 0


@dataclass(frozen=True, slots=True)
class Plan:
    instances: tuple[InstancePlan, ...]
    target: dict[str, Any]
    generated_at: datetime
    spec_paths: tuple[str, ...] = ()
    spec_warnings: tuple[str, ...] = ()
    #: The ids ``--allow-restart`` named when the plan was made (policy ``never`` overridden for them).
    allow_restart: tuple[str, ...] = ()

    @property
    def summary(self) -> PlanSummary:
        def count(status: PlanStatus) -> int:
            return sum(1 for i in self.instances if i.status is status)

        restarting = [i for i in self.instances if i.restarts_now]
        return PlanSummary(
            change=count(PlanStatus.CHANGE),
            in_sync=count(PlanStatus.IN_SYNC),
            ineligible=count(PlanStatus.INELIGIBLE),
            not_found=count(PlanStatus.NOT_FOUND),
            error=count(PlanStatus.ERROR),
            restarts=len(restarting),
            restart_seconds=sum(i.restart.estimated_seconds for i in restarting),
            longest_restart_seconds=max((i.restart.estimated_seconds for i in restarting), default=0),
            deferred=sum(1 for i in self.instances if i.deferred),
        )

    @property
    def has_changes(self) -> bool:
        return any(i.status is PlanStatus.CHANGE for i in self.instances)

    @property
    def has_errors(self) -> bool:
        return any(i.status is PlanStatus.ERROR for i in self.instances)

    def instance(self, instance_id: str) -> InstancePlan | None:
        return next((i for i in self.instances if i.id == instance_id), None)


def plan_header_to_json(plan: Plan, *, tool_version: str) -> dict[str, Any]:
    """Every member of the JSON plan but the last, ``instances`` (a renderer may write those one by one)."""
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "tool_version": tool_version,
        "generated_at": plan.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": plan.target,
        "spec_paths": list(plan.spec_paths),
        "allow_restart": list(plan.allow_restart),
        "summary": plan.summary.to_json(),
        "spec_warnings": list(plan.spec_warnings),
    }


def plan_to_json(plan: Plan, *, tool_version: str) -> dict[str, Any]:
    """The documented JSON plan (``--format json`` and the body of saved plans)."""
    return {**plan_header_to_json(plan, tool_version=tool_version), "instances": [i.to_json() for i in plan.instances]}
