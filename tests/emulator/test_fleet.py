"""The fleet format, the socket-free app, and the package's import hygiene."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.emulator import EmulatorApp, FleetError, HttpRequest, run_emulator
from rdsssl_reconcile.emulator.fleet import load_fleet_file, parse_fleet
from rdsssl_reconcile.errors import UserError

from .helpers import describe_ssl, entry, expect_error, host, modify_ssl

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def test_defaults():
    (instance,) = parse_fleet({"instances": [{"id": "pgm-d", "region": "cn-shanghai"}]}, source="t", now=NOW)
    assert (instance.engine, instance.engine_version, instance.storage_type) == ("PostgreSQL", "15.0", "cloud_essd")
    assert (instance.pay_type, instance.category, instance.instance_type) == ("Postpaid", "HighAvailability", "Primary")
    assert (instance.status, instance.lock_mode) == ("Running", "Unlock")
    assert [(e.host, e.ip_type, e.port) for e in instance.endpoints] == [("pgm-d.pg.rds.aliyuncs.com", "Private", 5432)]
    assert instance.ssl.enabled is False
    assert instance.created_at == NOW


def test_demo_fleet_loads():
    instances = load_fleet_file(REPO / "specs" / "_emulator-fleet.yaml", now=NOW)
    assert [i.id for i in instances] == [
        "pgm-demo-orders",
        "pgm-demo-payments",
        "pgm-demo-legacy",
        "pgm-demo-analytics",
        "pgm-demo-reports",
        "pgm-demo-orders-ro",
    ]


def test_problems_name_the_key_path_and_expectation():
    fleet = {
        "instances": [
            {"id": "pgm-a", "region": "cn", "pay_type": "Monthly", "ssl": {"enabled": True, "acl": "cert"}},
            {"region": "cn", "endpoints": [{"host": "x", "port": 0}]},
            {"id": "pgm-a", "region": "cn", "ssl": {"enabled": False, "ca_type": "aliyun"}},
            {"id": "pgm-a,pgm-b", "region": "cn"},
        ],
        "extra": 1,
    }
    with pytest.raises(FleetError) as caught:
        parse_fleet(fleet, source="fleet.yaml", now=NOW)
    assert "extra: unknown key" in str(caught.value)
    fleet.pop("extra")
    with pytest.raises(FleetError) as caught:
        parse_fleet(fleet, source="fleet.yaml", now=NOW)
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert "in the emulator fleet fleet.yaml" in message
    assert "instances[0].pay_type: expected one of 'Postpaid', 'Prepaid', 'Serverless', got 'Monthly'" in message
    assert "instances[0].ssl.acl: needs client_ca_cert" in message
    assert "instances[1].id: is required" in message
    assert "instances[1].endpoints[0].port: expected an integer from 1 to 65535, got 0" in message
    assert "instances[2].id: duplicate instance id 'pgm-a'" in message
    assert "instances[2].ssl.ca_type: is only allowed when ssl.enabled is true" in message
    assert "instances[3].id: expected letters, digits, '-', '_' or '.', got 'pgm-a,pgm-b'" in message


def test_pem_from_files_relative_to_the_fleet(tmp_path, pki):
    issued = pki.server(host("pgm-file"))
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "server.crt").write_text(issued.cert_pem())
    (tmp_path / "certs" / "server.key").write_text(issued.key_pem())
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "instances:\n"
        "  - id: pgm-file\n    region: cn-hangzhou\n"
        "    ssl:\n      enabled: true\n      ca_type: custom\n"
        "      server_cert: {file: certs/server.crt}\n      server_key: {file: certs/server.key}\n"
    )
    (instance,) = load_fleet_file(fleet, now=NOW)
    assert instance.ssl.server_cert == issued.cert_pem()
    assert instance.ssl.expires_at == issued.certificate.not_valid_after_utc
    fleet.write_text(fleet.read_text().replace("server.key", "missing.key"))
    with pytest.raises(FleetError, match=r"line 8: instances\[0\]\.ssl\.server_key\.file: cannot read"):
        load_fleet_file(fleet, now=NOW)


def test_mismatched_custom_pair_in_a_fleet_never_quotes_the_key(pki):
    mine, other = pki.server(host("pgm-mm")), pki.server(host("pgm-mm"))
    ssl = {"enabled": True, "ca_type": "custom", "server_cert": mine.cert_pem(), "server_key": other.key_pem()}
    with pytest.raises(FleetError) as caught:
        parse_fleet({"instances": [entry("pgm-mm", ssl=ssl)]}, source="t", now=NOW)
    assert "does not belong to the server certificate" in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)


def test_json_fleet(tmp_path):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps({"instances": [entry("pgm-json")]}))
    assert [i.id for i in load_fleet_file(fleet, now=NOW)] == ["pgm-json"]
    fleet.write_text("{")
    with pytest.raises(FleetError, match="not valid JSON"):
        load_fleet_file(fleet, now=NOW)


def test_admin_rejects_bad_entries_with_the_problem(emulator):
    from rdsssl_reconcile.emulator import AdminError

    with pytest.raises(AdminError) as caught:
        emulator.admin.add_instances([{"id": "pgm-x", "region": "cn", "storage_type": "floppy"}])
    assert caught.value.status == 400
    assert "instances[0].storage_type" in caught.value.message
    emulator.admin.add_instances([entry("pgm-x")])
    with pytest.raises(AdminError, match="already exists"):
        emulator.admin.add_instances([entry("pgm-x")])
    with pytest.raises(AdminError) as missing:
        emulator.admin.set_instance("pgm-none", status="Running")
    assert missing.value.status == 404


@pytest.mark.e2e
def test_reset_without_a_fleet_returns_to_the_start_up_fleet():
    with run_emulator({"instances": [entry("pgm-start")]}) as emu:
        client = emu.sdk_client()
        modify_ssl(client, "pgm-start", sslenabled=1)
        emu.admin.add_instances([entry("pgm-later")])
        emu.admin.reset()
        assert emu.admin.health()["instances"] == 1
        assert describe_ssl(client, "pgm-start").last_modify_status == "success"
        assert emu.admin.modifications() == []


@pytest.mark.e2e
def test_long_request_line_is_accepted(emulator, client, pki):
    emulator.admin.add_instances([entry("pgm-long")])
    issued = pki.server(host("pgm-long"))
    chain = issued.cert_pem() + pki.server_ca.cert_pem() * 150  # > 100 KB URL-encoded (the stdlib stops at 64 KiB)
    assert len(chain) > 80_000
    modify_ssl(client, "pgm-long", sslenabled=1, catype="custom", server_cert=chain, server_key=issued.key_pem())
    emulator.admin.advance_clock(1)
    assert describe_ssl(client, "pgm-long").server_cert == chain


def test_app_answers_without_a_socket():
    app = EmulatorApp.create(fleet={"instances": [entry("pgm-nosock")]})
    health = app.handle(HttpRequest(method="GET", target="/_emulator/health", headers={}))
    assert (health.status, json.loads(health.body)) == (200, {"ok": True, "instances": 1})
    unsigned = app.handle(
        HttpRequest(
            method="POST",
            target="/?DBInstanceId=pgm-nosock",
            headers={"x-acs-action": "DescribeDBInstanceSSL", "host": "x"},
        )
    )
    assert unsigned.status == 400
    assert json.loads(unsigned.body)["Code"] == "IncompleteSignature"
    (record,) = app.calls.records()
    assert (record.action, record.outcome) == ("DescribeDBInstanceSSL", "IncompleteSignature")


def test_importing_the_package_does_not_import_the_sdk():
    code = (
        "import sys, rdsssl_reconcile.emulator, rdsssl_reconcile.emulator.testing;"
        "bad = [m for m in sys.modules if m.startswith(('alibabacloud', 'darabonba', 'Tea'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.e2e
def test_cli_hides_an_overridden_secret(tmp_path):
    from rdsssl_reconcile.emulator import spawn_emulator_process

    with spawn_emulator_process(
        access_key_id="my-id", access_key_secret="my-real-looking-secret", output_dir=tmp_path
    ) as emu:
        second = emu.stdout_path.read_text().splitlines()[1]
        assert "ALIBABA_CLOUD_ACCESS_KEY_ID=my-id" in second
        assert "my-real-looking-secret" not in emu.output()
        assert emu.stop() == 0


@pytest.mark.e2e
def test_a_key_pasted_into_an_identifier_is_not_logged(emulator, client, pki, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="rdsssl_reconcile.emulator")
    key = pki.server(host("pgm-oops")).key_pem()
    expect_error(lambda: describe_ssl(client, key), "InvalidDBInstanceId.NotFound", 404)
    (call,) = emulator.admin.calls()
    assert call["instance_id"].startswith("sha256:")
    text = json.dumps(call) + caplog.text
    assert "PRIVATE KEY" not in text
    assert key.splitlines()[1] not in text


@pytest.mark.parametrize(
    ("target", "payload"),
    [
        ("/_emulator/clock", {"advance_seconds": None}),
        ("/_emulator/clock", {"advance_seconds": 1e20}),
        ("/_emulator/faults", {"kind": "latency", "latency_ms": [1]}),
        ("/_emulator/settings", {"restart_seconds": float("inf")}),
    ],
)
def test_admin_answers_bad_values_with_400(target, payload):
    app = EmulatorApp.create(fleet={"instances": [entry("pgm-admin")]})
    body = json.dumps(payload).encode()  # Infinity is what Python's json writes for inf
    response = app.handle(
        HttpRequest(method="POST", target=target, headers={"content-type": "application/json"}, body=body)
    )
    assert response.status == 400, response.body
    assert json.loads(response.body)["error"]
    # Nothing was changed by the refused request.
    assert (
        json.loads(app.handle(HttpRequest(method="GET", target="/_emulator/settings", headers={})).body)[
            "restart_seconds"
        ]
        == app.initial_settings.restart_seconds
    )


def test_misspelt_keys_and_values_get_a_did_you_mean() -> None:
    fleet = {
        "instance": [],
        "instances": [
            {"id": "pgm-a", "region": "cn", "engine_verison": "14", "ssl": {"enabled": True, "ca_tpye": "aliyun"}},
            {"id": "pgm-b", "region": "cn", "storage_type": "cloud_esd"},
        ],
    }
    with pytest.raises(FleetError) as caught:
        parse_fleet(fleet, source="fleet.yaml", now=NOW)
    assert "instance: unknown key (did you mean 'instances'?); expected 'instances'" in str(caught.value)
    fleet.pop("instance")
    with pytest.raises(FleetError) as caught:
        parse_fleet(fleet, source="fleet.yaml", now=NOW)
    text = str(caught.value)
    assert "instances[0].engine_verison: unknown key (did you mean 'engine_version'?); expected one of:" in text
    assert "instances[0].ssl.ca_tpye: unknown key (did you mean 'ca_type'?)" in text
    assert "got 'cloud_esd' (did you mean 'cloud_essd'?)" in text


def test_a_key_like_nothing_gets_no_guess() -> None:
    with pytest.raises(FleetError) as caught:
        parse_fleet({"instances": [{"id": "pgm-a", "region": "cn", "zzzzzz": 1}]}, source="f", now=NOW)
    assert "zzzzzz: unknown key; expected one of:" in str(caught.value)
