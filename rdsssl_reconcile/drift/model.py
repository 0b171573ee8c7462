"""What a drift report is: per declared instance a status, its differences and their likely causes,
plus an expiry section, the unmanaged instances of scanned regions and a coverage figure.

Why a model of its own: every drift format (text, JSON, Markdown, JUnit, HTML, Prometheus) is a function of
these values, and ``merge`` rebuilds them from JSON, so the report is one set of frozen values with one JSON
form (:func:`report_to_json` / :func:`report_from_json`, documented in ``docs/drift.md`` and checked
against ``drift.schema.json``). Nothing here is secret: certificates appear as summaries and fingerprints.

The differences themselves are the planner's field changes (one diff, many views): ``expected`` is what the
spec (or the last applied record) says, ``live`` is what the API reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

DRIFT_FORMAT_VERSION = "1.0"


class DriftStatus(Enum):
    """One declared instance, from best to worst news for a nightly job."""

    IN_SYNC = "in_sync"
    #: Live differs from what was last applied (or, without a record, from the spec): changed outside the tool.
    DRIFTED = "drifted"
    #: The spec changed since the last apply and live still matches the last applied state: not drift.
    PENDING = "pending"
    MISSING = "missing"
    INELIGIBLE = "ineligible"
    ERROR = "error"


class CauseKind(Enum):
    CLOUD_RENEWAL = "cloud_renewal"
    OUTSIDE_CHANGE = "outside_change"
    IN_PROGRESS = "in_progress"
    SPEC_CHANGED = "spec_changed"


@dataclass(frozen=True, slots=True)
class Cause:
    """A likely cause, and what it is based on (a hint is never stated without its evidence)."""

    kind: CauseKind
    summary: str
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "summary": self.summary, "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class FieldDrift:
    """One field that differs. ``ignored`` differences are listed but do not count as drift."""

    field: str
    expected: str | None
    live: str | None
    ignored: bool = False
    ignore_reason: str | None = None
    #: Where the ignore rule is (``.rdsssl-ignore.yaml:4``), for a reviewer who wants to remove it.
    ignore_rule: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "expected": self.expected,
            "live": self.live,
            "ignored": self.ignored,
            "ignore_reason": self.ignore_reason,
            "ignore_rule": self.ignore_rule,
        }


class CertificateKind(Enum):
    SERVER_CLOUD = "server_cloud"
    SERVER_CUSTOM = "server_custom"
    SERVER_ISSUED = "server_issued"
    CLIENT_CA = "client_ca"
    CRL = "crl"


@dataclass(frozen=True, slots=True)
class ExpiryEntry:
    """A certificate (or a CRL's next update) with its days left; the expiry section is a list of these."""

    instance_id: str
    region: str
    kind: CertificateKind
    subject: str
    fingerprint: str | None
    #: For a CRL, its next update.
    not_after: datetime
    days_left: int
    in_renewal_window: bool
    require_update: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "instance": self.instance_id,
            "region": self.region,
            "kind": self.kind.value,
            "subject": self.subject,
            "fingerprint": self.fingerprint,
            "not_after": _stamp(self.not_after),
            "days_left": self.days_left,
            "in_renewal_window": self.in_renewal_window,
            "require_update": self.require_update,
        }


@dataclass(frozen=True, slots=True)
class InstanceDrift:
    id: str
    region: str
    status: DriftStatus
    fields: tuple[FieldDrift, ...] = ()
    causes: tuple[Cause, ...] = ()
    #: What the expected state was taken from: ``audit log, apply of 2026-11-30T10:00:00Z``, ``saved plan
    #: plan.json``, or ``spec (no applied record found)`` when the evidence is missing.
    baseline: str = ""
    reasons: tuple[str, ...] = ()
    error: str | None = None
    spec_location: str = ""
    description: str | None = None

    @property
    def counted_fields(self) -> tuple[FieldDrift, ...]:
        return tuple(f for f in self.fields if not f.ignored)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "region": self.region,
            "description": self.description,
            "status": self.status.value,
            "fields": [f.to_json() for f in self.fields],
            "causes": [c.to_json() for c in self.causes],
            "baseline": self.baseline,
            "reasons": list(self.reasons),
            "error": self.error,
            "spec": self.spec_location,
        }


@dataclass(frozen=True, slots=True)
class UnmanagedInstance:
    """A PostgreSQL instance of a scanned region that no spec covers."""

    id: str
    region: str
    ssl_enabled: bool | None
    description: str | None = None
    status: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "region": self.region,
            "description": self.description,
            "ssl_enabled": self.ssl_enabled,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class Coverage:
    """Managed instances over all PostgreSQL instances found in the scanned regions."""

    regions: tuple[str, ...]
    managed: int
    scanned: int

    @property
    def ratio(self) -> float | None:
        return None if self.scanned == 0 else self.managed / self.scanned

    def to_json(self) -> dict[str, Any]:
        return {"regions": list(self.regions), "managed": self.managed, "scanned": self.scanned, "ratio": self.ratio}


@dataclass(frozen=True, slots=True)
class DriftSummary:
    in_sync: int
    drifted: int
    pending: int
    missing: int
    ineligible: int
    error: int
    expiring: int
    unmanaged: int
    ignored_fields: int

    def to_json(self) -> dict[str, int]:
        return {
            "in_sync": self.in_sync,
            "drifted": self.drifted,
            "pending": self.pending,
            "missing": self.missing,
            "ineligible": self.ineligible,
            "error": self.error,
            "expiring": self.expiring,
            "unmanaged": self.unmanaged,
            "ignored_fields": self.ignored_fields,
        }


@dataclass(frozen=True, slots=True)
class DriftReport:
    instances: tuple[InstanceDrift, ...]
    expiry: tuple[ExpiryEntry, ...]
    generated_at: datetime
    target: dict[str, Any]
    spec_paths: tuple[str, ...] = ()
    unmanaged: tuple[UnmanagedInstance, ...] = ()
    coverage: Coverage | None = None
    #: Where the applied-state evidence was looked for (``audit log ~/.local/state/...: 3 applied``).
    baseline: str = ""
    #: Report-wide notes: expired ignore rules, torn audit lines, the API readings met.
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> DriftSummary:
        def count(status: DriftStatus) -> int:
            return sum(1 for i in self.instances if i.status is status)

        return DriftSummary(
            in_sync=count(DriftStatus.IN_SYNC),
            drifted=count(DriftStatus.DRIFTED),
            pending=count(DriftStatus.PENDING),
            missing=count(DriftStatus.MISSING),
            ineligible=count(DriftStatus.INELIGIBLE),
            error=count(DriftStatus.ERROR),
            expiring=sum(1 for e in self.expiry if e.in_renewal_window or e.require_update),
            unmanaged=len(self.unmanaged),
            ignored_fields=sum(1 for i in self.instances for f in i.fields if f.ignored),
        )

    @property
    def exit_code(self) -> int:
        """0 no drift, 2 drift, pending or expiring certificates found, 1 an error or a missing instance."""
        s = self.summary
        if s.error or s.missing:
            return 1
        if s.drifted or s.pending or s.expiring:
            return 2
        return 0


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def report_to_json(report: DriftReport, *, tool_version: str) -> dict[str, Any]:
    """The documented JSON drift report (``drift --format json``, and the input of ``merge``)."""
    return {
        "format_version": DRIFT_FORMAT_VERSION,
        "kind": "drift",
        "tool_version": tool_version,
        "generated_at": _stamp(report.generated_at),
        "target": report.target,
        "spec_paths": list(report.spec_paths),
        "summary": report.summary.to_json(),
        "exit_code": report.exit_code,
        "instances": [i.to_json() for i in report.instances],
        "expiry": [e.to_json() for e in report.expiry],
        "unmanaged": [u.to_json() for u in report.unmanaged],
        "coverage": None if report.coverage is None else report.coverage.to_json(),
        "baseline": report.baseline,
        "notes": list(report.notes),
    }


def report_from_json(data: dict[str, Any]) -> DriftReport:
    """The inverse of :func:`report_to_json` for a document already checked against the schema."""
    coverage = data.get("coverage")
    return DriftReport(
        instances=tuple(
            InstanceDrift(
                id=i["id"],
                region=i["region"],
                description=i.get("description"),
                status=DriftStatus(i["status"]),
                fields=tuple(
                    FieldDrift(
                        field=f["field"],
                        expected=f["expected"],
                        live=f["live"],
                        ignored=f["ignored"],
                        ignore_reason=f.get("ignore_reason"),
                        ignore_rule=f.get("ignore_rule"),
                    )
                    for f in i["fields"]
                ),
                causes=tuple(Cause(CauseKind(c["kind"]), c["summary"], c["evidence"]) for c in i["causes"]),
                baseline=i["baseline"],
                reasons=tuple(i["reasons"]),
                error=i.get("error"),
                spec_location=i.get("spec", ""),
            )
            for i in data["instances"]
        ),
        expiry=tuple(
            ExpiryEntry(
                instance_id=e["instance"],
                region=e["region"],
                kind=CertificateKind(e["kind"]),
                subject=e["subject"],
                fingerprint=e.get("fingerprint"),
                not_after=_parse_stamp(e["not_after"]),
                days_left=e["days_left"],
                in_renewal_window=e["in_renewal_window"],
                require_update=e.get("require_update", False),
            )
            for e in data["expiry"]
        ),
        generated_at=_parse_stamp(data["generated_at"]),
        target=data["target"],
        spec_paths=tuple(data.get("spec_paths", ())),
        unmanaged=tuple(
            UnmanagedInstance(
                id=u["id"],
                region=u["region"],
                description=u.get("description"),
                ssl_enabled=u.get("ssl_enabled"),
                status=u.get("status"),
            )
            for u in data.get("unmanaged", ())
        ),
        coverage=None
        if coverage is None
        else Coverage(regions=tuple(coverage["regions"]), managed=coverage["managed"], scanned=coverage["scanned"]),
        baseline=data.get("baseline", ""),
        notes=tuple(data.get("notes", ())),
    )
