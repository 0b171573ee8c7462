"""import: the specs it writes plan as in sync at once; no key is written; a second import changes nothing (issue 11).

Import is the inverse of the planner, so these tests do not compare its files with golden files: they run
``plan`` on what it wrote, through the SDK against the emulator loaded with the demo fleet (the README's
first command), with a custom certificate (two SANs, a chain), a client CA, a CRL and ACLs added.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from rdsssl_reconcile.emulator import RunningEmulator
from rdsssl_reconcile.pki.authority import CertificateAuthority
from rdsssl_reconcile.pki.pem import crl_to_pem
from tests.e2e.conftest import CliResult, Pki, assert_no_key_material

pytestmark = pytest.mark.e2e
Cli = Callable[..., CliResult]
REPO = Path(__file__).resolve().parents[2]
ANALYTICS = ("pgm-demo-analytics.pg.rds.aliyuncs.com", "pgm-demo-analyticso.pg.rds.aliyuncs.com")


def crl_for(ca: CertificateAuthority) -> str:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - timedelta(days=1))
        .next_update(now + timedelta(days=30))
    )
    return crl_to_pem(builder.sign(ca.private_key, hashes.SHA256()))


@pytest.fixture
def demo(cloud_env: RunningEmulator, pki: Pki) -> dict[str, str]:
    return seed_demo(cloud_env, pki)


def seed_demo(cloud_env: RunningEmulator, pki: Pki, **settings: str) -> dict[str, str]:
    """The demo fleet, with pgm-demo-orders on the cloud certificate and pgm-demo-analytics on a custom one.

    ``settings``: emulator readings, set after the reset (which restores the start-up settings).
    """
    fleet = yaml.safe_load((REPO / "specs" / "_emulator-fleet.yaml").read_text())
    cloud_env.admin.reset(fleet)
    if settings:
        cloud_env.admin.settings(**settings)
    server = pki.server(*ANALYTICS)
    client_ca = CertificateAuthority.create("import-test client CA", now=pki.now)
    cloud_env.admin.set_instance(
        "pgm-demo-analytics",
        ssl={
            "enabled": True,
            "ca_type": "custom",
            "endpoints": list(ANALYTICS),
            "server_cert": server.cert_pem() + pki.ca.cert_pem(),  # leaf and chain
            "server_key": server.key_pem(),
            "client_ca_cert": client_ca.cert_pem(),
            "crl": crl_for(client_ca),
            "acl": "verify-ca",
            "replication_acl": "cert",
        },
    )
    cloud_env.admin.set_instance(
        "pgm-demo-orders", ssl={"enabled": True, "ca_type": "aliyun", "endpoint": "pgm-demo-orders.pg.rds.aliyuncs.com"}
    )
    cloud_env.admin.clear_calls()
    return {"server_key": server.key_pem(), "ca_key": pki.ca.key_pem(), "client_ca_key": client_ca.key_pem()}


def tree(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode & 0o777)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_import_of_the_demo_fleet_plans_in_sync_but_for_the_key_to_provide(
    cli: Cli, demo: dict[str, str], cloud_env: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "imported"
    result = cli("import", "--region", "cn-hangzhou", "--out", str(out))
    assert result.code == 0, result.text
    # Read-only: Describe actions only.
    assert {c["action"] for c in cloud_env.admin.calls()} <= {
        "DescribeDBInstances",
        "DescribeDBInstanceAttribute",
        "DescribeDBInstanceSSL",
        "DescribeDBInstanceNetInfo",
    }
    for line in (
        "  + pgm-demo-analytics: SSL on, custom certificate",
        "      key to provide: env $PGM_DEMO_ANALYTICS_SERVER_KEY: the private key of certificate sha256",
        "  + pgm-demo-payments: SSL on, cloud certificate for pgm-demo-payments.pg.rds.aliyuncs.com",
        "  + pgm-demo-orders-ro: SSL off",
        "  - pgm-demo-legacy: skipped, ineligible: PostgreSQL 9.6: SSL needs PostgreSQL 10 or later",
        "  - pgm-demo-reports: skipped, ineligible: storage is local_ssd: SSL needs cloud disks (ESSD or SSD)",
        "Import: 4 imported, 2 skipped; files: 8 created.",
        "1 private key(s) to provide before plan can run: pgm-demo-analytics.",
    ):
        assert line in result.out, result.out
    written = tree(out)
    assert sorted(written) == [
        ".gitignore",
        "_import-manifest.json",
        "cn-hangzhou/certs/pgm-demo-analytics/client-ca.crl",
        "cn-hangzhou/certs/pgm-demo-analytics/client-ca.crt",
        "cn-hangzhou/certs/pgm-demo-analytics/server.crt",
        "cn-hangzhou/pgm-demo-analytics.yaml",
        "cn-hangzhou/pgm-demo-orders-ro.yaml",
        "cn-hangzhou/pgm-demo-orders.yaml",
        "cn-hangzhou/pgm-demo-payments.yaml",
    ]
    assert {mode for _, _, mode in written.values()} == {0o644}
    # No private key anywhere in the test's tree (the import, the emulator's files, outputs).
    everything = result.text + "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert "PRIVATE KEY" not in everything
    assert_no_key_material(everything, *demo.values())

    # plan on the imported specs: the one key to provide, named with instance, file:line and reference.
    cloud_env.admin.clear_calls()
    missing = cli("plan", str(out / "cn-hangzhou"), "--detailed-exitcode")
    assert missing.code == 1
    problems = [line for line in missing.err.splitlines() if line.startswith("  - ")]
    assert len(problems) == 1, missing.err
    assert "pgm-demo-analytics.yaml:" in problems[0]
    assert (
        "instances[0].ssl.certificate.key.env: environment variable 'PGM_DEMO_ANALYTICS_SERVER_KEY' is not set: "
        "the private key of pgm-demo-analytics is to be provided there"
    ) in problems[0]
    assert cloud_env.admin.calls() == []  # refused before any call

    # Provided: everything is in sync, and nothing would be sent.
    monkeypatch.setenv("PGM_DEMO_ANALYTICS_SERVER_KEY", demo["server_key"])
    planned = cli("plan", str(out / "cn-hangzhou"), "--detailed-exitcode", "--format", "json")
    assert planned.code == 0, planned.text
    document = json.loads(planned.out)
    assert {i["id"]: i["status"] for i in document["instances"]} == {
        "pgm-demo-analytics": "in_sync",
        "pgm-demo-orders": "in_sync",
        "pgm-demo-orders-ro": "in_sync",
        "pgm-demo-payments": "in_sync",
    }


def test_a_second_import_changes_nothing(cli: Cli, demo: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "imported"
    assert cli("import", "--region", "cn-hangzhou", "--out", str(out)).code == 0
    before = tree(out)
    again = cli("import", "--region", "cn-hangzhou", "--out", str(out))
    assert again.code == 0, again.text
    assert "files: 8 unchanged." in again.out
    assert "(unchanged)" in again.out
    assert tree(out) == before  # bytes, mtimes and modes


def test_an_edited_spec_is_refused_without_force(
    cli: Cli, demo: dict[str, str], cloud_env: RunningEmulator, tmp_path: Path
) -> None:
    out = tmp_path / "imported"
    assert cli("import", "--region", "cn-hangzhou", "--out", str(out)).code == 0
    spec = out / "cn-hangzhou" / "pgm-demo-payments.yaml"
    edited = spec.read_text().replace("restart: never", "restart: allowed")
    spec.write_text(edited)
    # The live state moves too: the untouched file of that instance is updated, the edited one refused.
    cloud_env.admin.set_instance(
        "pgm-demo-orders-ro",
        ssl={"enabled": True, "ca_type": "aliyun", "endpoint": "pgm-demo-orders-ro.pg.rds.aliyuncs.com"},
    )
    before = tree(out)
    refused = cli("import", "--region", "cn-hangzhou", "--out", str(out))
    assert refused.code == 1
    assert "1 file(s) in" in refused.err
    assert "were edited since the import wrote them" in refused.err
    assert "  - cn-hangzhou/pgm-demo-payments.yaml" in refused.err
    assert "--force" in refused.err
    assert tree(out) == before  # all or nothing
    forced = cli("import", "--region", "cn-hangzhou", "--out", str(out), "--force")
    assert forced.code == 0, forced.text
    assert f"{spec} (overwritten)" in forced.out
    assert f"{out / 'cn-hangzhou' / 'pgm-demo-orders-ro.yaml'} (updated)" in forced.out
    assert "restart: allowed" not in spec.read_text()
    assert "certificate: {source: aliyun}" in (out / "cn-hangzhou" / "pgm-demo-orders-ro.yaml").read_text()


def test_import_of_named_instances_and_file_key_references(cli: Cli, demo: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "imported"
    result = cli(
        "import",
        "--region",
        "cn-hangzhou",
        "--instance",
        "pgm-demo-analytics",
        "--instance",
        "pgm-nope",
        "--out",
        str(out),
        "--key-ref",
        "file",
        "--format",
        "json",
    )
    assert result.code == 1  # an instance asked for does not exist
    document = json.loads(result.out)
    assert [i["id"] for i in document["imported"]] == ["pgm-demo-analytics"]
    assert document["not_found"] == ["pgm-nope"]
    key = document["imported"][0]["key_to_provide"]
    assert key["file"] == "certs/pgm-demo-analytics/server.key"
    spec_dir = out / "cn-hangzhou"
    assert not (spec_dir / key["file"]).exists()
    missing = cli("plan", str(spec_dir))
    assert (
        "instances[0].ssl.certificate.key.file: file 'certs/pgm-demo-analytics/server.key' does not exist"
        in missing.err
    )
    assert "the private key of pgm-demo-analytics is to be provided there" in missing.err
    key_file = spec_dir / key["file"]
    key_file.write_text(demo["server_key"])
    os.chmod(key_file, 0o600)
    assert cli("plan", str(spec_dir), "--detailed-exitcode").code == 0
    # The key file provided beside the specs is git-ignored, and a new import leaves it alone.
    assert "*.key" in (out / ".gitignore").read_text().splitlines()
    again = cli(
        "import", "--region", "cn-hangzhou", "--instance", "pgm-demo-analytics", "--out", str(out), "--key-ref", "file"
    )
    assert again.code == 0, again.text
    assert key_file.read_text() == demo["server_key"]


def test_bad_region_is_refused_before_any_call(cli: Cli, cloud_env: RunningEmulator, tmp_path: Path) -> None:
    result = cli("import", "--region", "Hangzhou", "--out", str(tmp_path / "x"))
    assert result.code == 1
    assert "--region 'Hangzhou': expected a region id" in result.err
    assert cloud_env.admin.calls() == []
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("connection_string_format", "comma"),
        ("connection_string_format", "semicolon"),
        ("connection_string_format", "certificate-sans"),
        ("describe_ids", "first"),
        ("describe_ids", "ignored"),
        ("describe_ids", "literal"),
        ("describe_ids", "error"),
    ],
)
def test_import_plans_in_sync_under_every_reading(
    cli: Cli,
    cloud_env: RunningEmulator,
    pki: Pki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str,
) -> None:
    """The open questions of the API (docs/emulator.md): whatever the reading, the import plans in sync."""
    keys = seed_demo(cloud_env, pki, **{setting: value})
    assert cloud_env.admin.settings()[setting] == value
    out = tmp_path / "imported"
    chosen = ["--instance", "pgm-demo-analytics", "--instance", "pgm-demo-payments", "--instance", "pgm-demo-orders"]
    result = cli("import", "--region", "cn-hangzhou", "--out", str(out), *chosen)
    assert result.code == 0, result.text
    monkeypatch.setenv("PGM_DEMO_ANALYTICS_SERVER_KEY", keys["server_key"])
    planned = cli("plan", str(out / "cn-hangzhou"), "--detailed-exitcode", "--format", "json")
    assert planned.code == 0, (setting, value, planned.text)
    assert sorted(i["id"] for i in json.loads(planned.out)["instances"]) == [
        "pgm-demo-analytics",
        "pgm-demo-orders",
        "pgm-demo-payments",
    ]
