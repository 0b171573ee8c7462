"""Pure parsers: raw API response dicts -> frozen live-state values.

Kept apart from the calls (pyinfra's "facts" shape) so they can be tested on recorded JSON and so the
normalisation rules live in one place: PostgreSQL says ``on``/``off`` where MySQL says ``Yes``/``No``,
unset fields come back as ``""`` or ``"-"``, certificates come back as PEM text in any layout.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from rdsssl_reconcile.errors import PemError
from rdsssl_reconcile.live.model import Endpoint, InstanceFacts, LiveCertificate, LiveSsl
from rdsssl_reconcile.pki.pem import load_certificates, load_crl
from rdsssl_reconcile.pki.redaction import SERVER_KEY_FINGERPRINT
from rdsssl_reconcile.pki.summary import sha256_fingerprint, summarize_certificate, summarize_crl

_TRUE = {"on", "yes", "1", "true", "enabled"}


def text(value: Any) -> str | None:
    """A string field, with the API's "unset" spellings (None, "", "-") turned into None."""
    if value is None:
        return None
    result = str(value).strip()
    return None if result in ("", "-") else result


def flag(value: Any) -> bool:
    result = text(value)
    return result is not None and result.lower() in _TRUE


def timestamp(value: Any) -> datetime | None:
    result = text(value)
    if result is None:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(result, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(result.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def connection_hosts(value: Any) -> tuple[str, ...]:
    """The hosts in DescribeDBInstanceSSL's ``ConnectionString``, in order, without repeats.

    How several protected endpoints are reported is undocumented: a comma list, a semicolon list, or one
    host while the protected hosts follow the certificate's SANs (``probe`` reports which). Splitting on
    commas, semicolons and white space reads the first two; the third gives one host, and the planner
    takes the certificate's SAN coverage as the evidence for the others.
    """
    hosts = (h for h in re.split(r"[,;\s]+", text(value) or "") if h)
    return tuple(dict.fromkeys(hosts))


def parse_instance(item: dict[str, Any], region: str) -> InstanceFacts:
    """One ``Items.DBInstance[]`` entry of DescribeDBInstances (or DescribeDBInstanceAttribute)."""
    return InstanceFacts(
        id=str(item.get("DBInstanceId", "")),
        region=text(item.get("RegionId")) or region,
        engine=text(item.get("Engine")) or "",
        engine_version=text(item.get("EngineVersion")) or "",
        storage_type=text(item.get("DBInstanceStorageType")) or "",
        pay_type=text(item.get("PayType")) or "",
        category=text(item.get("Category")) or "",
        instance_type=text(item.get("DBInstanceType")) or "",
        status=text(item.get("DBInstanceStatus")) or "",
        lock_mode=text(item.get("LockMode")) or "Unlock",
        description=text(item.get("DBInstanceDescription")) or "",
        connection_string=text(item.get("ConnectionString")) or "",
    )


def parse_net_info(body: dict[str, Any]) -> tuple[Endpoint, ...]:
    infos = (body.get("DBInstanceNetInfos") or {}).get("DBInstanceNetInfo") or []
    return tuple(
        Endpoint(
            host=str(info.get("ConnectionString", "")),
            ip_type=text(info.get("IPType")) or "",
            port=str(info.get("Port", "")),
            kind=text(info.get("ConnectionStringType")) or "Normal",
        )
        for info in infos
        if text(info.get("ConnectionString"))
    )


def _certificate(value: Any, what: str) -> LiveCertificate | None:
    pem = text(value)
    if pem is None:
        return None
    try:
        leaf, *chain = load_certificates(pem, what=what)
    except PemError as exc:
        return LiveCertificate(der=None, summary=None, problem=f"unparseable {what}: {exc}")
    return LiveCertificate(
        der=leaf.public_bytes(Encoding.DER),
        summary=summarize_certificate(leaf),
        chain_sha256=tuple(sha256_fingerprint(c.public_bytes(Encoding.DER)) for c in chain),
    )


def parse_ssl(body: dict[str, Any]) -> LiveSsl:
    """A DescribeDBInstanceSSL body (already redacted by :func:`~rdsssl_reconcile.pki.redaction.redact_server_key`)."""
    if "ServerKey" in body:
        raise ValueError("parse_ssl() needs a body whose ServerKey was redacted by redact_server_key()")
    enabled = flag(body.get("SSLEnabled"))
    endpoints = connection_hosts(body.get("ConnectionString"))
    crl_text = text(body.get("ClientCertRevocationList"))
    crl_summary = None
    crl_sha = None
    if crl_text:
        try:
            crl_summary = summarize_crl(load_crl(crl_text))
            crl_sha = crl_summary.sha256
        except PemError:
            crl_sha = "unparseable"
    return LiveSsl(
        enabled=enabled,
        ca_type=text(body.get("CAType")) if enabled else None,
        endpoints=endpoints if enabled else (),
        server_cert=_certificate(body.get("ServerCert"), "server certificate") if enabled else None,
        server_key_public_sha256=text(body.get(SERVER_KEY_FINGERPRINT)) if enabled else None,
        expire_time=timestamp(body.get("SSLExpireTime")) if enabled else None,
        create_time=timestamp(body.get("SSLCreateTime")) if enabled else None,
        require_update=flag(body.get("RequireUpdate")),
        require_update_reason=text(body.get("RequireUpdateReason")),
        last_modify_status=text(body.get("LastModifyStatus")),
        modify_status_reason=text(body.get("ModifyStatusReason")),
        server_ca_url=text(body.get("ServerCAUrl")),
        client_ca=_certificate(body.get("ClientCACert"), "client CA certificate") if enabled else None,
        crl_sha256=crl_sha if enabled else None,
        crl=crl_summary if enabled else None,
        acl=text(body.get("ACL")) if enabled else None,
        replication_acl=text(body.get("ReplicationACL")) if enabled else None,
    )
