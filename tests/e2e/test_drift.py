"""``drift`` end to end: the real CLI, the official SDK, the emulator (issue 11, acceptance 1-3 and 4's JSON).

Each scenario changes the emulated world the way the cloud would (a console edit through the admin API,
Alibaba Cloud's own renewal with the business clock advanced), then checks the report the CLI prints, its
exit code, the JSON against the committed schema, and the emulator's call log: Describe actions only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rdsssl_reconcile.apply.audit import read_audit_log
from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
from rdsssl_reconcile.render.drift_json import drift_schema
from tests.e2e.conftest import CliResult, aliyun_spec, endpoint_of, instance_entry, write_spec

pytestmark = pytest.mark.e2e
Cli = Callable[..., CliResult]
FAST = ("--auto-approve", "--poll-interval", "0.05")
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def only_describe(emulator: RunningEmulator) -> set[str]:
    actions = {c["action"] for c in emulator.admin.calls()}
    assert actions, "the drift run made no call at all"
    assert all(a.startswith("Describe") for a in actions), actions
    return actions


def drift_json(cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("drift", *args, "--format", "json")
    document = json.loads(result.out)
    jsonschema.validate(document, drift_schema())
    assert document["exit_code"] == result.code, result.err
    return result.code, document


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in document["instances"]}


def apply(cli: Cli, spec_dir: Path, audit: Path) -> None:
    result = cli("apply", str(spec_dir), *FAST, "--audit-log", str(audit))
    assert result.code == 0, result.text


def test_console_change_is_drift_and_the_run_only_describes(
    cloud_env: RunningEmulator, cli: Cli, spec_dir: Path, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b"))
    audit = tmp_path / "audit.jsonl"
    apply(cli, spec_dir, audit)
    # apply's result records keep the applied state: the spec digest and the live read that proved it.
    results = [r for r in read_audit_log(audit).records if r["kind"] == "result"]
    assert sorted(r["instance"] for r in results) == ["pgm-a", "pgm-b"]
    for r in results:
        assert r["outcome"] == "applied"
        assert len(r["desired_digest"]) == 64
        assert r["live"]["ssl"]["enabled"] is True
        assert r["live"]["ssl"]["ca_type"] == "aliyun"
    assert "PRIVATE KEY" not in audit.read_text()

    cloud_env.admin.clear_calls()
    code, document = drift_json(cli, str(spec_dir), "--audit-log", str(audit))
    assert code == 0
    assert {i["status"] for i in document["instances"]} == {"in_sync"}
    only_describe(cloud_env)

    # A console-style change: SSL switched off on pgm-a behind the tool's back.
    cloud_env.admin.set_instance("pgm-a", ssl={"enabled": False})
    cloud_env.admin.clear_calls()
    code, document = drift_json(cli, str(spec_dir), "--audit-log", str(audit))
    assert code == 2
    a = by_id(document)["pgm-a"]
    assert a["status"] == "drifted"
    fields = {f["field"]: f for f in a["fields"]}
    assert fields["ssl.enabled"]["expected"] == "true"
    assert fields["ssl.enabled"]["live"] == "false"
    assert "ssl.endpoints" in fields
    assert [c["kind"] for c in a["causes"]] == ["outside_change"]
    assert a["baseline"].startswith("audit log, applied at ")
    assert by_id(document)["pgm-b"]["status"] == "in_sync"
    assert document["summary"]["drifted"] == 1
    only_describe(cloud_env)

    text = cli("drift", str(spec_dir), "--audit-log", str(audit))
    assert text.code == 2
    assert "pgm-a (cn-hangzhou): drifted - changed outside the tool" in text.out
    assert "ssl.enabled" in text.out
    assert "expected true, live false" in text.out
    assert cloud_env.admin.calls(action="ModifyDBInstanceSSL") == []

    # The console change still restarting: compared as read, with the change in progress as a cause.
    cloud_env.admin.set_instance("pgm-a", status="SSL_MODIFYING")
    code, document = drift_json(cli, str(spec_dir), "--audit-log", str(audit))
    a = by_id(document)["pgm-a"]
    assert (code, a["status"]) == (2, "drifted")
    assert [c["kind"] for c in a["causes"]] == ["in_progress", "outside_change"]
    assert "DBInstanceStatus is SSL_MODIFYING" in a["causes"][0]["evidence"]


def test_renewal_expiry_and_pending(cli: Cli, spec_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with run_emulator(restart_seconds=0.2, cloud_cert_auto_renew_days=7) as emulator:
        monkeypatch.setenv("RDSSSL_ENDPOINT", emulator.endpoint)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
        emulator.admin.add_instances([instance_entry(i) for i in ("pgm-a", "pgm-b", "pgm-c")])
        write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b", "pgm-c"))
        audit = tmp_path / "audit.jsonl"
        apply(cli, spec_dir, audit)
        before = emulator.admin.instance("pgm-a")

        # A year on, past the renewal Alibaba Cloud schedules 7 days before expiry.
        now = emulator.admin.advance_clock(360 * 86400)
        after = emulator.admin.instance("pgm-a")
        assert after["ssl"]["expires_at"] > before["ssl"]["expires_at"]
        # pgm-c: a cloud certificate 20 days from expiry (inside renew_before_days=30, before the renewal).
        emulator.admin.set_instance(
            "pgm-c",
            ssl={
                "enabled": True,
                "ca_type": "aliyun",
                "endpoint": endpoint_of("pgm-c"),
                "expires_at": (now + timedelta(days=20)).strftime(STAMP),
            },
        )
        # pgm-b: the spec is edited (SSL off) and not applied.
        write_spec(
            spec_dir,
            aliyun_spec("pgm-a", "pgm-c") + "  - id: pgm-b\n    region: cn-hangzhou\n    ssl: {enabled: false}\n",
        )
        emulator.admin.clear_calls()
        code, document = drift_json(cli, str(spec_dir), "--audit-log", str(audit), "--now", now.strftime(STAMP))
        only_describe(emulator)

    instances = by_id(document)
    a = instances["pgm-a"]
    assert a["status"] == "in_sync"
    (renewal,) = [c for c in a["causes"] if c["kind"] == "cloud_renewal"]
    assert "same CA type (aliyun)" in renewal["evidence"]
    assert before["ssl"]["expires_at"][:10] in renewal["evidence"]

    b = instances["pgm-b"]
    assert b["status"] == "pending", b
    # Renewed too: a renewal is not a live change of configuration, so the spec edit is still pending.
    assert [c["kind"] for c in b["causes"]] == ["cloud_renewal", "spec_changed"]
    assert {f["field"] for f in b["fields"]} == {"ssl.enabled"}

    expiry = {(e["instance"], e["kind"]): e for e in document["expiry"]}
    c = expiry[("pgm-c", "server_cloud")]
    assert c["in_renewal_window"]
    assert c["require_update"]
    assert 18 <= c["days_left"] <= 20
    renewed = expiry[("pgm-a", "server_cloud")]
    assert not renewed["in_renewal_window"]
    assert renewed["days_left"] > 300
    assert instances["pgm-c"]["status"] == "in_sync"
    assert any(r.startswith("renewal due:") for r in instances["pgm-c"]["reasons"])
    assert document["summary"] | {"in_sync": 2, "pending": 1, "expiring": 1} == document["summary"]
    assert code == 2


def test_scan_region_and_ignore_rules_until_their_expiry(cloud_env: RunningEmulator, cli: Cli, spec_dir: Path) -> None:
    on = {"enabled": True, "ca_type": "aliyun"}
    cloud_env.admin.add_instances(
        [
            instance_entry("pgm-a", ssl={**on, "endpoint": endpoint_of("pgm-a")}),
            instance_entry("pgm-b", ssl={**on, "endpoint": endpoint_of("pgm-b")}),
            instance_entry("pgm-free"),
            instance_entry("pgm-free-on", ssl={**on, "endpoint": endpoint_of("pgm-free-on")}),
            instance_entry("rm-mysql", engine="MySQL", engine_version="8.0"),
            instance_entry("pgm-old", engine_version="9.6"),
        ]
    )
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b"))
    code, document = drift_json(cli, str(spec_dir), "--scan-region", "cn-hangzhou")
    assert code == 0
    unmanaged = {u["id"]: u["ssl_enabled"] for u in document["unmanaged"]}
    assert unmanaged == {"pgm-free": False, "pgm-free-on": True, "pgm-old": False}
    assert document["coverage"] == {"regions": ["cn-hangzhou"], "managed": 2, "scanned": 5, "ratio": 0.4}
    text = cli("drift", str(spec_dir), "--scan-region", "cn-hangzhou")
    assert "Coverage: 2 of 5 PostgreSQL instances managed (40%)" in text.out
    assert "+ pgm-free (cn-hangzhou): SSL off, Running" in text.out
    assert not any(a.startswith("Modify") for a in only_describe(cloud_env))

    # Console changes on both; rules accept pgm-b's whole SSL block and only pgm-a's certificate line.
    cloud_env.admin.set_instance("pgm-a", ssl={"enabled": False})
    cloud_env.admin.set_instance("pgm-b", ssl={"enabled": False})
    (spec_dir / ".rdsssl-ignore.yaml").write_text(
        "ignore:\n"
        "  - instance: pgm-b\n"
        "    field: 'ssl.*'\n"
        "    reason: decommissioning, SSL off on purpose\n"
        "    expires: 2027-01-01\n"
        "  - instance: 'pgm-a*'\n"
        "    field: ssl.certificate\n"
        "    reason: certificate handled elsewhere\n",
        encoding="utf-8",
    )
    code, document = drift_json(cli, str(spec_dir), "--now", "2026-12-31T23:00:00Z")
    instances = by_id(document)
    b = instances["pgm-b"]
    assert b["status"] == "in_sync"
    assert b["fields"]
    assert all(f["ignored"] for f in b["fields"])
    assert b["fields"][0]["ignore_reason"] == "decommissioning, SSL off on purpose"
    assert b["fields"][0]["ignore_rule"].endswith(".rdsssl-ignore.yaml:2")
    a = {f["field"]: f["ignored"] for f in instances["pgm-a"]["fields"]}
    assert a == {"ssl.enabled": False, "ssl.endpoints": False, "ssl.certificate": True}
    assert instances["pgm-a"]["status"] == "drifted"
    assert document["summary"]["ignored_fields"] == 4
    assert code == 2

    # From its expiry day on, pgm-b's rule no longer applies, and the report says so.
    code, document = drift_json(cli, str(spec_dir), "--now", "2027-01-01T00:00:00Z")
    assert by_id(document)["pgm-b"]["status"] == "drifted"
    assert not any(f["ignored"] for f in by_id(document)["pgm-b"]["fields"])
    assert any("expired on 2027-01-01" in n for n in document["notes"])


def test_bad_ignore_rule_is_a_located_error_before_any_call(
    cloud_env: RunningEmulator, cli: Cli, spec_dir: Path
) -> None:
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    (spec_dir / ".rdsssl-ignore.yaml").write_text(
        "ignore:\n  - instance: pgm-a\n    field: ssl.enabled\n    expires: next year\n", encoding="utf-8"
    )
    cloud_env.admin.clear_calls()
    result = cli("drift", str(spec_dir), "--format", "json")
    assert result.code == 1
    assert ".rdsssl-ignore.yaml:2: ignore[0].reason: expected a non-empty string" in result.err
    assert ".rdsssl-ignore.yaml:4: ignore[0].expires: expected a date YYYY-MM-DD, found 'next year'" in result.err
    document = json.loads(result.out)
    assert document["command"] == "drift"
    assert document["valid"] is False
    # A date YAML itself cannot build is located too, never an internal error.
    (spec_dir / ".rdsssl-ignore.yaml").write_text(
        "ignore:\n  - {instance: a, field: b, reason: c, expires: 2027-13-01}\n", encoding="utf-8"
    )
    result = cli("drift", str(spec_dir))
    assert result.code == 1
    assert ".rdsssl-ignore.yaml:2: ignore[0].expires: month must be in 1..12" in result.err
    assert cloud_env.admin.calls() == []


def test_missing_and_error_instances_render_and_exit_1(
    cloud_env: RunningEmulator, cli: Cli, spec_dir: Path, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-gone"))
    cloud_env.admin.add_fault(
        kind="error", action="DescribeDBInstanceSSL", instance_id="pgm-a", status=403, code="Forbidden.RAM"
    )
    out = tmp_path / "reports"
    result = cli(
        "drift",
        str(spec_dir),
        "--format",
        "markdown",
        "--report",
        f"json={out / 'drift.json'}",
        "--report",
        f"text={out / 'drift.txt'}",
    )
    assert result.code == 1
    assert "> [!CAUTION]" in result.out
    assert "pgm-gone" in result.out
    document = json.loads((out / "drift.json").read_text())
    jsonschema.validate(document, drift_schema())
    statuses = {i["id"]: i["status"] for i in document["instances"]}
    assert statuses == {"pgm-a": "error", "pgm-gone": "missing"}
    assert "\x1b[" not in (out / "drift.txt").read_text()
    assert "pgm-gone (cn-hangzhou): missing" in (out / "drift.txt").read_text()


def test_baseline_plan_tells_pending_from_drift(
    cloud_env: RunningEmulator, cli: Cli, spec_dir: Path, tmp_path: Path
) -> None:
    """The merge job's saved plan as the baseline: an instance it found in sync, whose spec changed since."""
    on = {"enabled": True, "ca_type": "aliyun"}
    cloud_env.admin.add_instances([instance_entry("pgm-a", ssl={**on, "endpoint": endpoint_of("pgm-a")})])
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    saved = tmp_path / "plan.json"
    assert cli("plan", str(spec_dir), "--out", str(saved)).code == 0
    write_spec(spec_dir, "instances:\n  - id: pgm-a\n    region: cn-hangzhou\n    ssl: {enabled: false}\n")
    code, document = drift_json(cli, str(spec_dir), "--baseline-plan", str(saved))
    a = by_id(document)["pgm-a"]
    assert (code, a["status"]) == (2, "pending")
    assert a["baseline"].startswith(f"saved plan {saved} of ")
    # The same spec change with the live state moved too is drift, with both causes.
    cloud_env.admin.set_instance("pgm-a", ssl={"enabled": False})
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    code, document = drift_json(cli, str(spec_dir), "--baseline-plan", str(saved))
    a = by_id(document)["pgm-a"]
    assert a["status"] == "drifted"
    assert [c["kind"] for c in a["causes"]] == ["outside_change"]


def test_now_option_and_no_evidence_note(cloud_env: RunningEmulator, cli: Cli, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    code, document = drift_json(cli, str(spec_dir), "--now", datetime(2027, 1, 1).strftime(STAMP))
    a = by_id(document)["pgm-a"]
    assert (code, a["status"], a["baseline"]) == (2, "drifted", "spec (no applied record found)")
    assert any("no applied record" in r for r in a["reasons"])
    assert document["generated_at"] == "2027-01-01T00:00:00Z"
