"""Apply progress as a CI log and a pipeline see it (no terminal): heartbeats, timestamps, JSON lines.

Acceptance 3 of issue 10 at a smaller scale: the reporter's schedule is proven for a 60 s restart and
sparse polls on a fake clock (tests/apply/test_progress.py); here a real 5 s emulated restart, polled
only twice (``--poll-interval 4``), must show a heartbeat at least every interval plus slack, with the
interval lowered to 1 s (the hidden ``--heartbeat-interval``) to keep the suite fast.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.apply.progress import approximate
from rdsssl_reconcile.emulator import RunningEmulator
from tests.e2e.conftest import CliResult, aliyun_spec, instance_entry, write_spec

pytestmark = pytest.mark.e2e
Cli = Callable[..., CliResult]
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) ")
INSTANCE_KEYS = {"time", "event", "instance", "phase", "detail", "elapsed_seconds", "expected_seconds", "outcome"}


def _at(line: str) -> datetime:
    match = STAMP.match(line)
    assert match, f"no timestamp: {line!r}"
    return datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _estimate(cli: Cli, spec_dir: Path, instance_id: str) -> int:
    plan = json.loads(cli("plan", str(spec_dir), "--format", "json").out)
    [item] = [i for i in plan["instances"] if i["id"] == instance_id]
    return int(item["restart_detail"]["estimated_seconds"])


def test_a_restart_in_a_ci_log_beats_steadily_between_sparse_polls(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-later")])
    cloud_env.admin.settings(restart_seconds=5.0)
    write_spec(spec_dir, aliyun_spec("pgm-a"), name="a.yaml")
    write_spec(spec_dir, aliyun_spec("pgm-later", policy="{restart: never}"), name="later.yaml")
    estimate = _estimate(cli, spec_dir, "pgm-a")
    result = cli(
        "apply", str(spec_dir), "--auto-approve", "--poll-interval", "4", "--heartbeat-interval", "1",
        "--audit-log", str(tmp_path / "audit.jsonl"),
    )  # fmt: skip
    assert result.code == 3, result.text  # pgm-later is deferred
    lines = result.err.splitlines()
    times = [_at(line) for line in lines]  # every line is timestamped
    assert times == sorted(times)
    own = [(at, line) for at, line in zip(times, lines, strict=True) if " pgm-a: " in line]
    beats = [(at, line) for at, line in own if "still restarting..." in line]
    assert len(beats) >= 3, result.err
    assert all(line.endswith(f" elapsed, ~{approximate(estimate)} expected]") for _, line in beats), beats
    # From the first "restarting" line to the result, never more than the interval plus slack without a line.
    start = next(at for at, line in own if ": restarting: " in line)
    end = next(at for at, line in own if ": applied: " in line)
    marks = [start, *(at for at, _ in beats), end]
    assert max((b - a).total_seconds() for a, b in itertools.pairwise(marks)) <= 3, result.err
    # The deferral is said once, by its result line.
    assert sum(": deferred: " in line for line in lines) == 1, result.err


def _records(err: str) -> list[dict[str, Any]]:
    assert err.endswith("\n"), err
    return [json.loads(line) for line in err.splitlines()]  # every line is one JSON object


def test_json_progress_is_json_on_every_line_retries_included(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b"))
    estimates = {i: _estimate(cli, spec_dir, i) for i in ("pgm-a", "pgm-b")}
    cloud_env.admin.add_fault(kind="error", action="DescribeDBInstanceSSL", count=1)
    result = cli(
        "apply", str(spec_dir), "--auto-approve", "--poll-interval", "0.05", "--progress", "json",
        "--format", "json", "--audit-log", str(tmp_path / "audit.jsonl"),
    )  # fmt: skip
    assert result.code == 0, result.text
    assert json.loads(result.out)["summary"]["applied"] == 2  # stdout: the result document, unchanged
    records = _records(result.err)
    assert result.err.isascii()
    events = [r["event"] for r in records]
    assert events[0] == "retry", events  # from the very first line, planning's retries included
    assert records[0]["code"] == "ServiceUnavailable"
    assert records[0]["action"] == "DescribeDBInstanceSSL"
    assert records[0]["attempt"] == 2  # the first retry is the second attempt
    for record in records:
        _at(f"{record['time']} ")
        if record["event"] in ("phase", "heartbeat", "finished"):
            assert set(record) == INSTANCE_KEYS, record
    finished = {r["instance"]: r for r in records if r["event"] == "finished"}
    assert {i: r["outcome"] for i, r in finished.items()} == {"pgm-a": "applied", "pgm-b": "applied"}
    restarting = [r for r in records if r["event"] == "phase" and r["phase"] == "restarting"]
    assert {r["instance"] for r in restarting} == {"pgm-a", "pgm-b"}
    assert all(r["expected_seconds"] == estimates[r["instance"]] for r in restarting)


def test_json_progress_ends_with_a_json_error(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    result = cli("apply", str(spec_dir), "--auto-approve", "--progress", "json", "--target", "pgm-typo")
    assert result.code == 1, result.text
    [error] = _records(result.err)
    assert error["event"] == "error"
    assert error["message"].startswith("--target pgm-typo: not declared in the specs")
