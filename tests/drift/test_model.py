"""The drift report's JSON form is the input of ``merge`` and of every renderer: it must round-trip."""

from __future__ import annotations

from datetime import UTC, datetime

from rdsssl_reconcile.drift.model import (
    Cause,
    CauseKind,
    CertificateKind,
    Coverage,
    DriftReport,
    DriftStatus,
    ExpiryEntry,
    FieldDrift,
    InstanceDrift,
    UnmanagedInstance,
    report_from_json,
    report_to_json,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _report(*statuses: DriftStatus, expiring: bool = False) -> DriftReport:
    return DriftReport(
        instances=tuple(
            InstanceDrift(
                id=f"pgm-{n}",
                region="cn-hangzhou",
                status=status,
                fields=(
                    FieldDrift("ssl.enabled", "true", "false"),
                    FieldDrift("ssl.acl", "prefer", "verify-ca", True, "known"),
                ),
                causes=(Cause(CauseKind.OUTSIDE_CHANGE, "changed outside the tool", "no apply recorded"),),
                baseline="spec (no applied record found)",
            )
            for n, status in enumerate(statuses)
        ),
        expiry=(
            ExpiryEntry("pgm-0", "cn-hangzhou", CertificateKind.SERVER_CLOUD, "CN=x", "ab" * 32, NOW, 3, expiring),
        ),
        generated_at=NOW,
        target={"endpoint": "http://127.0.0.1:1"},
        unmanaged=(UnmanagedInstance("pgm-free", "cn-hangzhou", False),),
        coverage=Coverage(("cn-hangzhou",), 2, 3),
    )


def test_json_round_trips() -> None:
    report = _report(DriftStatus.DRIFTED, DriftStatus.IN_SYNC, expiring=True)
    assert report_from_json(report_to_json(report, tool_version="t")) == report


def test_exit_code_rule() -> None:
    assert _report(DriftStatus.IN_SYNC).exit_code == 0
    assert _report(DriftStatus.IN_SYNC, expiring=True).exit_code == 2
    assert _report(DriftStatus.PENDING).exit_code == 2
    assert _report(DriftStatus.DRIFTED).exit_code == 2
    assert _report(DriftStatus.DRIFTED, DriftStatus.MISSING).exit_code == 1
    assert _report(DriftStatus.ERROR).exit_code == 1


def test_ignored_fields_are_counted_apart() -> None:
    report = _report(DriftStatus.DRIFTED)
    assert report.summary.ignored_fields == 1
    assert [f.field for f in report.instances[0].counted_fields] == ["ssl.enabled"]
