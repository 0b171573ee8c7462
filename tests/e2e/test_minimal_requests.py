"""Minimal ModifyDBInstanceSSL requests through the CLI against the emulator (issue 9, acceptance 2).

An ACL-only change on an instance with the cloud certificate sends the ACL alone: no ``SSLEnabled``,
``CAType``, ``ServerCert`` or ``ServerKey``, so the cloud certificate is not re-issued. The plan
estimates it at about 1 minute ("Forcefully enable SSL connections"), and DescribeDBInstanceSSL,
read through the official SDK before and after, shows the same certificate and expiry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from rdsssl_reconcile.emulator import RunningEmulator
from rdsssl_reconcile.pki.authority import CertificateAuthority
from tests.e2e.conftest import CliResult, Pki, endpoint_of, instance_entry, write_spec
from tests.emulator.helpers import describe_ssl

pytestmark = pytest.mark.e2e
FAST = ("--auto-approve", "--poll-interval", "0.05")
Cli = Callable[..., CliResult]

#: ModifyDBInstanceSSL's own parameters (the SDK adds signature and common parameters to every call).
SSL_PARAMETERS = frozenset(
    {
        "DBInstanceId",
        "ConnectionString",
        "SSLEnabled",
        "CAType",
        "ServerCert",
        "ServerKey",
        "ClientCAEnabled",
        "ClientCACert",
        "ClientCrlEnabled",
        "ClientCertRevocationList",
        "ACL",
        "ReplicationACL",
    }
)


def sent_parameters(emulator: RunningEmulator, instance_id: str) -> list[list[str]]:
    calls = emulator.admin.calls(action="ModifyDBInstanceSSL", instance_id=instance_id)
    return [sorted(SSL_PARAMETERS & set(c["param_names"])) for c in calls if c["outcome"] == "ok"]


def fingerprint(pem: str) -> str:
    return x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256()).hex()


def cloud_spec(instance_id: str, client_ca: Path, acl: str) -> str:
    return (
        "instances:\n"
        f"  - id: {instance_id}\n"
        "    region: cn-hangzhou\n"
        f"    ssl: {{enabled: true, endpoints: [{endpoint_of(instance_id)}], certificate: {{source: aliyun}},\n"
        f"          client_ca: {{cert: {{file: {client_ca}}}, acl: {acl}}}}}\n"
    )


def plan_json(cli: Cli, spec_dir: Path) -> dict[str, Any]:
    result = cli("plan", str(spec_dir), "--format", "json")
    assert result.code == 0, result.text
    return json.loads(result.out)  # type: ignore[no-any-return]


def test_an_acl_only_change_keeps_the_cloud_certificate(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    client_ca = tmp_path / "client-ca.crt"
    client_ca.write_text(CertificateAuthority.create("acl client CA", now=datetime.now(UTC)).cert_pem())
    write_spec(spec_dir, cloud_spec("pgm-a", client_ca, "verify-ca"))
    first = cli("apply", str(spec_dir), *FAST)
    assert first.code == 0, first.text
    sdk = cloud_env.sdk_client()
    before = describe_ssl(sdk, "pgm-a")
    assert (before.sslenabled, before.catype, before.acl) == ("on", "aliyun", "verify-ca")

    write_spec(spec_dir, cloud_spec("pgm-a", client_ca, "verify-full"))
    (item,) = plan_json(cli, spec_dir)["instances"]
    assert [c["field"] for c in item["changes"]] == ["ssl.client_ca.acl"]
    assert [p["name"] for p in item["request"]["parameters"]] == ["DBInstanceId", "ConnectionString", "ACL"]
    assert item["restart"] == "unknown"
    assert item["restart_detail"]["estimated_seconds"] == 60
    (rule,) = item["restart_detail"]["rules"]
    assert rule["id"] == "change-acl"
    assert rule["estimated_seconds"] == 60
    assert '"Forcefully enable SSL connections": changing the ACL takes about 1 minute' in rule["source"]
    text = cli("plan", str(spec_dir))
    assert "RESTART assumed (~1 min, undocumented)" in text.out
    assert "Plan: 1 to change, 1 restart (~1 min), 0 in sync." in text.out

    cloud_env.admin.clear_calls()
    applied = cli("apply", str(spec_dir), *FAST)
    assert applied.code == 0, applied.text
    assert sent_parameters(cloud_env, "pgm-a") == [["ACL", "ConnectionString", "DBInstanceId"]]
    after = describe_ssl(sdk, "pgm-a")
    assert after.acl == "verify-full"
    assert fingerprint(after.server_cert) == fingerprint(before.server_cert)
    assert after.sslexpire_time == before.sslexpire_time
    assert after.sslcreate_time == before.sslcreate_time
    assert cli("plan", str(spec_dir), "--detailed-exitcode").code == 0


@pytest.mark.parametrize("source", ["custom", "issuer"])
def test_a_certificate_for_two_endpoints_is_sent_for_the_first_and_converges(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path, pki: Pki, source: str
) -> None:
    private, public = endpoint_of("pgm-b"), "pgm-bo.pg.rds.aliyuncs.com"
    cloud_env.admin.add_instances(
        [instance_entry("pgm-b", endpoints=[{"host": private, "type": "Private"}, {"host": public, "type": "Public"}])]
    )
    if source == "custom":
        issued = pki.server(private, public)
        (tmp_path / "server.crt").write_text(issued.cert_pem())
        (tmp_path / "server.key").write_text(issued.key_pem())
        certificate = (
            f"{{source: custom, cert: {{file: {tmp_path / 'server.crt'}}}, key: {{file: {tmp_path / 'server.key'}}}}}"
        )
    else:
        (tmp_path / "ca.crt").write_text(pki.ca.cert_pem())
        (tmp_path / "ca.key").write_text(pki.ca.key_pem())
        certificate = (
            f"{{source: issuer, ca_cert: {{file: {tmp_path / 'ca.crt'}}}, ca_key: {{file: {tmp_path / 'ca.key'}}}}}"
        )
    write_spec(
        spec_dir,
        "instances:\n"
        "  - id: pgm-b\n"
        "    region: cn-hangzhou\n"
        f"    ssl: {{enabled: true, endpoints: [{private}, {public}], certificate: {certificate}}}\n",
    )
    (item,) = plan_json(cli, spec_dir)["instances"]
    params = {p["name"]: p["value"] for p in item["request"]["parameters"]}
    assert params["ConnectionString"] == private
    assert params["CAType"] == "custom"
    applied = cli("apply", str(spec_dir), *FAST)
    assert applied.code == 0, applied.text
    calls = cloud_env.admin.calls(action="ModifyDBInstanceSSL", instance_id="pgm-b")
    assert [c["params"]["ConnectionString"] for c in calls if c["outcome"] == "ok"] == [private]
    again = cli("plan", str(spec_dir), "--detailed-exitcode")
    assert again.code == 0, again.text
    assert f"for {private}, {public}" in again.out
