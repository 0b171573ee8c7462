"""The exit-code rule end to end (README "Exit codes"): one row per kind of instance, for ``plan``,
``plan --detailed-exitcode`` and ``apply``, through the official SDK against the emulator.

Each row sets up one world (instances, faults, spec), then runs the three commands in that order (apply
last: it may change the world). A row's codes are what a CI gate sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.emulator import RunningEmulator
from tests.e2e.conftest import CliResult, aliyun_spec, instance_entry, write_spec

pytestmark = pytest.mark.e2e
Cli = Callable[..., CliResult]
FAST = ("--auto-approve", "--poll-interval", "0.05")


def ssl_off_spec(*ids: str) -> str:
    return "instances:\n" + "".join(f"  - {{id: {i}, region: cn-hangzhou, ssl: {{enabled: false}}}}\n" for i in ids)


@dataclass(frozen=True)
class Row:
    name: str
    instances: list[dict[str, Any]]
    spec: str
    #: exit codes of plan, plan --detailed-exitcode, apply
    codes: tuple[int, int, int]
    faults: list[dict[str, Any]] = field(default_factory=list)
    #: text the apply run must print (stdout or stderr)
    apply_says: str = ""


ROWS = [
    Row("in sync", [instance_entry("pgm-a")], ssl_off_spec("pgm-a"), (0, 0, 0), apply_says="No changes."),
    Row("pending", [instance_entry("pgm-a")], aliyun_spec("pgm-a"), (0, 2, 0), apply_says="pgm-a  applied"),
    Row(
        "not running (mid-restart)",
        [instance_entry("pgm-a", status="Restarting")],
        aliyun_spec("pgm-a"),
        (0, 2, 3),
        apply_says="pgm-a: status is Restarting, not Running",
    ),
    Row(
        "locked",
        [instance_entry("pgm-a", lock_mode="LockByExpiration")],
        aliyun_spec("pgm-a"),
        (0, 2, 3),
        apply_says="pgm-a: instance is locked (LockByExpiration)",
    ),
    Row("not found", [], aliyun_spec("pgm-does-not-exist"), (1, 1, 1), apply_says="pgm-does-not-exist: not found"),
    Row(
        "read error (503)",
        [instance_entry("pgm-a")],
        aliyun_spec("pgm-a"),
        (1, 1, 1),
        faults=[{"kind": "error", "action": "DescribeDBInstanceSSL", "instance_id": "pgm-a", "status": 503}],
        apply_says="pgm-a: DescribeDBInstanceSSL failed: ServiceUnavailable",
    ),
    Row(
        "unsatisfiable: SSL on a Serverless instance",
        [instance_entry("pgm-a", pay_type="Serverless")],
        aliyun_spec("pgm-a"),
        (1, 1, 1),
        apply_says="pgm-a: can never satisfy its spec: Serverless instance",
    ),
    Row(
        "unsatisfiable: SSL on local disks",
        [instance_entry("pgm-a", storage_type="local_ssd")],
        aliyun_spec("pgm-a"),
        (1, 1, 1),
        apply_says="pgm-a: can never satisfy its spec: storage is local_ssd",
    ),
    Row(
        "SSL declared off on a Serverless instance",
        [instance_entry("pgm-a", pay_type="Serverless")],
        ssl_off_spec("pgm-a"),
        (0, 0, 0),
        apply_says="No changes.",
    ),
    Row(
        "pending beside not found: the error wins, the change is still applied",
        [instance_entry("pgm-a")],
        aliyun_spec("pgm-a", "pgm-does-not-exist"),
        (1, 1, 1),
        apply_says="pgm-a               applied",
    ),
    Row(
        "pending beside not running",
        [instance_entry("pgm-a"), instance_entry("pgm-b", status="Restarting")],
        aliyun_spec("pgm-a", "pgm-b"),
        (0, 2, 3),
        apply_says="pgm-a  applied",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_exit_code_rule(row: Row, cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path) -> None:
    if row.instances:
        cloud_env.admin.add_instances(row.instances)
    for fault in row.faults:
        cloud_env.admin.add_fault(**fault)
    write_spec(spec_dir, row.spec)
    plan = cli("plan", str(spec_dir))
    detailed = cli("plan", str(spec_dir), "--detailed-exitcode")
    applied = cli("apply", str(spec_dir), *FAST, "--audit-log", str(tmp_path / "audit.jsonl"))
    assert (plan.code, detailed.code, applied.code) == row.codes, "\n".join((plan.text, detailed.text, applied.text))
    assert row.apply_says in applied.text, applied.text
    assert "Traceback" not in plan.text + detailed.text + applied.text


def test_the_issues_example_fails_the_gate(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    """A typo'd id, an instance that can never carry SSL and one mid-restart: exit 1, and the Markdown
    comment leads with a CAUTION banner naming them, never "No instance restarts"."""
    cloud_env.admin.add_instances(
        [
            instance_entry("pgm-local", storage_type="local_ssd"),
            instance_entry("pgm-busy", status="Restarting"),
            instance_entry("pgm-ok"),
        ]
    )
    write_spec(spec_dir, aliyun_spec("pgm-does-not-exist", "pgm-local", "pgm-busy", "pgm-ok"))
    out = spec_dir.parent / "saved" / "plan.json"
    result = cli("plan", str(spec_dir), "--detailed-exitcode", "--format", "markdown", "--out", str(out))
    assert result.code == 1, result.text
    lines = result.out.splitlines()
    assert lines[0] == "### rdsssl-reconcile plan"
    assert lines[2:4] == [
        "> [!CAUTION]",
        "> **2 instances cannot be planned or can never satisfy their spec** (the plan fails: exit code 1):",
    ]
    assert lines[4] == "> - `pgm-does-not-exist`: not found"
    assert lines[5].startswith("> - `pgm-local`: can never satisfy its spec: storage is local_ssd")
    assert "> **1 instance will restart (~3 min):** `pgm-ok`" in result.out
    assert "> **1 instance cannot be planned now** (not Running, or locked; plan again later): `pgm-busy`" in (
        result.out
    )
    assert "No instance restarts" not in result.out
    # The CI log says why the step fails, whatever the format.
    assert (
        "Error: 2 instance(s) cannot be planned or can never satisfy their spec:\n"
        "  - pgm-does-not-exist: not found\n"
        "  - pgm-local: can never satisfy its spec: storage is local_ssd"
    ) in result.err
    # As terraform: a plan with errors is shown but never saved, so nothing can apply it.
    assert not out.exists()
    assert f"Error: the plan has errors, so it was not saved to {out}" in result.err
    # Over a small budget the details go, the banners stay, and the note says how to get the full plan
    # (not the file, which was not saved).
    small = cli("plan", str(spec_dir), "--format", "markdown", "--out", str(out), "--max-bytes", "2000")
    assert small.code == 1, small.text
    assert len(small.out.encode()) <= 2000
    assert "> [!CAUTION]" in small.out
    assert "<details>" not in small.out
    assert "The full plan: run `rdsssl-reconcile plan` (text)" in small.out
    assert not out.exists()
    bad = cli("plan", str(spec_dir), "--format", "markdown", "--max-bytes", "10")
    assert bad.code == 1
    assert "--max-bytes" in bad.err
    assert "10 is not in the range 1024<=x<=100000000" in bad.err
