"""Maintenance windows and the restart policy decision (pure), and the restart slot of unknown restarts.

The rule "an UNKNOWN restart counts as a restart" is pinned where it acts: the policy decision and
``--max-restarts`` (through the CLI against the emulator). See test_window_oracle.py for windows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.cli import run
from rdsssl_reconcile.emulator import run_emulator
from rdsssl_reconcile.pki.authority import CertificateAuthority
from rdsssl_reconcile.planning.model import FieldChange, InstancePlan, PlanStatus, RestartAssessment
from rdsssl_reconcile.planning.policy import decide
from rdsssl_reconcile.planning.rules import Restart
from rdsssl_reconcile.secretfiles import write_secret_file
from rdsssl_reconcile.spec.model import RestartMode, RestartPolicy
from rdsssl_reconcile.spec.window import MaintenanceWindow


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "moment", "inside"),
    [
        ("02:00-04:00", "2026-11-27 03:00", True),
        ("02:00-04:00", "2026-11-27 04:00", False),
        ("sat 02:00-04:00", "2026-11-28 02:00", True),  # a Saturday
        ("sat 02:00-04:00", "2026-11-27 02:30", False),  # a Friday
        ("mon-fri 22:00-02:00", "2026-11-28 01:00", True),  # Friday's window, after midnight
        ("mon-fri 22:00-02:00", "2026-11-29 01:00", False),  # Saturday night: no window started
        ("sat,sun 23:30-00:30", "2026-11-30 00:10", True),  # Sunday's window into Monday
        ("02:00Z-03:00Z", "2026-11-27 02:59", True),
    ],
)
def test_window_contains(window: str, moment: str, inside: bool) -> None:
    assert MaintenanceWindow.parse(window).contains(at(moment)) is inside


def test_next_opening_and_close() -> None:
    window = MaintenanceWindow.parse("sat,sun 02:00-04:00")
    assert window.next_opening(at("2026-11-27 10:00")) == at("2026-11-28 02:00")
    assert window.next_opening(at("2026-11-28 02:30")) == at("2026-11-29 02:00")
    assert window.closes_at(at("2026-11-28 02:30")) == at("2026-11-28 04:00")
    assert window.closes_at(at("2026-11-27 02:30")) is None


def restarting_item() -> InstancePlan:
    change = FieldChange("ssl.enabled", "false", "true", "enable-ssl-cloud-cert")
    return InstancePlan(
        id="pgm-a",
        region="r",
        description=None,
        status=PlanStatus.CHANGE,
        changes=(change,),
        restart=RestartAssessment.of((change,)),
    )


def test_policy_decisions() -> None:
    item = restarting_item()
    now = at("2026-11-27 10:00")
    assert decide(item, RestartPolicy(), now=now, allow_restart=frozenset()).allowed
    never = RestartPolicy(mode=RestartMode.NEVER)
    assert not decide(item, never, now=now, allow_restart=frozenset()).allowed
    assert decide(item, never, now=now, allow_restart=frozenset({"pgm-a"})).allowed
    window = RestartPolicy(mode=RestartMode.WINDOW, window=MaintenanceWindow.parse("10:00-10:02"))
    squeezed = decide(item, window, now=now, allow_restart=frozenset())
    assert not squeezed.allowed  # 2 minutes left, the restart takes ~3
    assert squeezed.next_window == at("2026-11-28 10:00")
    roomy = RestartPolicy(mode=RestartMode.WINDOW, window=MaintenanceWindow.parse("09:00-11:00"))
    assert decide(item, roomy, now=now, allow_restart=frozenset()).allowed


# -- "unknown counts as a restart", through policy -------------------------------------------------------


def acl_only_item(instance_id: str = "pgm-a") -> InstancePlan:
    """An ACL-only change: the restart table says UNKNOWN (undocumented), which must count as a restart."""
    change = FieldChange("ssl.client_ca.acl", "verify-ca", "verify-full", "change-acl")
    return InstancePlan(
        id=instance_id,
        region="r",
        description=None,
        status=PlanStatus.CHANGE,
        changes=(change,),
        restart=RestartAssessment.of((change,)),
    )


def test_an_unknown_restart_is_planned_as_one() -> None:
    item = acl_only_item()
    assert item.to_json()["restart"] == "unknown"
    assert item.restart.estimated_seconds == 60  # "Forcefully enable SSL connections": about 1 minute
    assert item.restart.triggers == ("ssl.client_ca.acl",)


def test_a_window_fits_each_change_by_its_own_estimate() -> None:
    """Two minutes before the window closes: room for an ACL change (~1 min), not for a certificate (~3)."""
    now = at("2026-11-27 03:58")
    policy = RestartPolicy(mode=RestartMode.WINDOW, window=MaintenanceWindow.parse("02:00-04:00"))
    assert decide(acl_only_item(), policy, now=now, allow_restart=frozenset()).allowed
    squeezed = decide(restarting_item(), policy, now=now, allow_restart=frozenset())
    assert not squeezed.allowed
    assert "too soon for a ~3 min restart" in squeezed.reason


def test_an_unknown_restart_is_deferred_under_restart_never() -> None:
    item = acl_only_item()
    now = at("2026-11-27 10:00")
    never = RestartPolicy(mode=RestartMode.NEVER)
    decision = decide(item, never, now=now, allow_restart=frozenset())
    assert not decision.allowed
    assert decision.reason.startswith("policy restart: never; the change restarts the instance (~1 min)")
    assert "--allow-restart pgm-a" in decision.reason
    assert decide(item, never, now=now, allow_restart=frozenset({"pgm-a"})).allowed
    assert not decide(item, never, now=now, allow_restart=frozenset({"pgm-b"})).allowed


def test_an_unknown_restart_is_deferred_outside_the_window() -> None:
    item = acl_only_item()
    policy = RestartPolicy(mode=RestartMode.WINDOW, window=MaintenanceWindow.parse("sat 02:00-04:00"))
    closed = decide(item, policy, now=at("2026-11-27 10:00"), allow_restart=frozenset())  # a Friday
    assert not closed.allowed
    assert closed.next_window == at("2026-11-28 02:00")
    assert "outside maintenance window sat 02:00-04:00 UTC" in closed.reason
    assert decide(item, policy, now=at("2026-11-28 02:00"), allow_restart=frozenset()).allowed


def test_only_a_change_without_restart_ignores_the_policy() -> None:
    quiet = InstancePlan(
        id="pgm-a",
        region="r",
        description=None,
        status=PlanStatus.CHANGE,
        restart=RestartAssessment(restart=Restart.NOT_REQUIRED),
    )
    now = at("2026-11-27 10:00")
    closed = RestartPolicy(mode=RestartMode.WINDOW, window=MaintenanceWindow.parse("sat 02:00-04:00"))
    for policy in (RestartPolicy(mode=RestartMode.NEVER), closed):
        decision = decide(quiet, policy, now=now, allow_restart=frozenset())
        assert decision.allowed
        assert decision.reason == "no restart"


@pytest.mark.parametrize("verdict", [Restart.REQUIRED, Restart.UNKNOWN])
def test_both_restart_verdicts_count_and_only_not_required_does_not(verdict: Restart) -> None:
    assert verdict.counts_as_restart
    assert not Restart.NOT_REQUIRED.counts_as_restart
    assert Restart.worst([Restart.NOT_REQUIRED, verdict]) is verdict
    assert Restart.worst([Restart.UNKNOWN, Restart.REQUIRED]) is Restart.REQUIRED
    assert Restart.worst([]) is Restart.NOT_REQUIRED


# -- the restart must fit before the window closes -------------------------------------------------------


def item_taking(seconds: int, restart: Restart = Restart.REQUIRED) -> InstancePlan:
    return InstancePlan(
        id="pgm-a",
        region="r",
        description=None,
        status=PlanStatus.CHANGE,
        restart=RestartAssessment(restart=restart, estimated_seconds=seconds),
    )


@pytest.mark.parametrize(
    ("window", "close"),
    [
        ("10:00-12:00", "2026-11-27 12:00"),
        ("fri 23:00-01:00", "2026-11-28 01:00"),  # Friday's overnight window, closing on Saturday
    ],
)
@pytest.mark.parametrize("restart", [Restart.REQUIRED, Restart.UNKNOWN])
@pytest.mark.parametrize("seconds", [180, 600])
def test_a_restart_may_start_exactly_its_estimate_before_the_close_and_not_a_second_later(
    window: str, close: str, restart: Restart, seconds: int
) -> None:
    item = item_taking(seconds, restart)
    policy = RestartPolicy(mode=RestartMode.WINDOW, window=MaintenanceWindow.parse(window))
    last_start = at(close) - timedelta(seconds=seconds)
    assert decide(item, policy, now=last_start - timedelta(seconds=1), allow_restart=frozenset()).allowed
    assert decide(item, policy, now=last_start, allow_restart=frozenset()).allowed
    late = decide(item, policy, now=last_start + timedelta(seconds=1), allow_restart=frozenset())
    assert not late.allowed
    assert "too soon for a" in late.reason
    assert late.next_window is not None
    assert late.next_window > at(close)
    assert not decide(item, policy, now=at(close), allow_restart=frozenset()).allowed


# -- "unknown counts as a restart", through --max-restarts -----------------------------------------------


def test_unknown_restarts_take_a_restart_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two ACL-only changes (UNKNOWN) with --max-restarts 1 and two workers: the emulator must never see
    # both instances restarting at once.
    now = datetime.now(UTC)
    ca = CertificateAuthority.create("slot test CA", now=now)
    client_ca = CertificateAuthority.create("slot test client CA", now=now)
    ids = ("pgm-slot-a", "pgm-slot-b")
    fleet: list[dict[str, Any]] = []
    spec = ["instances:"]
    for instance_id in ids:
        host = f"{instance_id}.pg.rds.aliyuncs.com"
        server = ca.issue_server_certificate([host], now=now, days=365)
        (tmp_path / f"{instance_id}.crt").write_text(server.cert_pem())
        write_secret_file(tmp_path / f"{instance_id}.key", server.key_pem(), force=False)
        fleet.append(
            {
                "id": instance_id,
                "region": "cn-hangzhou",
                "ssl": {
                    "enabled": True,
                    "ca_type": "custom",
                    "endpoints": [host],
                    "server_cert": server.cert_pem(),
                    "server_key": server.key_pem(),
                    "client_ca_cert": client_ca.cert_pem(),
                    "acl": "verify-ca",
                },
            }
        )
        spec += [
            f"  - id: {instance_id}",
            "    region: cn-hangzhou",
            "    ssl:",
            "      enabled: true",
            f"      endpoints: [{host}]",
            f"      certificate: {{source: custom, cert: {{file: {instance_id}.crt}}, key: {{file: {instance_id}.key}}}}",
            "      client_ca: {cert: {file: client-ca.crt}, acl: verify-full}",
        ]
    (tmp_path / "client-ca.crt").write_text(client_ca.cert_pem())
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    (spec_dir / "spec.yaml").write_text("\n".join(spec).replace("file: ", "file: ../") + "\n")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with run_emulator({"instances": fleet}, restart_seconds=0.5) as emulator:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
        common = ["--endpoint", emulator.endpoint, "--format", "json"]
        plan_file = tmp_path / "plan.json"
        assert run(["plan", str(spec_dir), *common, "--out", str(plan_file)]) == 0
        saved = json.loads(plan_file.read_text())
        assert [i["restart"] for i in saved["instances"]] == ["unknown", "unknown"]
        assert saved["summary"]["restarts"] == 2
        fast = ["--auto-approve", "--poll-interval", "0.05"]
        code = run(
            [
                "apply",
                str(spec_dir),
                "--endpoint",
                emulator.endpoint,
                *fast,
                "--max-restarts",
                "1",
                "--parallelism",
                "2",
            ]
        )
        modifications = emulator.admin.modifications()
    assert code == 0
    assert sorted(m["instance_id"] for m in modifications) == sorted(ids)
    first, second = sorted(modifications, key=lambda m: m["accepted_at"])
    assert first["finished_at"] is not None
    assert second["accepted_at"] >= first["finished_at"], "two restarts ran at once under --max-restarts 1"
