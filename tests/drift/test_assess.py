"""The pure drift rules: pending vs drifted, cause hints with evidence, expiry flags, ignore rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from rdsssl_reconcile.drift.assess import assess_instance, live_unchanged, renewal_cause
from rdsssl_reconcile.drift.baseline import AppliedState
from rdsssl_reconcile.drift.ignore import IgnoreRule
from rdsssl_reconcile.drift.model import CauseKind, CertificateKind, DriftStatus
from rdsssl_reconcile.live.model import LiveInstance, ReadOutcome
from tests.drift.conftest import NOW, SSL_OFF, aliyun, applied, cloud_certificate, desired, live, off, ssl_on


def kinds(assessed: object) -> list[CauseKind]:
    return [c.kind for c in assessed.drift.causes]  # type: ignore[attr-defined]


def test_live_moved_with_the_applied_spec_is_drift_changed_outside(tmp_path: Path) -> None:
    (spec,) = desired(tmp_path, aliyun("pgm-a"))
    was = live("pgm-a", ssl_on("pgm-a"))
    result = assess_instance(spec, live("pgm-a", SSL_OFF), now=NOW, applied=applied(spec, was))
    assert result.drift.status is DriftStatus.DRIFTED
    assert kinds(result) == [CauseKind.OUTSIDE_CHANGE]
    assert "the spec is the one applied at the audit log" in result.drift.causes[0].evidence
    fields = {f.field: (f.expected, f.live) for f in result.drift.fields}
    assert fields["ssl.enabled"] == ("true", "false")
    assert result.drift.baseline.startswith("audit log, applied at")


def test_spec_changed_and_live_as_applied_is_pending_not_drift(tmp_path: Path) -> None:
    (old,) = desired(tmp_path, aliyun("pgm-a"))
    (new,) = desired(tmp_path, off("pgm-a"))
    now_live = live("pgm-a", ssl_on("pgm-a"))
    result = assess_instance(new, now_live, now=NOW, applied=applied(old, now_live))
    assert result.drift.status is DriftStatus.PENDING
    assert kinds(result) == [CauseKind.SPEC_CHANGED]
    assert old.digest()[:12] in result.drift.causes[0].evidence
    assert [f.field for f in result.drift.fields] == ["ssl.enabled"]


def test_spec_and_live_both_moved_is_drift_with_both_causes(tmp_path: Path) -> None:
    (old,) = desired(tmp_path, aliyun("pgm-a", ", policy: {renew_before_days: 10}"))
    (new,) = desired(tmp_path, aliyun("pgm-a"))
    was = live("pgm-a", ssl_on("pgm-a"))
    result = assess_instance(new, live("pgm-a", SSL_OFF), now=NOW, applied=applied(old, was))
    assert result.drift.status is DriftStatus.DRIFTED
    assert kinds(result) == [CauseKind.OUTSIDE_CHANGE, CauseKind.SPEC_CHANGED]


def test_without_evidence_differences_are_drift_and_the_report_says_so(tmp_path: Path) -> None:
    (spec,) = desired(tmp_path, aliyun("pgm-a"))
    result = assess_instance(spec, live("pgm-a", SSL_OFF), now=NOW, applied=None)
    assert result.drift.status is DriftStatus.DRIFTED
    assert result.drift.baseline == "spec (no applied record found)"
    assert any("no applied record" in r for r in result.drift.reasons)
    assert result.drift.causes == ()


def test_a_saved_plan_without_the_state_after_apply_is_pending_with_the_caveat(tmp_path: Path) -> None:
    (old,) = desired(tmp_path, aliyun("pgm-a"))
    (new,) = desired(tmp_path, off("pgm-a"))
    result = assess_instance(new, live("pgm-a", ssl_on("pgm-a")), now=NOW, applied=applied(old, None))
    assert result.drift.status is DriftStatus.PENDING
    assert any("not recorded" in r for r in result.drift.reasons)


def test_cloud_renewal_is_attributed_with_its_evidence_and_is_not_drift(tmp_path: Path) -> None:
    (spec,) = desired(tmp_path, aliyun("pgm-a"))
    old = cloud_certificate("pgm-a", issued=NOW - timedelta(days=360))
    new = cloud_certificate("pgm-a", issued=NOW - timedelta(days=2))
    was = live("pgm-a", ssl_on("pgm-a", old))
    result = assess_instance(spec, live("pgm-a", ssl_on("pgm-a", new)), now=NOW, applied=applied(spec, was))
    assert result.drift.status is DriftStatus.IN_SYNC
    (cause,) = result.drift.causes
    assert cause.kind is CauseKind.CLOUD_RENEWAL
    assert old.summary is not None
    assert new.summary is not None
    assert f"{old.summary.not_after:%Y-%m-%d} -> {new.summary.not_after:%Y-%m-%d}" in cause.evidence
    assert old.summary.sha256[:23] in cause.evidence
    assert new.summary.sha256[:23] in cause.evidence


def test_not_a_renewal_when_the_ca_type_endpoints_or_expiry_say_otherwise() -> None:
    old = cloud_certificate("pgm-a", issued=NOW - timedelta(days=100))
    newer = cloud_certificate("pgm-a", issued=NOW - timedelta(days=1))
    older = cloud_certificate("pgm-a", issued=NOW - timedelta(days=200))
    desired_digest = "d" * 64

    def state(ssl: object) -> AppliedState:
        from rdsssl_reconcile.live.model import live_to_json

        return AppliedState("pgm-a", "audit log", NOW, desired_digest, live_to_json(live("pgm-a", ssl)))  # type: ignore[arg-type]

    base = state(ssl_on("pgm-a", old))
    assert renewal_cause(base, live("pgm-a", ssl_on("pgm-a", newer))) is not None
    assert renewal_cause(base, live("pgm-a", ssl_on("pgm-a", older))) is None  # earlier expiry
    assert renewal_cause(base, live("pgm-a", ssl_on("pgm-a", newer, ca_type="custom"))) is None
    assert renewal_cause(base, live("pgm-a", ssl_on("pgm-a", newer, endpoints=("other.example",)))) is None
    assert renewal_cause(base, live("pgm-a", ssl_on("pgm-a", old))) is None  # same certificate
    assert renewal_cause(None, live("pgm-a", ssl_on("pgm-a", newer))) is None  # nothing to compare with
    # A renewal leaves the configuration as applied: a spec edit on top of it is still pending.
    assert live_unchanged(base, live("pgm-a", ssl_on("pgm-a", newer))) is True
    assert live_unchanged(base, live("pgm-a", ssl_on("pgm-a", newer, acl="verify-ca"))) is False


def test_a_busy_instance_is_compared_as_settled_and_says_a_change_is_in_progress(tmp_path: Path) -> None:
    (spec,) = desired(tmp_path, aliyun("pgm-a"))
    busy = live("pgm-a", replace(SSL_OFF, last_modify_status="setting"), status="SSL_MODIFYING")
    result = assess_instance(spec, busy, now=NOW, applied=None)
    assert result.drift.status is DriftStatus.DRIFTED
    (cause,) = result.drift.causes
    assert cause.kind is CauseKind.IN_PROGRESS
    assert cause.evidence == "DBInstanceStatus is SSL_MODIFYING, LastModifyStatus is setting"


def test_missing_error_and_ineligible(tmp_path: Path) -> None:
    (spec,) = desired(tmp_path, aliyun("pgm-a"))
    gone = LiveInstance(instance_id="pgm-a", region="cn-hangzhou", outcome=ReadOutcome.NOT_FOUND)
    assert assess_instance(spec, gone, now=NOW, applied=None).drift.status is DriftStatus.MISSING
    broken = LiveInstance(instance_id="pgm-a", region="cn-hangzhou", outcome=ReadOutcome.ERROR)
    errored = assess_instance(spec, broken, now=NOW, applied=None).drift
    assert errored.status is DriftStatus.ERROR
    assert errored.error
    old = live("pgm-a", None, engine_version="9.6")
    assert assess_instance(spec, old, now=NOW, applied=None).drift.status is DriftStatus.INELIGIBLE


def test_expiry_flags_the_renewal_window_and_require_update_and_due_renewal_is_not_drift(tmp_path: Path) -> None:
    (spec,) = desired(tmp_path, aliyun("pgm-a"))
    cert = cloud_certificate("pgm-a", issued=NOW - timedelta(days=345))  # 20 days left
    ssl = ssl_on("pgm-a", cert, require_update=True, require_update_reason="expires soon")
    result = assess_instance(spec, live("pgm-a", ssl), now=NOW, applied=None)
    assert result.drift.status is DriftStatus.IN_SYNC
    assert result.drift.fields == ()
    assert any(r.startswith("renewal due: renew:") for r in result.drift.reasons)
    (entry,) = result.expiry
    assert entry.kind is CertificateKind.SERVER_CLOUD
    assert entry.days_left == 20
    assert entry.in_renewal_window
    assert entry.require_update
    fresh = assess_instance(spec, live("pgm-a", ssl_on("pgm-a")), now=NOW, applied=None)
    (entry,) = fresh.expiry
    assert not entry.in_renewal_window
    assert not entry.require_update
    assert entry.days_left == 355


def test_ignore_rules_mark_exactly_their_fields_until_the_expiry_day(tmp_path: Path) -> None:
    from datetime import date

    (spec,) = desired(tmp_path, aliyun("pgm-a"))
    rule = IgnoreRule("pgm-*", "ssl.endpoints", "moving", date(2026, 12, 2), "x/.rdsssl-ignore.yaml:3")
    result = assess_instance(spec, live("pgm-a", SSL_OFF), now=NOW, applied=None, rules=[rule])
    marks = {f.field: f.ignored for f in result.drift.fields}
    assert marks == {"ssl.enabled": False, "ssl.endpoints": True, "ssl.certificate": False}
    ignored = next(f for f in result.drift.fields if f.ignored)
    assert (ignored.ignore_reason, ignored.ignore_rule) == ("moving", "x/.rdsssl-ignore.yaml:3")
    assert result.drift.status is DriftStatus.DRIFTED
    everything = replace(rule, field="ssl.*")
    quiet = assess_instance(spec, live("pgm-a", SSL_OFF), now=NOW, applied=None, rules=[everything])
    assert quiet.drift.status is DriftStatus.IN_SYNC
    assert all(f.ignored for f in quiet.drift.fields)
    later = assess_instance(spec, live("pgm-a", SSL_OFF), now=NOW + timedelta(days=1), applied=None, rules=[everything])
    assert later.drift.status is DriftStatus.DRIFTED
    assert later.expired_rules == (everything,)
    other = replace(everything, instance="pgm-b")
    assert assess_instance(spec, live("pgm-a", SSL_OFF), now=NOW, applied=None, rules=[other]).drift.status is (
        DriftStatus.DRIFTED
    )


def test_instances_assessed_as_their_reads_complete_give_the_same_report(tmp_path: Path) -> None:
    """drift assesses each instance in its read worker and hands the results to build_report."""
    from rdsssl_reconcile.drift.baseline import Baseline
    from rdsssl_reconcile.drift.report import build_report

    specs = desired(tmp_path, aliyun("pgm-a"), aliyun("pgm-b"), off("pgm-c"), aliyun("pgm-d"))
    cert = cloud_certificate("pgm-a", issued=NOW - timedelta(days=300))
    states = {
        "pgm-a": live("pgm-a", ssl_on("pgm-a", cert)),
        "pgm-b": live("pgm-b", SSL_OFF),
        "pgm-c": live("pgm-c", ssl_on("pgm-c", cloud_certificate("pgm-c", issued=NOW))),
        # pgm-d was not read at all: the report marks it as an error either way
    }
    baseline = Baseline(states={"pgm-b": applied(specs[1], states["pgm-b"])}, description="test")
    rules = [IgnoreRule(instance="pgm-c", field="ssl_enabled", reason="r", location="x:1", expires=None)]
    common = {"now": NOW, "baseline": baseline, "rules": rules, "target": {"kind": "test"}}
    whole = build_report(specs, states, **common)  # type: ignore[arg-type]
    ahead = {
        i.id: assess_instance(i, states[i.id], now=NOW, applied=baseline.of(i.id), rules=rules)
        for i in specs
        if i.id in states
    }
    again = build_report(specs, states, assessed_already=ahead, **common)  # type: ignore[arg-type]
    assert again == whole
    assert [d.id for d in again.instances] == ["pgm-a", "pgm-b", "pgm-c", "pgm-d"]
    assert again.instances[0] is ahead["pgm-a"].drift
