"""merge of drift reports (the plan side runs end to end in tests/e2e/test_sharded.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.cli import run
from rdsssl_reconcile.drift.model import (
    Coverage,
    DriftReport,
    DriftStatus,
    FieldDrift,
    InstanceDrift,
    UnmanagedInstance,
    report_to_json,
)
from rdsssl_reconcile.planning.merge import MergeError, Source, merge_drift

T1 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
T2 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def report(
    region: str,
    *instances: InstanceDrift,
    unmanaged: tuple[UnmanagedInstance, ...] = (),
    when: datetime = T1,
    scanned: int = 0,
) -> DriftReport:
    return DriftReport(
        instances=instances,
        expiry=(),
        generated_at=when,
        target={"kind": "alibaba-cloud", "description": "Alibaba Cloud"},
        spec_paths=("specs",),
        unmanaged=unmanaged,
        coverage=Coverage(regions=(region,), managed=scanned - len(unmanaged), scanned=scanned) if scanned else None,
    )


def source(name: str, value: DriftReport) -> Source:
    return Source(name=name, document=report_to_json(value, tool_version="test"))


def test_drift_reports_merge_with_unmanaged_and_coverage_recounted() -> None:
    drifted = InstanceDrift(
        "pgm-a", "cn-hangzhou", DriftStatus.DRIFTED, fields=(FieldDrift("ssl.enabled", "true", "false"),)
    )
    a = report(
        "cn-hangzhou",
        drifted,
        unmanaged=(UnmanagedInstance("pgm-b", "cn-hangzhou", False), UnmanagedInstance("pgm-x", "cn-hangzhou", True)),
        scanned=3,
    )
    # pgm-b is managed by the other shard's specs, though it lives in a region the first shard scanned.
    b = report("cn-shanghai", InstanceDrift("pgm-b", "cn-hangzhou", DriftStatus.IN_SYNC), when=T2, scanned=2)
    merged = merge_drift([source("a.json", a), source("b.json", b)])
    assert [i.id for i in merged.instances] == ["pgm-a", "pgm-b"]
    assert [u.id for u in merged.unmanaged] == ["pgm-x"]
    assert merged.coverage == Coverage(regions=("cn-hangzhou", "cn-shanghai"), managed=4, scanned=5)
    assert merged.generated_at == T1
    assert merged.summary.drifted == 1
    assert merged.exit_code == 2


def test_a_region_scanned_twice_is_refused() -> None:
    a = report("cn-hangzhou", InstanceDrift("pgm-a", "cn-hangzhou", DriftStatus.IN_SYNC), scanned=1)
    b = report("cn-hangzhou", InstanceDrift("pgm-b", "cn-hangzhou", DriftStatus.IN_SYNC), scanned=1)
    with pytest.raises(MergeError, match=r"region cn-hangzhou was scanned by both a\.json and b\.json"):
        merge_drift([source("a.json", a), source("b.json", b)])


def test_disagreeing_instances_are_named() -> None:
    a = report("cn-hangzhou", InstanceDrift("pgm-a", "cn-hangzhou", DriftStatus.IN_SYNC))
    b = report("cn-hangzhou", InstanceDrift("pgm-a", "cn-hangzhou", DriftStatus.MISSING))
    with pytest.raises(MergeError) as info:
        merge_drift([source("a.json", a), source("b.json", b)])
    assert 'pgm-a: in a.json and b.json with different content (status "in_sync" vs "missing")' in str(info.value)


def test_a_malformed_drift_report_is_located() -> None:
    with pytest.raises(MergeError, match=r"bad\.json: not a valid drift report \(KeyError"):
        merge_drift([Source("bad.json", {"kind": "drift", "format_version": "1.0", "instances": []})])
    with pytest.raises(MergeError, match=r'bad\.json: format_version "9\.0" is not a drift report format'):
        merge_drift([Source("bad.json", {"kind": "drift", "format_version": "9.0"})])


def test_merge_command_on_drift_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = report("cn-hangzhou", InstanceDrift("pgm-a", "cn-hangzhou", DriftStatus.IN_SYNC), scanned=1)
    b = report("cn-shanghai", InstanceDrift("pgm-b", "cn-shanghai", DriftStatus.ERROR, reasons=("\x1b[2Aboom",)))
    for name, value in (("a.json", a), ("b.json", b)):
        (tmp_path / name).write_text(json.dumps(report_to_json(value, tool_version="test")))
    capsys.readouterr()
    code = run(["merge", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    out = capsys.readouterr().out
    assert code == 1  # drift's code: an error in a shard
    assert "pgm-b (cn-shanghai): error - \\x1b[2Aboom" in out
    assert "\x1b" not in out
    assert "1 in sync, 1 error" in out.splitlines()[-1]
    assert run(["merge", str(tmp_path / "a.json"), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["kind"] == "drift"
    assert [i["id"] for i in document["instances"]] == ["pgm-a"]
    assert run(["merge", str(tmp_path / "a.json"), "--format", "markdown"]) == 0
    assert "| `pgm-a` | in_sync | - |" in capsys.readouterr().out


def test_merge_refuses_what_is_not_a_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.json").write_text('{"kind": "something-else"}')
    (tmp_path / "y.json").write_text("[1, 2]")
    assert run(["merge", str(tmp_path / "x.json")]) == 1
    assert 'x.json: kind "something-else" is not a plan or a drift report' in capsys.readouterr().err
    assert run(["merge", str(tmp_path / "y.json")]) == 1
    assert "y.json: expected a JSON object" in capsys.readouterr().err
    assert run(["merge", str(tmp_path / "missing.json")]) == 1
    assert "missing.json: no such file" in capsys.readouterr().err
