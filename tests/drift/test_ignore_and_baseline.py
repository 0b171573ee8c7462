"""The ignore file's format and located errors; the applied-state evidence from audit records and saved plans."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rdsssl_reconcile.drift.baseline import from_audit_records, from_saved_plan, load_audit_baseline, merged
from rdsssl_reconcile.drift.ignore import IGNORE_FILE, find_ignore_file, load_rules
from rdsssl_reconcile.errors import SpecError, UserError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / IGNORE_FILE
    path.write_text(text, encoding="utf-8")
    return path


def test_rules_load_with_their_place_and_optional_expiry(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ignore:\n"
        "  - instance: 'pgm-*'\n    field: ssl.client_ca.acl\n    reason: owned by the DBA team\n"
        "  - {instance: pgm-b, field: 'ssl.*', reason: decommissioning, expires: 2027-03-31}\n"
        "  - {instance: pgm-c, field: ssl.enabled, reason: quoted date, expires: '2027-04-01'}\n",
    )
    first, second, third = load_rules(path)
    assert (first.instance, first.field, first.reason, first.expires) == (
        "pgm-*",
        "ssl.client_ca.acl",
        "owned by the DBA team",
        None,
    )
    assert first.location == f"{path}:2"
    assert second.expires == date(2027, 3, 31)
    assert third.expires == date(2027, 4, 1)
    assert second.matches("pgm-b", "ssl.endpoints")
    assert not second.matches("pgm-bb", "ssl.endpoints")
    assert not second.expired(date(2027, 3, 30))
    assert second.expired(date(2027, 3, 31))
    assert find_ignore_file([tmp_path]) == path
    (tmp_path / "other").mkdir()
    assert find_ignore_file([tmp_path / "other"]) is None


def test_an_empty_file_ignores_nothing(tmp_path: Path) -> None:
    assert load_rules(write(tmp_path, "")) == ()
    assert load_rules(write(tmp_path, "ignore: []\n")) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n", ":1: (top level): expected a mapping with an 'ignore' list, found a list"),
        ("rules: []\n", ":1: rules: expected only the key 'ignore', found 'rules'"),
        ("ignore: {}\n", ":1: ignore: expected a list of rules, found a mapping"),
        ("ignore:\n  - pgm-a\n", ":2: ignore[0]: expected a mapping with instance, field and reason, found 'pgm-a'"),
        (
            "ignore:\n  - {instance: a, field: b}\n",
            ":2: ignore[0].reason: expected a non-empty string (why the difference is accepted), found nothing (the key is missing)",
        ),
        (
            "ignore:\n  - {instance: a, field: 3, reason: r}\n",
            ":2: ignore[0].field: expected a non-empty string, found 3",
        ),
        (
            "ignore:\n  - {instance: a, field: b, reason: r, until: 2027-01-01}\n",
            ":2: ignore[0].until: expected one of instance, field, reason, expires, found 'until'",
        ),
        (
            "ignore:\n  - {instance: a, field: b, reason: r, expires: 2027-01-01 10:00:00}\n",
            ":2: ignore[0].expires: expected a date YYYY-MM-DD (without a time), found 2027-01-01 10:00:00",
        ),
        (
            "ignore:\n  - instance: a\n    field: b\n    reason: r\n    expires: soon\n",
            ":5: ignore[0].expires: expected a date YYYY-MM-DD, found 'soon'",
        ),
        ("ignore:\n  - {instance: a, field: b, reason: r}\n  x: [\n", "YAML"),
    ],
)
def test_bad_rules_are_located(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_rules(path)
    if expected == "YAML":  # not YAML at all: located by the YAML reader, as for a spec
        assert all(p.startswith(f"{path}:") for p in caught.value.problems)
    else:
        assert f"{path}{expected}" in caught.value.problems


def test_every_bad_rule_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "ignore:\n  - {instance: a}\n  - {field: b, reason: r}\n")
    with pytest.raises(SpecError) as caught:
        load_rules(path)
    assert len(caught.value.problems) == 3


def record(instance: str, outcome: str, time: str, **extra: object) -> dict[str, object]:
    return {"kind": "result", "instance": instance, "outcome": outcome, "time": time, **extra}


def test_the_last_applied_record_wins_and_old_records_are_no_evidence() -> None:
    live = {"ssl": {"enabled": True}}
    baseline = from_audit_records(
        [
            record("pgm-a", "applied", "2026-11-01T00:00:00Z", desired_digest="a1", live=live),
            record("pgm-a", "failed", "2026-11-02T00:00:00Z"),
            record("pgm-a", "already_in_sync", "2026-11-03T00:00:00Z", desired_digest="a2", live=live),
            record("pgm-b", "applied", "2026-11-01T00:00:00Z"),
            {"kind": "call", "instance": "pgm-c", "outcome": "accepted", "time": "2026-11-01T00:00:00Z"},
        ],
        where="audit.jsonl",
    )
    state = baseline.of("pgm-a")
    assert state is not None
    assert state.desired_digest == "a2"
    assert state.source == "audit log, already_in_sync at 2026-11-03T00:00:00Z"
    assert baseline.of("pgm-b") is None
    assert baseline.of("pgm-c") is None
    assert any("pgm-b" in n and "predates" in n for n in baseline.notes)


def test_saved_plan_evidence_keeps_live_only_for_instances_it_found_in_sync() -> None:
    document = {
        "generated_at": "2026-11-30T10:00:00Z",
        "instances": [
            {"id": "pgm-a", "status": "in_sync", "desired_digest": "d1", "live": {"ssl": {}}},
            {"id": "pgm-b", "status": "change", "desired_digest": "d2", "live": {"ssl": {}}},
        ],
    }
    baseline = from_saved_plan(document, where="plan.json")
    a, b = baseline.of("pgm-a"), baseline.of("pgm-b")
    assert a is not None
    assert b is not None
    assert a.live == {"ssl": {}}
    assert b.live is None
    assert a.source == "saved plan plan.json of 2026-11-30T10:00:00Z"
    newer = from_audit_records(
        [record("pgm-a", "applied", "2026-12-01T00:00:00Z", desired_digest="d9", live={})], where="x"
    )
    both = merged(baseline, newer)
    chosen = both.of("pgm-a")
    assert chosen is not None
    assert chosen.desired_digest == "d9"


def test_a_missing_audit_log_is_no_evidence_unless_named(tmp_path: Path) -> None:
    baseline = load_audit_baseline(tmp_path / "audit.jsonl", explicit=False)
    assert baseline.states == {}
    assert baseline.description.startswith("no audit log at ")
    with pytest.raises(UserError, match=r"--audit-log .*: no such file"):
        load_audit_baseline(tmp_path / "audit.jsonl", explicit=True)
    (tmp_path / "audit.jsonl").write_text('{"kind": "result", "time": "2026-11-01T00:00:00Z"}\n{"torn\n')
    torn = load_audit_baseline(tmp_path / "audit.jsonl", explicit=True)
    assert any("torn lines" in n for n in torn.notes)
