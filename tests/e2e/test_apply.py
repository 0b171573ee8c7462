"""``apply`` through the official SDK against the emulator (issue: apply exactly what was planned)."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.apply.audit import read_audit_log
from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
from tests.e2e.conftest import (
    CliResult,
    Pki,
    aliyun_spec,
    assert_no_key_material,
    endpoint_of,
    instance_entry,
    write_spec,
)

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
FAST = ("--auto-approve", "--poll-interval", "0.05")

Cli = Callable[..., CliResult]


def modifies(emulator: RunningEmulator, instance_id: str | None = None) -> list[dict[str, Any]]:
    return emulator.admin.calls(action="ModifyDBInstanceSSL", instance_id=instance_id)


def accepted(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return [c for c in modifies(emulator) if c["outcome"] == "ok"]


def test_demo_specs_converge_with_one_modify_per_changed_instance(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The demo, read-only replica included: planned, applied, in sync, with the documented request."""
    shutil.copytree(REPO / "specs", tmp_path / "specs", ignore=shutil.ignore_patterns(".state"))
    fleet = REPO / "specs" / "_emulator-fleet.yaml"
    with run_emulator(fleet=fleet, restart_seconds=0.2, readonly_ssl_supported=True) as emulator:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
        planned = json.loads(
            cli("plan", "specs", "--endpoint", emulator.endpoint, "--format", "json", cwd=tmp_path).out
        )
        changed = {i["id"] for i in planned["instances"] if i["status"] == "change"}
        assert changed == {"pgm-demo-orders", "pgm-demo-orders-ro"}
        emulator.admin.clear_calls()
        result = cli(
            "apply", "specs", "--endpoint", emulator.endpoint, *FAST, "--audit-log", str(tmp_path / "audit.jsonl")
        )
        assert result.code == 0, result.text
        assert "pgm-demo-orders     applied" in result.out
        assert "pgm-demo-orders-ro  applied" in result.out
        calls = modifies(emulator)
        assert sorted(c["instance_id"] for c in calls) == ["pgm-demo-orders", "pgm-demo-orders-ro"]
        (replica,) = [c for c in calls if c["instance_id"] == "pgm-demo-orders-ro"]
        # Enabling SSL with the cloud certificate ("Configure SSL encryption for an ApsaraDB RDS for
        # PostgreSQL instance"; the API page "ModifyDBInstanceSSL"), sent to the replica itself.
        assert replica["outcome"] == "ok"
        assert {
            "DBInstanceId": "pgm-demo-orders-ro",
            "ConnectionString": "pgm-demo-orders-ro.pg.rds.aliyuncs.com",
            "SSLEnabled": "1",
            "CAType": "aliyun",
        }.items() <= replica["params"].items()
        again = cli("plan", "specs", "--endpoint", emulator.endpoint, "--detailed-exitcode")
        assert again.code == 0, again.text
        assert "Plan: 0 to change, 0 restarts, 4 in sync, 2 ineligible." in again.out
        assert "= pgm-demo-orders-ro (cn-hangzhou): in sync - SSL on with the cloud certificate" in again.out
        log = read_audit_log(tmp_path / "audit.jsonl")
        assert log.complete, log.torn
        assert log.records[0]["kind"] == "run_started"
        audit = list(log.records[1:])
        for instance_id in ("pgm-demo-orders", "pgm-demo-orders-ro"):
            mine = [a for a in audit if a["instance"] == instance_id]
            # A "sending" record before the request, its outcome after it, then the result.
            assert [(a["kind"], a["outcome"]) for a in mine] == [
                ("call", "sending"),
                ("call", "accepted"),
                ("result", "applied"),
            ]
            (call,) = [c for c in calls if c["instance_id"] == instance_id]
            assert mine[1]["request_id"] == call["request_id"]
            assert (
                mine[0]["fields_changed"]
                == mine[1]["fields_changed"]
                == [
                    "ssl.enabled",
                    "ssl.endpoints",
                    "ssl.certificate",
                ]
            )


def test_without_terminal_or_auto_approve_apply_refuses(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    result = cli("apply", str(spec_dir))
    assert result.code == 1
    assert "apply needs confirmation" in result.err
    assert modifies(cloud_env) == []


def test_saved_plan_refused_when_live_state_moved(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b"))
    plan_file = tmp_path / "reviewed.plan"
    assert cli("plan", str(spec_dir), "--out", str(plan_file)).code == 0
    # Behind the tool's back: someone enables SSL on pgm-b with the cloud certificate for another endpoint.
    cloud_env.admin.add_instances([])
    cloud_env.admin.set_instance("pgm-b", ssl={"enabled": True, "ca_type": "aliyun", "endpoint": endpoint_of("pgm-b")})
    cloud_env.admin.clear_calls()
    result = cli("apply", str(plan_file), "--poll-interval", "0.05")
    assert result.code == 1, result.text
    assert "the saved plan is stale; nothing was changed" in result.err
    # pgm-b now has exactly what the plan would have done: said as such, not as a list of fields.
    assert "pgm-b: this part of the plan has already been applied (pgm-b is now in sync)" in result.err
    assert "pgm-a" not in result.err.split("stale", 1)[1]
    assert modifies(cloud_env) == []


def test_saved_plan_refused_when_spec_changed(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    plan_file = tmp_path / "reviewed.plan"
    assert cli("plan", str(spec_dir), "--out", str(plan_file)).code == 0
    write_spec(spec_dir, aliyun_spec("pgm-a", policy="{restart: never}"))
    cloud_env.admin.clear_calls()
    result = cli("apply", str(plan_file))
    assert result.code == 1
    assert "pgm-a: the file says desired.policy.restart: allowed; the spec now says never" in result.err
    assert modifies(cloud_env) == []


def test_saved_plan_whose_reviewed_content_was_edited_is_refused(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    # The digests still match, but what a reviewer reads was edited: "no restart", a harmless-looking
    # change, another tool version. What was shown must be what is done.
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    plan_file = tmp_path / "reviewed.plan"
    assert cli("plan", str(spec_dir), "--out", str(plan_file)).code == 0
    saved = json.loads(plan_file.read_text())
    (item,) = saved["instances"]
    item["restart"] = "not_required"
    item["changes"][0]["after"] = "nothing"
    saved["tool_version"] = "9.9.9"
    plan_file.write_text(json.dumps(saved))
    cloud_env.admin.clear_calls()
    result = cli("apply", str(plan_file))
    assert result.code == 1, result.text
    assert "the plan was made by rdsssl-reconcile 9.9.9, this is" in result.err
    assert "pgm-a: the file says restart: not_required; the plan now says required" in result.err
    assert "pgm-a: the file says changes[ssl.enabled].after: nothing; the plan now says true" in result.err
    assert modifies(cloud_env) == []


def test_saved_plan_applies_when_nothing_moved(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b"))
    plan_file = tmp_path / "reviewed.plan"
    assert cli("plan", str(spec_dir), "--out", str(plan_file)).code == 0
    saved = json.loads(plan_file.read_text())
    assert saved["kind"] == "rdsssl-reconcile/saved-plan"
    result = cli("apply", str(plan_file), "--poll-interval", "0.05", "--max-restarts", "2")
    assert result.code == 0, result.text
    assert sorted(c["instance_id"] for c in accepted(cloud_env)) == ["pgm-a", "pgm-b"]


# -- policy ----------------------------------------------------------------------------------------


def test_policy_never_defers_unless_allowed(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b", policy="{restart: never}"))
    result = cli("apply", str(spec_dir), *FAST)
    assert result.code == 3
    assert "pgm-a  deferred" in result.out
    assert (
        "policy restart: never; the change restarts the instance (~3 min). Re-run with --allow-restart pgm-a"
        in result.out
    )
    assert modifies(cloud_env) == []
    result = cli("apply", str(spec_dir), *FAST, "--allow-restart", "pgm-b")
    assert result.code == 3
    assert [c["instance_id"] for c in modifies(cloud_env)] == ["pgm-b"]
    assert "pgm-b  applied" in result.out


def test_policy_window(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a", policy='{restart: window, window: "sat 02:00-04:00"}'))
    outside = "2026-11-27T10:00:00Z"  # a Friday
    result = cli("apply", str(spec_dir), *FAST, "--now", outside)
    assert result.code == 3
    assert "outside maintenance window sat 02:00-04:00 UTC; next opening 2026-11-28 02:00 UTC" in result.out
    assert modifies(cloud_env) == []
    too_late = "2026-11-28T03:58:00Z"  # inside, but a ~3 min restart would overrun the window
    result = cli("apply", str(spec_dir), *FAST, "--now", too_late)
    assert result.code == 3
    assert "too soon for a ~3 min restart; next opening 2026-12-05 02:00 UTC" in result.out
    inside = "2026-11-28T02:30:00Z"
    result = cli("apply", str(spec_dir), *FAST, "--now", inside)
    assert result.code == 0, result.text
    assert len(accepted(cloud_env)) == 1


def test_target_applies_a_subset(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b"))
    result = cli("apply", str(spec_dir), *FAST, "--target", "pgm-b")
    assert result.code == 0, result.text
    assert [c["instance_id"] for c in modifies(cloud_env)] == ["pgm-b"]
    cloud_env.admin.clear_calls()
    for option in ("--target", "--allow-restart"):
        typo = cli("apply", str(spec_dir), *FAST, option, "pgm-zzz")
        assert typo.code == 1, typo.text
        assert f"{option} pgm-zzz: not declared in the specs (declared: pgm-a, pgm-b)" in typo.err
    # Refused before the first cloud call, not after reading the fleet.
    assert cloud_env.admin.calls() == []


# -- faults ----------------------------------------------------------------------------------------


def test_throttling_and_busy_are_retried_but_an_ambiguous_answer_is_never_resent(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    ids = ["pgm-t", "pgm-s", "pgm-b", "pgm-d"]
    cloud_env.admin.add_instances([instance_entry(i) for i in ids])
    write_spec(spec_dir, aliyun_spec(*ids))
    cloud_env.admin.add_fault(
        kind="throttle", action="ModifyDBInstanceSSL", instance_id="pgm-t", count=3, retry_after_ms=20
    )
    # A 503 before the server acted: nothing proves it will not still act, so it is never sent again.
    cloud_env.admin.add_fault(
        kind="error", action="ModifyDBInstanceSSL", instance_id="pgm-s", count=2, status=503, code="ServiceUnavailable"
    )
    cloud_env.admin.add_fault(
        kind="error",
        action="ModifyDBInstanceSSL",
        instance_id="pgm-b",
        count=2,
        status=403,
        code="IncorrectDBInstanceState",
    )
    # The worst case for a non-idempotent call: accepted, but the response never arrives.
    cloud_env.admin.add_fault(kind="drop", action="ModifyDBInstanceSSL", instance_id="pgm-d", count=1, phase="after")
    audit_log = tmp_path / "audit.jsonl"
    result = cli(
        "apply", str(spec_dir), *FAST, "--max-restarts", "4", "--instance-timeout", "3", "--audit-log", str(audit_log)
    )
    assert result.code == 3, result.text
    for instance_id in ("pgm-t", "pgm-b", "pgm-d"):
        assert f"{instance_id}  applied" in result.out
    assert "pgm-s  unknown" in result.out
    assert "ModifyDBInstanceSSL answered ServiceUnavailable" in result.out
    assert "it may still be carried out, so it was not sent again" in result.out
    assert "Run 'plan' again in a few minutes" in result.out
    # Exactly one accepted change per changed instance: the dropped one was recognised, not sent twice,
    # and the 503 was sent once only.
    assert sorted(m["instance_id"] for m in cloud_env.admin.modifications()) == ["pgm-b", "pgm-d", "pgm-t"]
    assert len(modifies(cloud_env, "pgm-s")) == 1
    assert "over 4 restarts (1 unconfirmed: sent, but not seen to start)" in result.out
    # Every attempt is audited: "sending" before it, its answer after it, throttled ones included.
    audit = [json.loads(line) for line in audit_log.read_text().splitlines()]
    throttled = [a["outcome"] for a in audit if a["kind"] == "call" and a["instance"] == "pgm-t"]
    assert throttled == ["sending", "throttled:Throttling.User"] * 3 + ["sending", "accepted"]
    results = {a["instance"]: a["outcome"] for a in audit if a["kind"] == "result"}
    assert results == {"pgm-t": "applied", "pgm-s": "unknown", "pgm-b": "applied", "pgm-d": "applied"}
    # Re-planned before every send: a fresh read of pgm-t between each throttled answer and the next attempt.
    sequence = [c["action"] for c in cloud_env.admin.calls(instance_id="pgm-t")]
    first = sequence.index("ModifyDBInstanceSSL")
    attempts = [i for i, action in enumerate(sequence) if action == "ModifyDBInstanceSSL"]
    assert len(attempts) == 4
    for before, after in itertools.pairwise(attempts):
        assert "DescribeDBInstanceSSL" in sequence[before + 1 : after], sequence[first:]


def test_failed_and_hanging_modifies_are_reported_while_others_proceed(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry(i) for i in ("pgm-ok", "pgm-fail", "pgm-hang")])
    write_spec(spec_dir, aliyun_spec("pgm-fail", "pgm-hang", "pgm-ok"))
    cloud_env.admin.add_fault(kind="fail", action="ModifyDBInstanceSSL", instance_id="pgm-fail")
    cloud_env.admin.add_fault(kind="hang", action="ModifyDBInstanceSSL", instance_id="pgm-hang")
    result = cli("apply", str(spec_dir), *FAST, "--max-restarts", "3", "--instance-timeout", "3")
    assert result.code == 3, result.text
    assert "pgm-ok    applied" in result.out
    assert "pgm-fail  failed" in result.out
    assert "the change failed (LastModifyStatus failed" in result.out
    # Accepted and never seen to end: where it ends is unknown, not a failure.
    assert "pgm-hang  unknown" in result.out
    assert "timed out after 0:03 with the change in flight; last seen: SSL_MODIFYING, LastModifyStatus setting" in (
        result.out
    )


def test_success_without_the_change_is_not_converged(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    # The failure peer tools miss: the instance restarts, reports success, and still has the old configuration.
    cloud_env.admin.add_instances([instance_entry(i) for i in ("pgm-ok", "pgm-ignored")])
    write_spec(spec_dir, aliyun_spec("pgm-ignored", "pgm-ok"))
    cloud_env.admin.add_fault(kind="ignore", action="ModifyDBInstanceSSL", instance_id="pgm-ignored")
    result = cli("apply", str(spec_dir), *FAST, "--max-restarts", "2")
    assert result.code == 3, result.text
    assert "pgm-ok       applied" in result.out
    assert "pgm-ignored  not_converged" in result.out
    assert "the instance reported success, but re-reading it shows change: ssl.enabled: false -> true" in result.out
    assert cloud_env.admin.instance("pgm-ignored")["last_modify_status"] == "success"
    # The live state is the only state: the next plan still shows the change.
    replan = cli("plan", str(spec_dir), "--detailed-exitcode")
    assert replan.code == 2, replan.text
    assert "~ pgm-ignored (cn-hangzhou) will be changed" in replan.out
    assert "Plan: 1 to change" in replan.out


def test_max_restarts_bounds_concurrent_restarts(cli: Cli, spec_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [f"pgm-m{i}" for i in range(10)]
    # 1.5 s restarts: five rounds of two leave 4.5 s for re-reads, re-plans and polls under a loaded CI
    # machine before the span could reach 8 restarts (one at a time would take at least 10).
    restart = 1.5
    with run_emulator(fleet={"instances": [instance_entry(i) for i in ids]}, restart_seconds=restart) as emulator:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
        write_spec(spec_dir, aliyun_spec(*ids))
        result = cli("apply", str(spec_dir), "--endpoint", emulator.endpoint, *FAST, "--max-restarts", "2")
        assert result.code == 0, result.text
        intervals: list[tuple[datetime, datetime]] = [
            (m["accepted_at"], m["finished_at"]) for m in emulator.admin.modifications()
        ]
    assert len(intervals) == 10
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    busy = peak = 0
    for _, delta in events:
        busy += delta
        peak = max(peak, busy)
    assert peak == 2
    span = (max(end for _, end in intervals) - min(start for start, _ in intervals)).total_seconds()
    # Two at a time: at least 5 restart durations, and far from the 10 of one-at-a-time.
    assert 5 * restart <= span < 8 * restart


def _ctrl_c_as_at_a_terminal() -> None:
    """Give the child the default SIGINT disposition, whatever the test runner inherited.

    A job started in the background by a non-interactive shell runs with SIGINT ignored, and a Python
    started that way keeps ignoring it: the Ctrl-C these tests send would never arrive.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_stops_new_changes_and_reports_in_flight(emulator: RunningEmulator, tmp_path: Path) -> None:
    ids = ["pgm-i1", "pgm-i2", "pgm-i3"]
    emulator.admin.settings(restart_seconds=2.0)
    emulator.admin.add_instances([instance_entry(i) for i in ids])
    write_spec(tmp_path / "specs", aliyun_spec(*ids))
    env = {
        **os.environ,
        "RDSSSL_ENDPOINT": emulator.endpoint,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": emulator.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": emulator.access_key_secret,
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "rdsssl_reconcile", "apply", *FAST],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_as_at_a_terminal,
    )
    deadline = time.monotonic() + 30
    while not emulator.admin.modifications() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emulator.admin.modifications(), "the apply never submitted a change"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    in_flight = emulator.admin.modifications()[0]["instance_id"]
    assert f"{in_flight}  applied" in out  # waited for, and proven
    assert len(re.findall(r"^pgm-i\d\s+not_submitted\s", out, flags=re.MULTILINE)) == 2
    assert "interrupted before submitting: not changed" in out
    assert "Interrupted: instances not submitted were left unchanged" in out
    assert len(emulator.admin.modifications()) == 1
    plan = subprocess.run(
        [sys.executable, "-m", "rdsssl_reconcile", "plan", "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    remaining = {i["id"] for i in json.loads(plan.stdout)["instances"] if i["status"] == "change"}
    assert remaining == set(ids) - {in_flight}


def test_second_sigint_reports_the_in_flight_change_unknown(emulator: RunningEmulator, tmp_path: Path) -> None:
    # Acceptance 5 of issue 8: the second Ctrl-C stops waiting; the change it leaves in flight is
    # "unknown, last seen restarting", never "failed" (it goes on to succeed).
    emulator.admin.settings(restart_seconds=3.0)
    emulator.admin.add_instances([instance_entry("pgm-i1")])
    write_spec(tmp_path / "specs", aliyun_spec("pgm-i1"))
    audit = tmp_path / "audit.jsonl"
    env = {
        **os.environ,
        "RDSSSL_ENDPOINT": emulator.endpoint,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": emulator.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": emulator.access_key_secret,
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "rdsssl_reconcile", "apply", *FAST, "--audit-log", str(audit)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_as_at_a_terminal,
    )
    deadline = time.monotonic() + 30
    while not emulator.admin.modifications() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emulator.admin.modifications(), "the apply never submitted a change"
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert emulator.admin.instance("pgm-i1")["pending"] is not None, "the restart ended before the second Ctrl-C"
    assert re.search(r"^pgm-i1\s+unknown\s", out, flags=re.MULTILINE), out
    assert "interrupted while the change was in flight; last seen: SSL_MODIFYING, LastModifyStatus setting" in out
    assert "over 1 restart." in out
    results = [json.loads(line) for line in audit.read_text().splitlines() if '"result"' in line]
    assert [(r["instance"], r["outcome"]) for r in results] == [("pgm-i1", "unknown")]
    # The live state is the only state: once the restart is over, the instance is in sync.
    deadline = time.monotonic() + 30
    while emulator.admin.instance("pgm-i1")["pending"] is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    plan = subprocess.run(
        [sys.executable, "-m", "rdsssl_reconcile", "plan", "--detailed-exitcode"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "= pgm-i1 (cn-hangzhou): in sync" in plan.stdout
    assert len(emulator.admin.modifications()) == 1


# -- secrets -----------------------------------------------------------------------------------------


def test_no_private_key_in_apply_output_progress_or_audit_log(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    server = pki.server(endpoint_of("pgm-a"))
    (spec_dir / "server.crt").write_text(server.cert_pem())
    monkeypatch.setenv("SERVER_KEY", server.key_pem())
    (spec_dir / "ca.crt").write_text(pki.ca.cert_pem())
    monkeypatch.setenv("CA_KEY", pki.ca.key_pem())
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-a
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{endpoint_of("pgm-a")}]
              certificate: {{source: custom, cert: {{file: server.crt}}, key: {{env: SERVER_KEY}}}}
          - id: pgm-b
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{endpoint_of("pgm-b")}]
              certificate: {{source: issuer, ca_cert: {{file: ca.crt}}, ca_key: {{env: CA_KEY}}}}
        """,
    )
    audit = tmp_path / "audit.jsonl"
    texts = []
    for output_format in ("text", "json"):
        result = cli(
            "apply", str(spec_dir), *FAST, "--max-restarts", "2", "--audit-log", str(audit), "--format", output_format
        )
        assert result.code == 0, result.text
        texts += [result.out, result.err]
    issued_key_body = cloud_env.admin.instance("pgm-b")  # the emulator's own state view is redacted too
    everything = "\n".join(texts) + audit.read_text() + json.dumps(issued_key_body)
    assert_no_key_material(everything, server.key_pem(), pki.ca.key_pem())
    assert "submitted: request id" in texts[1]  # progress lines were produced and checked


def test_issuer_export_dir_writes_key_0600(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    (spec_dir / "ca.crt").write_text(pki.ca.cert_pem())
    (spec_dir / "ca.key").write_text(pki.ca.key_pem())
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-a
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{endpoint_of("pgm-a")}]
              certificate: {{source: issuer, ca_cert: {{file: ca.crt}}, ca_key: {{file: ca.key}}}}
        """,
    )
    export = tmp_path / "export"
    result = cli("apply", str(spec_dir), *FAST, "--export-dir", str(export))
    assert result.code == 0, result.text
    key_file = export / "pgm-a" / "server.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (export / "pgm-a" / "server.crt").is_file()
    assert_no_key_material(result.text, key_file.read_text())


def test_now_option_rejects_garbage(cli: Cli) -> None:
    result = cli("apply", "--now", "next tuesday")
    assert result.code == 1
    assert "--now: expected an ISO 8601 time" in result.err


# -- failures around the submission ------------------------------------------------------------------


def busy_intervals(emulator: RunningEmulator) -> int:
    """The largest number of instances the emulator saw restarting at the same time."""
    events = []
    for m in emulator.admin.modifications():
        events.append((m["accepted_at"], 1))
        if m["finished_at"] is not None:
            events.append((m["finished_at"], -1))
    busy = peak = 0
    for _, delta in sorted(events):
        busy += delta
        peak = max(peak, busy)
    return peak


def test_timed_out_restart_keeps_its_slot(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    # pgm-a never finishes restarting. Releasing its slot at the timeout would start pgm-b's restart
    # while pgm-a is still restarting: two at once with --max-restarts 1.
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b"))
    cloud_env.admin.add_fault(kind="hang", action="ModifyDBInstanceSSL", instance_id="pgm-a")
    result = cli("apply", str(spec_dir), *FAST, "--parallelism", "1", "--max-restarts", "1", "--instance-timeout", "1")
    assert result.code == 3, result.text
    assert "pgm-a  unknown" in result.out
    assert "pgm-b  not_submitted" in result.out
    assert "pgm-a still restarting after the timeout holds every restart slot (--max-restarts 1)" in result.out
    assert [m["instance_id"] for m in cloud_env.admin.modifications()] == ["pgm-a"]


def test_unreadable_instance_after_an_ambiguous_error_is_reported_unknown(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path
) -> None:
    # The modify gets a 503 *before* it is carried out, and the instance cannot be read afterwards:
    # nothing says the change started, so the tool must neither wait for it nor claim it.
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    cloud_env.admin.add_fault(kind="error", action="ModifyDBInstanceSSL", count=1)
    # The plan and the pre-submit check read the instance once each; every read after that fails.
    cloud_env.admin.add_fault(kind="error", action="DescribeDBInstances", after=2)
    result = cli("apply", str(spec_dir), *FAST, "--instance-timeout", "2")
    assert result.code == 3, result.text
    assert "pgm-a  unknown" in result.out
    assert "it may still be carried out, so it was not sent again" in result.out
    assert "the instance could not be re-read" in result.out
    assert cloud_env.admin.modifications() == []
    assert len(modifies(cloud_env)) == 1


def test_apply_with_nothing_to_change_but_unplannable_instances_fails(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path
) -> None:
    write_spec(spec_dir, aliyun_spec("pgm-missing"))
    result = cli("apply", str(spec_dir), *FAST)
    assert result.code == 1, result.text
    assert "No changes to apply, but 1 instance(s) cannot be applied:" in result.err
    assert "  - pgm-missing: not found\n" in result.err


def test_unwritable_audit_log_is_refused_before_any_call(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    cloud_env.admin.clear_calls()
    result = cli("apply", str(spec_dir), *FAST, "--audit-log", str(tmp_path / "a-file" / "audit.jsonl"))
    assert result.code == 1, result.text
    assert f"--audit-log {tmp_path / 'a-file' / 'audit.jsonl'}: cannot write the audit log" in result.err
    assert "Traceback" not in result.err
    assert cloud_env.admin.calls() == []


# -- certificate chains ------------------------------------------------------------------------------


def test_changed_intermediate_is_planned_and_makes_a_saved_plan_stale(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    from tests.pki.builders import make_cert, rsa_key

    # The leaf stays; the intermediate after it is re-issued (same key and name, new validity).
    root = make_cert(cn="chain-root", ca=True, key=rsa_key(2048, 11), not_after=datetime(2031, 1, 1))
    intermediate_key = rsa_key(2048, 12)
    first = make_cert(
        cn="chain-intermediate", ca=True, key=intermediate_key, signer=root, not_after=datetime(2029, 1, 1)
    )
    reissued = make_cert(
        cn="chain-intermediate", ca=True, key=intermediate_key, signer=root, not_after=datetime(2030, 1, 1)
    )
    host = endpoint_of("pgm-c")
    leaf = make_cert(cn=host, dns=[host], key=rsa_key(2048, 13), signer=first, not_after=datetime(2028, 1, 1))
    cloud_env.admin.add_instances([instance_entry("pgm-c")])
    (spec_dir / "server.key").write_text(leaf.key_pem(), encoding="utf-8")
    (spec_dir / "server.crt").write_text(leaf.cert_pem() + first.cert_pem(), encoding="utf-8")
    write_spec(
        spec_dir,
        "instances:\n  - id: pgm-c\n    region: cn-hangzhou\n"
        f"    ssl: {{enabled: true, endpoints: [{host}], certificate: "
        "{source: custom, cert: {file: server.crt}, key: {file: server.key}}}\n",
    )
    assert cli("apply", str(spec_dir), *FAST).code == 0
    assert cli("plan", str(spec_dir), "--detailed-exitcode").code == 0
    saved = tmp_path / "reviewed.plan"
    assert cli("plan", str(spec_dir), "--out", str(saved)).code == 0

    (spec_dir / "server.crt").write_text(leaf.cert_pem() + reissued.cert_pem(), encoding="utf-8")
    replan = cli("plan", str(spec_dir), "--detailed-exitcode")
    assert replan.code == 2, replan.text
    assert "ssl.certificate.chain" in replan.out
    assert "RESTART required" in replan.out
    # The reviewed plan said nothing about the new intermediate: it must not be sent under it.
    cloud_env.admin.clear_calls()
    stale = cli("apply", str(saved))
    assert stale.code == 1, stale.text
    assert "the saved plan is stale" in stale.err
    assert modifies(cloud_env) == []
    assert cli("apply", str(spec_dir), *FAST).code == 0
    assert cli("plan", str(spec_dir), "--detailed-exitcode").code == 0


def test_endpoint_written_in_upper_case_converges(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-u")])
    write_spec(
        spec_dir,
        "instances:\n  - id: pgm-u\n    region: cn-hangzhou\n"
        f"    ssl: {{enabled: true, endpoints: [{endpoint_of('pgm-u').upper()}], certificate: {{source: aliyun}}}}\n",
    )
    result = cli("apply", str(spec_dir), *FAST)
    assert result.code == 0, result.text
    assert "pgm-u  applied" in result.out
    assert cli("plan", str(spec_dir), "--detailed-exitcode").code == 0
