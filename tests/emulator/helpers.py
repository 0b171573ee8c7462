"""Test helpers for the emulator suite: SDK calls, hand-signed raw requests, run-time PKI material.

Private keys are generated at run time (never committed). Raw requests are signed with the SDK's own
signing function (``alibabacloud_tea_openapi.utils.Utils.get_authorization``) so tampering tests change
bytes *after* a genuine signature, at the HTTP level.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from alibabacloud_rds20140815 import models as rds
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from alibabacloud_tea_openapi.utils import Utils
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from rdsssl_reconcile.pki.authority import CertificateAuthority, IssuedCertificate, KeyType

REGION = "cn-hangzhou"
SDK_ERRORS = (ClientException, ServerException, ThrottlingException)


def host(instance_id: str) -> str:
    return f"{instance_id}.pg.rds.aliyuncs.com"


def entry(instance_id: str, **overrides: Any) -> dict[str, Any]:
    """A fleet entry with the documented defaults, plus ``overrides``."""
    return {"id": instance_id, "region": REGION, **overrides}


# ------------------------------------------------------------------------------------------- SDK calls


def describe_ssl(client: Any, instance_id: str) -> Any:
    return client.describe_dbinstance_ssl(rds.DescribeDBInstanceSSLRequest(dbinstance_id=instance_id)).body


def modify_ssl(client: Any, instance_id: str, connection_string: str | None = None, **fields: Any) -> Any:
    request = rds.ModifyDBInstanceSSLRequest(
        dbinstance_id=instance_id,
        connection_string=host(instance_id) if connection_string is None else connection_string,
        **fields,
    )
    return client.modify_dbinstance_ssl(request).body


def expect_error(call: Any, code: str, status: int) -> Any:
    """Run ``call``; the SDK must raise its exception with ``code`` and ``status``."""
    with pytest.raises(SDK_ERRORS) as caught:
        call()
    assert caught.value.code == code, caught.value.message
    assert caught.value.status_code == status
    return caught.value


# ------------------------------------------------------------------------------------------- raw requests


@dataclass
class Signed:
    """A request signed exactly as the SDK signs it; change fields afterwards to tamper."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    raw_query: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.raw_query = urlencode(self.query)


def sign(
    host_port: str,
    action: str,
    query: dict[str, str],
    *,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    date: datetime | None = None,
    nonce: str | None = None,
    body: bytes = b"",
    extra_headers: dict[str, str] | None = None,
) -> Signed:
    headers = {
        "host": host_port,
        "x-acs-version": "2014-08-15",
        "x-acs-action": action,
        "user-agent": "rdsssl-tests",
        "x-acs-date": (date or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "accept": "application/json",
        **(extra_headers or {}),
    }
    if security_token is not None:
        headers["x-acs-accesskey-id"] = access_key_id
        headers["x-acs-security-token"] = security_token
    payload = hashlib.sha256(body).hexdigest()
    headers["x-acs-content-sha256"] = payload
    request = SimpleNamespace(method="POST", pathname="/", query=dict(query), headers=dict(headers))
    headers["Authorization"] = Utils.get_authorization(
        request, "ACS3-HMAC-SHA256", payload, access_key_id, access_key_secret
    )
    return Signed(method="POST", path="/", query=dict(query), headers=headers, body=body)


def send(host_port: str, signed: Signed) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Send ``signed`` as-is (its current ``raw_query`` and headers); return status, JSON body, headers."""
    connection = http.client.HTTPConnection(host_port, timeout=10)
    try:
        target = signed.path + (f"?{signed.raw_query}" if signed.raw_query else "")
        connection.putrequest(signed.method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in signed.headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(signed.body)))
        connection.endheaders(signed.body or None)
        response = connection.getresponse()
        raw = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, json.loads(raw) if raw else {}, headers
    finally:
        connection.close()


# ------------------------------------------------------------------------------------------- PKI


@dataclass(frozen=True)
class Pki:
    """Run-time certificates. EC keys keep the suite fast; the emulator accepts any PKCS#8 key."""

    now: datetime
    server_ca: CertificateAuthority
    client_ca: CertificateAuthority

    def server(self, *endpoints: str, days: int = 365, key_type: KeyType = KeyType.EC_P256) -> IssuedCertificate:
        return self.server_ca.issue_server_certificate(list(endpoints), now=self.now, days=days, key_type=key_type)

    def crl(self, *revoked: int) -> str:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.client_ca.certificate.subject)
            .last_update(self.now)
            .next_update(self.now + timedelta(days=30))
        )
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(self.now).build()
            )
        crl = builder.sign(self.client_ca.private_key, hashes.SHA256())
        return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


def make_pki() -> Pki:
    now = datetime.now(UTC)
    return Pki(
        now=now,
        server_ca=CertificateAuthority.create("Test Server CA", now=now, key_type=KeyType.EC_P256),
        client_ca=CertificateAuthority.create("Test Client CA", now=now, key_type=KeyType.EC_P256),
    )


def key_body_lines(key_pem: str, *public_pem: str) -> list[str]:
    """The base64 lines of a PEM key (what a leak would contain even without the header).

    An RSA private key embeds the public modulus, and the same bytes can base64-encode identically inside
    the (public) certificate; lines that occur in ``public_pem`` are therefore not evidence of a leak.
    """
    public = "".join("".join(p.split()) for p in public_pem)
    lines = [line for line in key_pem.strip().splitlines() if line and not line.startswith("-----")]
    return [line for line in lines if line not in public]
