"""--region and --select on plan and apply; a saved plan keeps its selection for show and apply (issue 11)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rdsssl_reconcile.emulator import RunningEmulator
from tests.e2e.conftest import CliResult, endpoint_of, instance_entry, write_spec

pytestmark = pytest.mark.e2e
Cli = Callable[..., CliResult]


@pytest.fixture
def three(cloud_env: RunningEmulator, spec_dir: Path) -> RunningEmulator:
    cloud_env.admin.add_instances(
        [
            instance_entry("pgm-a"),
            instance_entry("pgm-b", region="cn-shanghai"),
            instance_entry("pgm-c", region="cn-shanghai"),
        ]
    )
    lines = ["instances:"]
    for instance_id, region, team in (
        ("pgm-a", "cn-hangzhou", "x"),
        ("pgm-b", "cn-shanghai", "x"),
        ("pgm-c", "cn-shanghai", "y"),
    ):
        lines += [
            f"  - id: {instance_id}",
            f"    region: {region}",
            f"    labels: {{team: {team}}}",
            f"    ssl: {{enabled: true, endpoints: [{endpoint_of(instance_id)}], certificate: {{source: aliyun}}}}",
        ]
    write_spec(spec_dir, "\n".join(lines) + "\n")
    cloud_env.admin.clear_calls()
    return cloud_env


def read_ids(emulator: RunningEmulator) -> set[str]:
    return {c["instance_id"] for c in emulator.admin.calls() if c["action"] != "DescribeDBInstances"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--region", "cn-shanghai"], ["pgm-b", "pgm-c"]),
        (["--select", "labels.team=x"], ["pgm-a", "pgm-b"]),
        (["--region", "cn-shanghai", "--select", "labels.team=x"], ["pgm-b"]),
        (["--select", "id=pgm-[ac]"], ["pgm-a", "pgm-c"]),
    ],
)
def test_plan_reads_and_shows_only_the_selection(
    cli: Cli, three: RunningEmulator, spec_dir: Path, args: list[str], expected: list[str]
) -> None:
    result = cli("plan", str(spec_dir), *args, "--format", "json")
    assert result.code == 0, result.text
    document = json.loads(result.out)
    assert [i["id"] for i in document["instances"]] == expected
    assert document["summary"]["change"] == len(expected)
    assert read_ids(three) == set(expected)
    regions = {"pgm-a": "cn-hangzhou", "pgm-b": "cn-shanghai", "pgm-c": "cn-shanghai"}
    assert {c["region_id"] for c in three.admin.calls()} - {None} == {regions[i] for i in expected}


def test_a_selection_of_nothing_is_an_error_before_any_call(cli: Cli, three: RunningEmulator, spec_dir: Path) -> None:
    result = cli("plan", str(spec_dir), "--region", "eu-central-1")
    assert result.code == 1
    assert "--region eu-central-1: selects none of the 3 declared instance(s)" in result.err
    assert three.admin.calls() == []


def test_saved_plan_keeps_its_selection_for_show_and_apply(
    cli: Cli, three: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan-sh.json"
    made = cli("plan", str(spec_dir), "--region", "cn-shanghai", "--out", str(out), cwd=tmp_path)
    assert made.code == 0, made.text
    saved = json.loads(out.read_text())
    assert saved["origin"]["selection"] == {"regions": ["cn-shanghai"], "select": []}
    assert sorted(saved["desired"]) == ["pgm-b", "pgm-c"]
    shown = cli("show", str(out), "--format", "json")
    assert [i["id"] for i in json.loads(shown.out)["instances"]] == ["pgm-b", "pgm-c"]
    # The reviewer of the artifact is told which selection apply will act on (stdout stays the plan).
    assert "was made with --region cn-shanghai: 'apply' of it reads and changes only" in shown.err
    assert "--region" not in shown.out
    assert "was made with" in cli("show", str(out)).err
    unselected = tmp_path / "plan-all.json"
    assert cli("plan", str(spec_dir), "--out", str(unselected), cwd=tmp_path).code == 0
    assert "was made with" not in cli("show", str(unselected)).err
    refused = cli("apply", str(out), "--region", "cn-hangzhou", cwd=tmp_path)
    assert refused.code == 1
    assert "a saved plan applies the selection it was made with" in refused.err
    three.admin.clear_calls()
    applied = cli("apply", str(out), "--poll-interval", "0.05", cwd=tmp_path)
    assert applied.code == 0, applied.text
    assert sorted(c["instance_id"] for c in three.admin.calls(action="ModifyDBInstanceSSL")) == ["pgm-b", "pgm-c"]
    assert "pgm-a" not in read_ids(three)
    after = cli("plan", str(spec_dir), "--format", "json")
    statuses = {i["id"]: i["status"] for i in json.loads(after.out)["instances"]}
    assert statuses == {"pgm-a": "change", "pgm-b": "in_sync", "pgm-c": "in_sync"}


def test_apply_with_selectors_changes_only_the_selection(cli: Cli, three: RunningEmulator, spec_dir: Path) -> None:
    result = cli("apply", str(spec_dir), "--select", "labels.team=y", "--auto-approve", "--poll-interval", "0.05")
    assert result.code == 0, result.text
    assert [c["instance_id"] for c in three.admin.calls(action="ModifyDBInstanceSSL")] == ["pgm-c"]
    assert read_ids(three) == {"pgm-c"}
