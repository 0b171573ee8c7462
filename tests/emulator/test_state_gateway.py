"""What the gateway keeps in ``--state``: used nonces (``NAME.nonces``) and fault rules survive a restart.

A replayed request must be refused by the restarted emulator exactly as by the first one, a fault rule that
already struck its ``count`` must not strike again, and a save killed halfway leaves no temporary file
behind once the emulator starts again.
"""

from __future__ import annotations

import json
import os

import pytest

from rdsssl_reconcile.emulator import run_emulator, spawn_emulator_process
from rdsssl_reconcile.emulator.app import EmulatorApp
from rdsssl_reconcile.emulator.fleet import FleetError

from .helpers import describe_ssl, entry, expect_error, host, send, sign


def write_fleet(path, *entries):
    path.write_text(json.dumps({"instances": list(entries)}), encoding="utf-8")
    return path


def signed_modify(emulator, instance_id):
    return sign(
        emulator.host_port,
        "ModifyDBInstanceSSL",
        {"DBInstanceId": instance_id, "ConnectionString": host(instance_id), "SSLEnabled": "1", "CAType": "aliyun"},
        access_key_id=emulator.access_key_id,
        access_key_secret=emulator.access_key_secret,
    )


def test_a_modify_replayed_after_a_sigkill_and_restart_is_refused(tmp_path):
    state = tmp_path / "state.json"
    fleet = write_fleet(tmp_path / "fleet.json", entry("pgm-replay"))
    with spawn_emulator_process(fleet, state_file=state, restart_seconds=0.2, output_dir=tmp_path) as first:
        captured = signed_modify(first, "pgm-replay")
        status, body, _ = send(first.host_port, captured)
        assert status == 200, body
        assert first.kill() == -9
    with spawn_emulator_process(fleet, state_file=state, restart_seconds=0.2, output_dir=tmp_path) as second:
        # The same bytes, sent again to the restarted emulator (the signature covers the old host header).
        status, body, _ = send(second.host_port, captured)
        assert (status, body.get("Code")) == (400, "SignatureNonceUsed")
        accepted = [m for m in second.admin.modifications() if m["instance_id"] == "pgm-replay"]
        assert len(accepted) == 1
        # A genuinely new request still works.
        assert describe_ssl(second.sdk_client(), "pgm-replay").request_id


def test_a_read_replayed_after_a_clean_restart_is_refused(tmp_path):
    state = tmp_path / "state.json"
    with run_emulator({"instances": [entry("pgm-read")]}, state_file=state) as first:
        captured = sign(
            first.host_port,
            "DescribeDBInstanceSSL",
            {"DBInstanceId": "pgm-read"},
            access_key_id=first.access_key_id,
            access_key_secret=first.access_key_secret,
        )
        assert send(first.host_port, captured)[0] == 200
    with run_emulator(state_file=state) as second:
        status, body, _ = send(second.host_port, captured)
        assert (status, body.get("Code")) == (400, "SignatureNonceUsed")


def test_fault_rules_and_their_counters_survive_a_restart(tmp_path):
    state = tmp_path / "state.json"
    with run_emulator({"instances": [entry("pgm-f")]}, state_file=state) as first:
        first.admin.add_fault(kind="throttle", action="DescribeDBInstanceSSL", count=1)
        first.admin.add_fault(kind="error", action="DescribeDBInstances", count=2)
        expect_error(lambda: describe_ssl(first.sdk_client(), "pgm-f"), "Throttling.User", 400)
    with run_emulator(state_file=state) as second:
        rules = {r["id"]: r for r in second.admin.faults()}
        assert [(r["kind"], r["hits"]) for r in rules.values()] == [("throttle", 1), ("error", 0)]
        # The throttle rule used up its one strike before the restart: it does not strike again.
        assert describe_ssl(second.sdk_client(), "pgm-f").request_id
        # A rule added after the restart gets a new id, not one of the restored ones.
        assert second.admin.add_fault(kind="latency", latency_ms=1) not in rules


def test_stale_temporary_state_files_are_removed_at_start(tmp_path):
    state = tmp_path / "emulator.json"
    with run_emulator({"instances": [entry("pgm-t")]}, state_file=state):
        pass
    stale = [tmp_path / ".emulator.json.k2j3h4.tmp", tmp_path / ".emulator.json.nonces.x1y2.tmp"]
    unrelated = tmp_path / ".other.json.abc.tmp"
    for path in [*stale, unrelated]:
        path.write_text("half a state", encoding="utf-8")
    with run_emulator(state_file=state) as emu:
        assert emu.admin.instance("pgm-t")["id"] == "pgm-t"
    assert not any(p.exists() for p in stale)
    assert unrelated.exists()  # another file's temporaries are not ours to delete


def test_a_nonce_line_cut_by_a_kill_is_dropped_but_other_damage_is_named(tmp_path):
    state = tmp_path / "emulator.json"
    with run_emulator({"instances": [entry("pgm-n")]}, state_file=state) as emu:
        describe_ssl(emu.sdk_client(), "pgm-n")
    journal = tmp_path / "emulator.json.nonces"
    good = journal.read_bytes()
    assert good.endswith(b"\n")
    journal.write_bytes(good + b'["cut-by-a-ki')
    with run_emulator(state_file=state) as emu:
        describe_ssl(emu.sdk_client(), "pgm-n")
    journal.write_bytes(b'["a", 1e300]\n' + b"not json\n")
    with pytest.raises(FleetError) as refused:
        EmulatorApp.create(state_file=state)
    assert "emulator.json.nonces" in str(refused.value)
    assert "line 2: expected" in str(refused.value)


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        pytest.param(lambda d: d.update(clock_offset_seconds=float("nan")), "clock_offset_seconds", id="offset-nan"),
        pytest.param(lambda d: d.update(clock_offset_seconds=float("inf")), "clock_offset_seconds", id="offset-inf"),
        pytest.param(lambda d: d.update(clock_offset_seconds=1e300), "clock_offset_seconds", id="offset-huge"),
        pytest.param(lambda d: d.update(clock_offset_seconds="5"), "clock_offset_seconds", id="offset-text"),
        pytest.param(lambda d: d.update(ca=None), "ca", id="ca-null"),
        pytest.param(lambda d: d["ca"].update(cert=5), "ca", id="ca-cert-number"),
        pytest.param(lambda d: d["ca"].update(key="not a key"), "ca.key", id="ca-key-garbage"),
        pytest.param(lambda d: d.update(instances="x"), "instances", id="instances-text"),
        pytest.param(lambda d: d.update(instances=[{}]), "instances", id="instance-without-entry"),
        pytest.param(lambda d: d["instances"][0]["entry"].update(storage_gb=float("nan")), "storage_gb", id="nan-gb"),
        pytest.param(lambda d: d["instances"][0]["entry"]["endpoints"][0].update(port=1e9), "port", id="port-float"),
        pytest.param(lambda d: d["instances"][0]["entry"].update(zone_id=float("inf")), "zone_id", id="inf-zone"),
        pytest.param(
            lambda d: d["instances"][0].update(pending={"request_id": "r", "outcome": "success"}),
            "instances[0].pending",
            id="pending-incomplete",
        ),
        pytest.param(lambda d: d.update(modifications=[{"instance_id": 1}]), "modifications[0]", id="modification"),
        pytest.param(lambda d: d.update(modifications={}), "modifications", id="modifications-mapping"),
        pytest.param(lambda d: d.update(faults={"rules": [{"rule": {"id": "f", "kind": "x"}}]}), "faults", id="rule"),
        pytest.param(
            lambda d: d.update(faults={"rules": [{"rule": {"id": "f", "kind": "latency", "latency_ms": "nan"}}]}),
            "latency_ms",
            id="rule-latency-text",
        ),
    ],
)
def test_a_damaged_state_file_is_a_located_user_error(tmp_path, edit, where):
    state = tmp_path / "emulator.json"
    with run_emulator({"instances": [entry("pgm-d")]}, state_file=state):
        pass
    data = json.loads(state.read_text(encoding="utf-8"))
    edit(data)
    state.write_text(json.dumps(data), encoding="utf-8")
    before = state.read_bytes()
    with pytest.raises(FleetError) as refused:
        EmulatorApp.create(state_file=state)
    message = str(refused.value)
    assert str(state) in message
    assert where in message
    assert "expected" in message or "unknown" in message or "must be" in message
    assert "-----BEGIN" not in message
    assert state.read_bytes() == before  # a refused state is left as it was, for the user to inspect
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


@pytest.mark.parametrize("seconds", [float("nan"), 1e12, -1e12], ids=["nan", "far-future", "far-past"])
def test_the_clock_cannot_be_moved_where_a_state_file_could_not_follow(tmp_path, seconds):
    state = tmp_path / "emulator.json"
    with run_emulator({"instances": [entry("pgm-c")]}, state_file=state) as emu:
        before = emu.admin.now()
        with pytest.raises(Exception, match="advance_seconds must keep the clock within a century"):
            emu.admin.advance_clock(seconds)
        assert abs((emu.admin.now() - before).total_seconds()) < 60
    with run_emulator(state_file=state) as again:  # what was saved still loads
        assert again.admin.instance("pgm-c")["id"] == "pgm-c"
