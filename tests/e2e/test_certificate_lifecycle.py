"""Certificates that renew themselves: source issuer, and the cloud certificate's RequireUpdate.

The emulator's clock is advanced to age certificates; the tool is lined up with it through ``--now``
(the tool's own clock would otherwise still be today).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rdsssl_reconcile.emulator import RunningEmulator
from rdsssl_reconcile.pki.pem import load_certificate
from rdsssl_reconcile.pki.summary import summarize_certificate
from tests.e2e.conftest import CliResult, Pki, endpoint_of, instance_entry, write_spec

pytestmark = pytest.mark.e2e
FAST = ("--auto-approve", "--poll-interval", "0.05")

Cli = Callable[..., CliResult]


def _now(emulator: RunningEmulator) -> str:
    return emulator.admin.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def _plan(cli: Cli, spec_dir: Path, emulator: RunningEmulator) -> dict[str, object]:
    result = cli("plan", str(spec_dir), "--format", "json", "--now", _now(emulator))
    assert result.code == 0, result.err
    (item,) = json.loads(result.out)["instances"]
    return item  # type: ignore[no-any-return]


def test_issuer_issues_applies_stays_in_sync_then_renews_with_a_new_key(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-i")])
    (spec_dir / "ca.crt").write_text(pki.ca.cert_pem())
    (spec_dir / "ca.key").write_text(pki.ca.key_pem())
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-i
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{endpoint_of("pgm-i")}]
              certificate:
                source: issuer
                ca_cert: {{file: ca.crt}}
                ca_key: {{file: ca.key}}
                validity_days: 365
                renew_before_days: 30
        """,
    )
    first = _plan(cli, spec_dir, cloud_env)
    assert first["status"] == "change"
    assert first["changes"][-1]["reason"] == "issue: no certificate from this CA is installed yet"  # type: ignore[index]

    assert cli("apply", str(spec_dir), *FAST, "--now", _now(cloud_env)).code == 0
    issued = cloud_env.admin.instance("pgm-i")["ssl"]
    issued_cert = summarize_certificate(load_certificate(issued["server_cert"]))
    assert issued_cert.issuer == pki.ca.certificate.subject.rfc4514_string()
    assert issued_cert.dns_names == (endpoint_of("pgm-i"),)
    assert _plan(cli, spec_dir, cloud_env)["status"] == "in_sync"

    cloud_env.admin.advance_clock(340 * 86400)
    aged = _plan(cli, spec_dir, cloud_env)
    assert aged["status"] == "change"
    assert aged["restart"] == "required"
    assert aged["changes"][0]["reason"].startswith("renew: expires in 2")  # type: ignore[index]
    assert aged["changes"][0]["reason"].endswith("days (renew_before_days=30)")  # type: ignore[index]

    assert cli("apply", str(spec_dir), *FAST, "--now", _now(cloud_env)).code == 0
    renewed = cloud_env.admin.instance("pgm-i")["ssl"]
    renewed_cert = summarize_certificate(load_certificate(renewed["server_cert"]))
    assert renewed_cert.sha256 != issued_cert.sha256
    assert renewed_cert.public_key_sha256 != issued_cert.public_key_sha256  # a new key, not a re-signed old one
    assert renewed["server_key_public_sha256"] == renewed_cert.public_key_sha256
    assert _plan(cli, spec_dir, cloud_env)["status"] == "in_sync"


def test_cloud_certificate_with_require_update_plans_a_renewal_with_a_restart(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path
) -> None:
    cloud_env.admin.add_instances(
        [instance_entry("pgm-c", ssl={"enabled": True, "ca_type": "aliyun", "endpoint": endpoint_of("pgm-c")})]
    )
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-c
            region: cn-hangzhou
            ssl: {{enabled: true, endpoints: [{endpoint_of("pgm-c")}], certificate: {{source: aliyun}}}}
            policy: {{renew_before_days: 7}}
        """,
    )
    assert _plan(cli, spec_dir, cloud_env)["status"] == "in_sync"
    before = cloud_env.admin.instance("pgm-c")["ssl"]
    cloud_env.admin.advance_clock(345 * 86400)  # 20 days left: RequireUpdate=1, but outside our own 7-day window
    aged = _plan(cli, spec_dir, cloud_env)
    assert aged["status"] == "change"
    assert aged["restart"] == "required"
    (change,) = aged["changes"]  # type: ignore[misc]
    assert change["field"] == "ssl.certificate"
    assert change["rule"] == "renew-cloud-cert"
    assert change["reason"].startswith("renew: the API reports RequireUpdate=1")
    text = cli("plan", str(spec_dir), "--now", _now(cloud_env)).out
    assert "RESTART required (~3 min)" in text
    assert "Plan: 1 to change, 1 restart (~3 min)" in text

    assert cli("apply", str(spec_dir), *FAST, "--now", _now(cloud_env)).code == 0
    after = cloud_env.admin.instance("pgm-c")["ssl"]
    assert after["server_cert"] != before["server_cert"]
    assert _plan(cli, spec_dir, cloud_env)["status"] == "in_sync"
