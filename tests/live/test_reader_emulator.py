"""plan against the emulator under each reading of several ids: every existing instance found, the reading noted.

Cells whose emulator setting (``describe_ids``) does not exist yet are skipped with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdsssl_reconcile.cli import run
from rdsssl_reconcile.emulator.settings import EmulatorSettings
from rdsssl_reconcile.emulator.testing import RunningEmulator

pytestmark = pytest.mark.e2e

SETTINGS = set(EmulatorSettings().to_dict())
NOTES = {
    "list": None,
    "first": "DescribeDBInstances answered only the first of several ids in cn-hangzhou",
    "ignored": "DescribeDBInstances ignored the id list in cn-hangzhou",
    "literal": "DescribeDBInstances found nothing for a list of existing ids",
    "error": "DescribeDBInstances refused a list of ids (",
}


@pytest.mark.parametrize("declared", [4, 30])
@pytest.mark.parametrize("reading", list(NOTES))
def test_plan_finds_every_existing_instance_under_each_reading(
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    reading: str,
    declared: int,
) -> None:
    if "describe_ids" not in SETTINGS:
        pytest.skip("this emulator has no 'describe_ids' setting yet (h9-emulator adds it)")
    ids = [f"pgm-r{i:03d}" for i in range(declared)]
    others = [{"id": f"pgm-x{i:03d}", "region": "cn-hangzhou"} for i in range(12)]
    emulator.admin.add_instances([{"id": i, "region": "cn-hangzhou"} for i in ids] + others)
    emulator.admin.settings(describe_ids=reading)
    specs = tmp_path / "specs"
    specs.mkdir()
    lines = ["instances:"]
    for instance_id in [*ids[:2], "pgm-gone", *ids[2:]]:
        lines += [f"  - id: {instance_id}", "    region: cn-hangzhou", "    ssl: {enabled: false}"]
    (specs / "fleet.yaml").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    emulator.admin.clear_calls()
    capsys.readouterr()
    code = run(["plan", str(specs), "--endpoint", emulator.endpoint, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 1, captured.err  # pgm-gone does not exist: the plan fails (README "Exit codes")
    statuses = {i["id"]: i["status"] for i in json.loads(captured.out)["instances"]}
    assert statuses.pop("pgm-gone") == "not_found"
    assert set(statuses.values()) == {"in_sync"}, statuses
    note = NOTES[reading]
    if note is None:
        assert "note:" not in captured.err
    else:
        assert f"note: {note}" in captured.err
    calls = emulator.admin.calls()
    per_instance = sum(1 for c in calls if c["action"] != "DescribeDBInstances") / (declared + 1)
    assert per_instance <= 2
    assert {c["action"] for c in calls} <= {
        "DescribeDBInstances",
        "DescribeDBInstanceAttribute",
        "DescribeDBInstanceSSL",
        "DescribeDBInstanceNetInfo",
    }
