"""``--target ID`` on plan and apply filters everything that is shown and done (issue 10)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rdsssl_reconcile.emulator import RunningEmulator
from tests.e2e.conftest import CliResult, aliyun_spec, instance_entry, write_spec

pytestmark = pytest.mark.e2e
Cli = Callable[..., CliResult]


@pytest.fixture
def two(cloud_env: RunningEmulator, spec_dir: Path) -> RunningEmulator:
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b"))
    cloud_env.admin.clear_calls()
    return cloud_env


def test_plan_target_shows_and_reads_only_the_target(cli: Cli, two: RunningEmulator, spec_dir: Path) -> None:
    result = cli("plan", str(spec_dir), "--target", "pgm-a", "--format", "json")
    assert result.code == 0, result.text
    assert [i["id"] for i in json.loads(result.out)["instances"]] == ["pgm-a"]
    read = {c["instance_id"] for c in two.admin.calls() if c["action"] != "DescribeDBInstances"}
    assert read == {"pgm-a"}
    text = cli("plan", str(spec_dir), "--target", "pgm-b")
    assert "pgm-b" in text.out
    assert "pgm-a" not in text.out
    assert "Plan: 1 to change" in text.out


def test_apply_target_prints_and_changes_only_the_target(cli: Cli, two: RunningEmulator, spec_dir: Path) -> None:
    result = cli("apply", str(spec_dir), "--target", "pgm-b", "--auto-approve", "--poll-interval", "0.05")
    assert result.code == 0, result.text
    assert "pgm-a" not in result.out
    assert [c["instance_id"] for c in two.admin.calls(action="ModifyDBInstanceSSL")] == ["pgm-b"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "pgm-nope"], "--target pgm-nope: not declared in the specs (declared: pgm-a, pgm-b)"),
        (["--target", "pgm-a", "--out", "plan.json"], "--target cannot be combined with --out"),
    ],
    ids=["undeclared", "with-out"],
)
def test_plan_target_mistakes_are_refused_before_any_call(
    cli: Cli, two: RunningEmulator, spec_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli("plan", str(spec_dir), *args, cwd=tmp_path)
    assert result.code == 1, result.text
    assert message in result.err
    assert two.admin.calls() == []
