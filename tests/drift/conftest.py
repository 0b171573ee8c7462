"""Values for the pure drift tests: desired instances from a real spec file, live states built by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from rdsssl_reconcile.drift.baseline import AppliedState
from rdsssl_reconcile.live.model import InstanceFacts, LiveCertificate, LiveInstance, LiveSsl, ReadOutcome, live_to_json
from rdsssl_reconcile.pki.authority import CertificateAuthority, KeyType
from rdsssl_reconcile.pki.summary import summarize_certificate
from rdsssl_reconcile.spec.loader import load_specs
from rdsssl_reconcile.spec.model import DesiredInstance

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def endpoint(instance_id: str) -> str:
    return f"{instance_id}.pg.rds.aliyuncs.com"


def desired(tmp_path: Path, *entries: str) -> list[DesiredInstance]:
    """Instances from a spec whose ``instances:`` items are ``entries`` (YAML flow mappings)."""
    directory = tmp_path / "specs"
    directory.mkdir(exist_ok=True)
    (directory / "spec.yaml").write_text("instances:\n" + "".join(f"  - {e}\n" for e in entries), encoding="utf-8")
    return list(load_specs([directory], now=NOW).instances)


def aliyun(instance_id: str, extra: str = "") -> str:
    return (
        f"{{id: {instance_id}, region: cn-hangzhou, ssl: {{enabled: true, endpoints: [{endpoint(instance_id)}], "
        f"certificate: {{source: aliyun}}}}{extra}}}"
    )


def off(instance_id: str) -> str:
    return f"{{id: {instance_id}, region: cn-hangzhou, ssl: {{enabled: false}}}}"


_CA = CertificateAuthority.create("drift-test-ca", now=NOW - timedelta(days=800), key_type=KeyType.EC_P256)


def cloud_certificate(instance_id: str, *, issued: datetime, days: int = 365) -> LiveCertificate:
    cert = _CA.issue_server_certificate([endpoint(instance_id)], now=issued, days=days, key_type=KeyType.EC_P256)
    return LiveCertificate(
        der=cert.certificate.public_bytes(Encoding.DER), summary=summarize_certificate(cert.certificate)
    )


def facts(instance_id: str, **changes: Any) -> InstanceFacts:
    base = InstanceFacts(
        id=instance_id,
        region="cn-hangzhou",
        engine="PostgreSQL",
        engine_version="15.0",
        storage_type="cloud_essd",
        pay_type="Postpaid",
        category="HighAvailability",
        instance_type="Primary",
        status="Running",
        lock_mode="Unlock",
        description="",
        connection_string=endpoint(instance_id),
    )
    return replace(base, **changes)


def ssl_on(instance_id: str, certificate: LiveCertificate | None = None, **changes: Any) -> LiveSsl:
    cert = certificate or cloud_certificate(instance_id, issued=NOW - timedelta(days=10))
    assert cert.summary is not None
    base = LiveSsl(
        enabled=True,
        ca_type="aliyun",
        endpoints=(endpoint(instance_id),),
        server_cert=cert,
        server_key_public_sha256=cert.summary.public_key_sha256,
        expire_time=cert.summary.not_after,
        create_time=cert.summary.not_before,
        require_update=False,
        require_update_reason=None,
        last_modify_status="success",
        modify_status_reason=None,
        server_ca_url=None,
        client_ca=None,
        crl_sha256=None,
        crl=None,
        acl="prefer",
        replication_acl=None,
    )
    return replace(base, **changes)


SSL_OFF = LiveSsl(
    enabled=False,
    ca_type=None,
    endpoints=(),
    server_cert=None,
    server_key_public_sha256=None,
    expire_time=None,
    create_time=None,
    require_update=False,
    require_update_reason=None,
    last_modify_status="success",
    modify_status_reason=None,
    server_ca_url=None,
    client_ca=None,
    crl_sha256=None,
    crl=None,
    acl=None,
    replication_acl=None,
)


def live(instance_id: str, ssl: LiveSsl | None, **fact_changes: Any) -> LiveInstance:
    from rdsssl_reconcile.live.model import Endpoint

    return LiveInstance(
        instance_id=instance_id,
        region="cn-hangzhou",
        outcome=ReadOutcome.FOUND,
        facts=facts(instance_id, **fact_changes),
        endpoints=(Endpoint(host=endpoint(instance_id), ip_type="Private", port="5432", kind="Normal"),),
        ssl=ssl,
    )


def applied(
    spec: DesiredInstance, state: LiveInstance | None, *, when: datetime = NOW - timedelta(days=5)
) -> AppliedState:
    return AppliedState(
        instance_id=spec.id,
        source=f"audit log, applied at {when:%Y-%m-%dT%H:%M:%SZ}",
        time=when,
        desired_digest=spec.digest(),
        live=None if state is None else live_to_json(state),
    )


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    return tmp_path
