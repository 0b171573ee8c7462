"""Certificate rules of the emulated RDS, on top of :mod:`rdsssl_reconcile.pki`.

RDS checks uploaded PEM ("Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance"): a certificate, an unencrypted private key, and a key that belongs to the
certificate. The checks return a *reason* instead of raising, because the API answers one fixed code
(``InvalidServerCertOrPrivateKey``) while the fleet loader wants to tell the user what is wrong. No reason
ever quotes key material: the pki parsers already guarantee that for their messages.

The emulated cloud CA lives here too: every ``CAType=aliyun`` modify gets a new server certificate from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509

from rdsssl_reconcile.errors import PemError
from rdsssl_reconcile.pki.authority import CertificateAuthority, KeyType
from rdsssl_reconcile.pki.hostname import covers, uncovered
from rdsssl_reconcile.pki.pem import (
    KeyEncoding,
    PrivateKey,
    find_pem_blocks,
    load_certificate,
    load_crl,
    load_private_key,
)
from rdsssl_reconcile.pki.summary import key_matches_certificate, sha256_fingerprint

CA_COMMON_NAME = "ApsaraDB RDS Emulated Root CA"


@dataclass(frozen=True, slots=True)
class CloudCertificate:
    """A certificate issued by the emulated cloud CA, with its (secret) key."""

    cert_pem: str
    key_pem: str = field(repr=False)
    issued_at: datetime
    expires_at: datetime


def server_pair_problem(
    cert_pem: str | None, key_pem: str | None, *, endpoints: tuple[str, ...] = (), check_hostname: bool = False
) -> str | None:
    """Why RDS would refuse this certificate and key, or None when it accepts them."""
    if not cert_pem or not key_pem:
        return "both a server certificate and its private key are required"
    try:
        cert = load_certificate(cert_pem, what="server certificate")
    except PemError as exc:
        return str(exc)
    try:
        loaded = load_private_key(key_pem, what="server private key")
    except PemError as exc:  # includes EncryptedKeyError
        return str(exc)
    if loaded.encoding not in (KeyEncoding.PKCS8, KeyEncoding.PKCS1):
        return f"the private key is {loaded.encoding.value.upper()}-encoded; RDS expects PKCS#8 (BEGIN PRIVATE KEY)"
    if not key_matches_certificate(loaded.key, cert):
        return "the private key does not belong to the server certificate"
    if check_hostname:
        missing = uncovered(cert, list(endpoints))
        if missing:
            return f"the certificate does not cover {', '.join(missing)}"
    return None


def certificate_problem(pem: str | None, *, what: str) -> str | None:
    if not pem:
        return f"the {what} is required"
    try:
        load_certificate(pem, what=what)
    except PemError as exc:
        return str(exc)
    return None


def crl_problem(pem: str | None) -> str | None:
    if not pem:
        return "the certificate revocation list is required"
    try:
        load_crl(pem, what="certificate revocation list")
    except PemError as exc:
        return str(exc)
    return None


def certificate_hosts_covered(cert_pem: str, hosts: list[str]) -> tuple[str, ...]:
    """The ``hosts`` the certificate's SANs (or CN) cover; none when the PEM does not parse."""
    try:
        certificate = load_certificate(cert_pem)
    except PemError:
        return ()
    return tuple(h for h in hosts if covers(certificate, h))


def certificate_not_after(cert_pem: str) -> datetime:
    return load_certificate(cert_pem).not_valid_after_utc


def new_emulated_ca(now: datetime) -> CertificateAuthority:
    """The emulated cloud CA (what ``ServerCAUrl`` serves). Long-lived so aged clocks stay inside it."""
    return CertificateAuthority.create(CA_COMMON_NAME, now=now, days=36500, key_type=KeyType.RSA_2048)


def issue_cloud_certificate(
    ca: CertificateAuthority,
    host: str,
    *,
    issued_at: datetime,
    expires_at: datetime | None = None,
    days: int = 365,
    key: PrivateKey | None = None,
    key_type: KeyType = KeyType.RSA_2048,
) -> CloudCertificate:
    """A cloud certificate for one endpoint, valid ``days`` from ``issued_at`` (or until ``expires_at``).

    With ``expires_at`` the certificate is back-computed so its notAfter is exactly that instant: fleets
    use this to seed an aged certificate whose ``SSLExpireTime`` and PEM agree.
    """
    issued_at = issued_at.replace(microsecond=0)
    if expires_at is not None:
        expires_at = expires_at.replace(microsecond=0)
        days = max(1, -(-int((expires_at - issued_at).total_seconds()) // 86400))
        start = expires_at - timedelta(days=days)
    else:
        start = issued_at
    issued = ca.issue_server_certificate([host], now=start, days=days, key_type=key_type, key=key)
    return CloudCertificate(
        cert_pem=issued.cert_pem(),
        key_pem=issued.key_pem(),
        issued_at=issued_at,
        expires_at=issued.certificate.not_valid_after_utc,
    )


def pem_fingerprint(value: str) -> str:
    """``sha256:..`` of the first PEM block's DER (or of the text when it has none): safe to log."""
    try:
        blocks = find_pem_blocks(value)
    except PemError:
        blocks = ()
    if blocks:
        return "sha256:" + sha256_fingerprint(blocks[0].der)
    return "sha256:" + hashlib.sha256(value.encode("utf-8", errors="replace")).hexdigest()


def certificate_of(pem: str) -> x509.Certificate:
    return load_certificate(pem)
