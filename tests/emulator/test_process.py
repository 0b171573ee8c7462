"""The real ``rdsssl-reconcile emulator serve`` process: start-up, shutdown, crash safety, no key leaks."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from rdsssl_reconcile.emulator import AdminError, run_emulator, spawn_emulator_process
from rdsssl_reconcile.pki.authority import KeyType

from .helpers import describe_ssl, entry, host, key_body_lines, modify_ssl

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DEMO_FLEET = REPO / "specs" / "_emulator-fleet.yaml"


def write_fleet(path: Path, *entries: dict) -> Path:
    path.write_text(yaml.safe_dump({"instances": list(entries)}))
    return path


def test_serve_prints_endpoint_first_and_stops_cleanly_on_sigterm(tmp_path):
    with spawn_emulator_process(DEMO_FLEET, output_dir=tmp_path) as emu:
        lines = emu.stdout_path.read_text().splitlines()
        assert lines[0] == emu.endpoint
        assert lines[0].startswith("http://127.0.0.1:")
        assert f"RDSSSL_ENDPOINT={emu.endpoint}" in lines[1]
        assert "ALIBABA_CLOUD_ACCESS_KEY_ID=emulator-access-key-id" in lines[1]
        client = emu.sdk_client()
        assert describe_ssl(client, "pgm-demo-payments").sslenabled == "on"
        assert emu.admin.health()["instances"] == 6
        assert emu.stop() == 0
    assert "Traceback" not in emu.output()


def test_bad_fleet_is_a_clear_error_without_traceback(tmp_path):
    bad = tmp_path / "fleet.yaml"
    bad.write_text("instances:\n  - id: pgm-x\n    region: cn-hangzhou\n    engine_version: [15]\n    colour: red\n")
    result = subprocess.run(
        [sys.executable, "-m", "rdsssl_reconcile", "emulator", "serve", "--fleet", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert str(bad) in result.stderr
    assert "line 4: instances[0].engine_version: expected a version" in result.stderr
    assert "line 5: instances[0].colour: unknown key" in result.stderr


def test_sigkill_after_acknowledged_modify_loses_nothing(tmp_path, pki):
    state = tmp_path / "state" / "emulator.json"
    fleet = write_fleet(tmp_path / "fleet.yaml", entry("pgm-crash"), entry("pgm-crash2"))
    issued = pki.server(host("pgm-crash2"))
    with spawn_emulator_process(fleet, state_file=state, restart_seconds=60, output_dir=tmp_path) as first:
        client = first.sdk_client()
        request_id = modify_ssl(client, "pgm-crash", sslenabled=1, catype="aliyun").request_id
        modify_ssl(
            client,
            "pgm-crash2",
            sslenabled=1,
            catype="custom",
            server_cert=issued.cert_pem(),
            server_key=issued.key_pem(),
        )
        first.admin.advance_clock(5)
        assert first.kill() == -9
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    # No temp files left behind: only the state and its used nonces (both private).
    assert sorted(p.name for p in state.parent.iterdir()) == [state.name, f"{state.name}.nonces"]
    assert stat.S_IMODE((state.parent / f"{state.name}.nonces").stat().st_mode) == 0o600

    # A different fleet on restart: the existing state file wins.
    other = write_fleet(tmp_path / "other.yaml", entry("pgm-unrelated"))
    with spawn_emulator_process(other, state_file=state, restart_seconds=60, output_dir=tmp_path) as second:
        state_now = second.admin.instance("pgm-crash")
        assert state_now["status"] == "SSL_MODIFYING"
        assert state_now["pending"]["request_id"] == request_id
        with pytest.raises(AdminError) as missing:
            second.admin.instance("pgm-unrelated")
        assert missing.value.status == 404
        second.admin.advance_clock(56)  # the clock offset survived too: 5 + 56 > 60
        client = second.sdk_client()
        body = describe_ssl(client, "pgm-crash")
        assert (body.sslenabled, body.catype, body.last_modify_status) == ("on", "aliyun", "success")
        custom = describe_ssl(client, "pgm-crash2")
        assert custom.server_cert == issued.cert_pem()
        assert custom.server_key == issued.key_pem()
        (modification,) = [m for m in second.admin.modifications() if m["instance_id"] == "pgm-crash"]
        assert modification["outcome"] == "success"
        assert second.stop() == 0


def test_no_private_key_in_output_logs_or_call_log(tmp_path, pki):
    fleet = write_fleet(
        tmp_path / "fleet.yaml", entry("pgm-secret"), entry("pgm-cloud", ssl={"enabled": True, "ca_type": "aliyun"})
    )
    issued = pki.server(host("pgm-secret"), key_type=KeyType.RSA_2048)
    key_pem = issued.key_pem()
    with spawn_emulator_process(fleet, restart_seconds=0.1, output_dir=tmp_path) as emu:
        client = emu.sdk_client()
        modify_ssl(
            client, "pgm-secret", sslenabled=1, catype="custom", server_cert=issued.cert_pem(), server_key=key_pem
        )
        emu.admin.advance_clock(1)
        described = describe_ssl(client, "pgm-secret")
        assert described.server_key == key_pem  # the API does return it to the caller...
        cloud = describe_ssl(client, "pgm-cloud")
        secret_lines = key_body_lines(key_pem, issued.cert_pem()) + key_body_lines(cloud.server_key, cloud.server_cert)
        assert len(secret_lines) > 20
        # ...but nothing the emulator writes or reports elsewhere contains either key.
        reported = json.dumps(
            [
                emu.admin.calls(),
                emu.admin.modifications(),
                emu.admin.instance("pgm-secret"),
                emu.admin.instance("pgm-cloud"),
                emu.admin.faults(),
                emu.admin.settings(),
            ],
            default=str,
        )
        assert emu.stop() == 0
        output = emu.output()
    assert "DescribeDBInstanceSSL pgm-secret -> 200 ok" in output  # the log really has request lines
    for text in (output, reported):
        assert "PRIVATE KEY" not in text
        for body_line in secret_lines:
            assert body_line not in text
        assert "ServerKey=" not in text


def test_no_private_key_in_in_process_logs(caplog, pki):
    caplog.set_level(logging.DEBUG, logger="rdsssl_reconcile.emulator")
    issued = pki.server(host("pgm-inproc"))
    with run_emulator({"instances": [entry("pgm-inproc")]}) as emu:
        modify_ssl(
            emu.sdk_client(),
            "pgm-inproc",
            sslenabled=1,
            catype="custom",
            server_cert=issued.cert_pem(),
            server_key=issued.key_pem(),
        )
    assert "ModifyDBInstanceSSL pgm-inproc -> 200 ok" in caplog.text
    assert "PRIVATE KEY" not in caplog.text
    for body_line in key_body_lines(issued.key_pem(), issued.cert_pem()):
        assert body_line not in caplog.text


def test_state_file_is_written_atomically_with_mode_0600(tmp_path):
    state = tmp_path / "emulator.json"
    with run_emulator({"instances": [entry("pgm-st")]}, state_file=state) as emu:
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        before = json.loads(state.read_text())
        modify_ssl(emu.sdk_client(), "pgm-st", sslenabled=1, catype="aliyun")
        after = json.loads(state.read_text())
    assert before["instances"][0]["pending"] is None
    assert after["instances"][0]["pending"]["outcome"] == "success"
    assert sorted(os.listdir(tmp_path)) == ["emulator.json", "emulator.json.nonces"]


def test_concurrent_changes_all_reach_the_state_file(tmp_path):
    # Saves are serialised outside the backend lock; an older capture must never overwrite a newer one.
    ids = [f"pgm-c{n}" for n in range(12)]
    state = tmp_path / "emulator.json"
    with run_emulator({"instances": [entry(i) for i in ids]}, state_file=state, restart_seconds=60) as emu:
        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(lambda i: modify_ssl(emu.sdk_client(), i, sslenabled=1, catype="aliyun"), ids))
        # Every acknowledged modify is in the file the moment its answer arrived.
        saved = json.loads(state.read_text())
    pending = {r["entry"]["id"]: r["pending"] for r in saved["instances"]}
    assert all(pending[i] is not None for i in ids), pending
    assert len(saved["modifications"]) == len(ids)


def test_damaged_state_file_is_a_user_error(tmp_path):
    state = tmp_path / "emulator.json"
    state.write_text('{"format": "something-else"}')
    result = subprocess.run(
        [sys.executable, "-m", "rdsssl_reconcile", "emulator", "serve", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "not an emulator state file" in result.stderr
    assert "Traceback" not in result.stderr
