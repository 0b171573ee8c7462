"""probe against the emulator through the official SDK: each reading reported, only Describe actions called.

The alternative readings are emulator settings (``describe_ids``, ``connection_string_format``,
``busy_status``). Cells whose setting this emulator does not offer yet are skipped with the reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from rdsssl_reconcile.cli import run
from rdsssl_reconcile.emulator.settings import EmulatorSettings
from rdsssl_reconcile.emulator.testing import RunningEmulator
from rdsssl_reconcile.pki.authority import CertificateAuthority, KeyType

pytestmark = pytest.mark.e2e

REGION = "cn-hangzhou"
SETTINGS = set(EmulatorSettings().to_dict())
A, B = "pgm-pr-custom.pg.rds.aliyuncs.com", "pgm-pr-customo.pg.rds.aliyuncs.com"


def needs(setting: str) -> None:
    if setting not in SETTINGS:
        pytest.skip(f"this emulator has no {setting!r} setting yet (h9-emulator adds it)")


def probe(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    capsys.readouterr()
    code = run(["probe", "--endpoint", emulator.endpoint, "--region", REGION, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fleet(emulator: RunningEmulator) -> dict[str, Any]:
    now = datetime.now(UTC)
    ca = CertificateAuthority.create("probe e2e CA", now=now, key_type=KeyType.EC_P256)
    issued = ca.issue_server_certificate([A, B], now=now, key_type=KeyType.EC_P256)
    entries: list[dict[str, Any]] = [
        {"id": "pgm-pr-a", "region": REGION},
        {"id": "pgm-pr-b", "region": REGION, "ssl": {"enabled": True, "ca_type": "aliyun"}},
        {
            "id": "pgm-pr-custom",
            "region": REGION,
            "endpoints": [{"host": A, "type": "Private"}, {"host": B, "type": "Public"}],
            "ssl": {
                "enabled": True,
                "ca_type": "custom",
                "endpoints": [A, B],
                "server_cert": issued.cert_pem(),
                "server_key": issued.key_pem(),
            },
        },
        {"id": "pgm-pr-other", "region": REGION},
    ]
    emulator.admin.add_instances(entries)
    emulator.admin.clear_calls()
    return {"key": issued.key_pem()}


def only_describe(emulator: RunningEmulator) -> None:
    actions = {call["action"] for call in emulator.admin.calls()}
    assert actions
    assert all(action.startswith("Describe") for action in actions), actions


def test_probe_default_emulator_text_and_json(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = fleet(emulator)
    code, out, _ = probe(emulator, monkeypatch, capsys, "--instance", "pgm-pr-a", "--instance", "pgm-pr-custom")
    assert code == 0
    assert "several ids in one call: list - both ids answered" in out
    if "connection_string_format" not in SETTINGS:
        assert "pgm-pr-custom: comma - 2 hosts separated by commas" in out  # this emulator's only reading
    assert "Calls made: " in out
    assert ", only Describe actions (" in out
    assert "Unknown instance: DescribeDBInstanceAttribute InvalidDBInstanceId.NotFound" in out
    only_describe(emulator)
    emulator.admin.clear_calls()
    code, out, _ = probe(emulator, monkeypatch, capsys, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["only_describe_actions"] is True
    assert report["describe_db_instances"]["multi_id"]["reading"] == "list"
    assert {"PageNumber", "TotalRecordCount"} <= set(report["describe_db_instances"]["paging_fields"])
    assert report["describe_db_instances"]["paging_fields"]["TotalRecordCount"].startswith("number")
    fields = {i["instance_id"]: i["fields"] for i in report["describe_db_instance_ssl"]}
    assert fields["pgm-pr-b"]["SSLExpireTime"] == "iso8601-utc (yyyy-MM-ddTHH:mm:ssZ)"
    assert fields["pgm-pr-b"]["SSLEnabled"] == "string 'on'"
    assert fields["pgm-pr-a"]["SSLEnabled"] == "string 'off'"
    key_body = "".join(secrets["key"].splitlines()[1:-1])
    assert key_body[:40] not in out
    assert "PRIVATE KEY" not in out
    only_describe(emulator)


@pytest.mark.parametrize("reading", ["list", "first", "ignored", "literal", "error"])
@pytest.mark.parametrize("output_format", ["text", "json"])
def test_probe_names_each_multi_id_reading(
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    reading: str,
    output_format: str,
) -> None:
    needs("describe_ids")
    fleet(emulator)
    emulator.admin.settings(describe_ids=reading)
    code, out, _ = probe(
        emulator, monkeypatch, capsys, "--instance", "pgm-pr-a", "--instance", "pgm-pr-b", "--format", output_format
    )
    assert code == 0
    if output_format == "json":
        assert json.loads(out)["describe_db_instances"]["multi_id"]["reading"] == reading
    else:
        assert f"several ids in one call: {reading} - " in out
    only_describe(emulator)


@pytest.mark.parametrize("reading", ["comma", "semicolon", "certificate-sans"])
@pytest.mark.parametrize("output_format", ["text", "json"])
def test_probe_names_each_connection_string_reading(
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    reading: str,
    output_format: str,
) -> None:
    needs("connection_string_format")
    fleet(emulator)
    emulator.admin.settings(connection_string_format=reading)
    code, out, _ = probe(
        emulator,
        monkeypatch,
        capsys,
        "--instance",
        "pgm-pr-custom",
        "--instance",
        "pgm-pr-a",
        "--format",
        output_format,
    )
    assert code == 0
    if output_format == "json":
        (check,) = json.loads(out)["connection_string"]
        assert check["reading"] == reading
        assert check["covered_by_certificate"] == [A, B]
    else:
        assert f"pgm-pr-custom: {reading} - " in out
    only_describe(emulator)


@pytest.mark.parametrize("status", ["SSL_MODIFYING", "SSLModifying"])
def test_probe_reports_the_busy_status_string(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], status: str
) -> None:
    from alibabacloud_rds20140815 import models as rds

    from rdsssl_reconcile.cloud.sdk import raw_sdk_client

    fleet(emulator)
    emulator.admin.settings(busy_status=status, restart_seconds=60)
    client = raw_sdk_client(emulator.host_port, emulator.access_key_id, emulator.access_key_secret)
    request = rds.ModifyDBInstanceSSLRequest(
        dbinstance_id="pgm-pr-a", connection_string="pgm-pr-a.pg.rds.aliyuncs.com", sslenabled=1, catype="aliyun"
    )
    client.modify_dbinstance_ssl(request)  # the test makes the instance busy; the probe only looks
    emulator.admin.clear_calls()
    code, out, _ = probe(emulator, monkeypatch, capsys, "--instance", "pgm-pr-a", "--instance", "pgm-pr-b")
    assert code == 0
    assert f"Busy status: pgm-pr-a is {status} (LastModifyStatus string 'setting')" in out
    only_describe(emulator)
