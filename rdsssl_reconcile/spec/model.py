"""The desired state, as frozen values built from validated spec files.

Certificates are held parsed (so they compare by meaning) together with a :class:`MaterialRef` that
says where they came from (so plans and plan files can name the file or variable). Private keys live
only in :class:`SecretKey`, whose ``repr`` and serialisation show the public-key fingerprint and the
reference, never the key; the PEM is produced on demand for the one request that needs it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from rdsssl_reconcile.pki.authority import CertificateAuthority, KeyType
from rdsssl_reconcile.pki.pem import (
    KeyEncoding,
    PrivateKey,
    certificates_to_pem,
    crl_to_pem,
    private_key_to_pkcs8_pem,
)
from rdsssl_reconcile.pki.summary import (
    CertSummary,
    CrlSummary,
    KeySummary,
    sha256_fingerprint,
    summarize_private_key,
)
from rdsssl_reconcile.spec.window import MaintenanceWindow


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value was written: file, line and key path (``instances[2].ssl.endpoints``)."""

    file: Path
    line: int | None
    path: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else str(self.file)


@dataclass(frozen=True, slots=True)
class MaterialRef:
    """Where PEM material comes from: ``{file: ...}``, ``{env: ...}`` or ``{pem: ...}`` (public only).

    ``written`` is the value as written in the spec (relative path, variable name); ``resolved`` the
    absolute path for files. Only references are ever stored in plan files.
    """

    kind: Literal["file", "env", "pem"]
    written: str
    resolved: Path | None = None

    def describe(self) -> str:
        if self.kind == "file":
            return f"file {self.written}"
        if self.kind == "env":
            return f"env ${self.written}"
        return "inline PEM"

    def to_json(self) -> dict[str, str]:
        if self.kind == "pem":
            return {"pem": "(inline)"}
        return {self.kind: self.written}


@dataclass(frozen=True, slots=True)
class CertificateMaterial:
    """A certificate (leaf first, then any chain) with its reference and summary."""

    ref: MaterialRef
    certificates: tuple[x509.Certificate, ...]
    summary: CertSummary

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def chain_sha256(self) -> tuple[str, ...]:
        """Fingerprints of the certificates after the leaf (sent with it in ServerCert)."""
        return tuple(sha256_fingerprint(c.public_bytes(Encoding.DER)) for c in self.certificates[1:])

    def pem(self) -> str:
        """Canonical PEM (whatever whitespace or text dump the file had)."""
        return certificates_to_pem(self.certificates)


@dataclass(frozen=True, slots=True)
class CrlMaterial:
    ref: MaterialRef
    crl: x509.CertificateRevocationList
    summary: CrlSummary

    def pem(self) -> str:
        return crl_to_pem(self.crl)


@dataclass(frozen=True, slots=True)
class SecretKey:
    """A private key. Never printed, logged or saved; only its public half is ever shown."""

    ref: MaterialRef
    key: PrivateKey = field(repr=False, compare=False)
    encoding: KeyEncoding
    summary: KeySummary

    @classmethod
    def of(cls, ref: MaterialRef, key: PrivateKey, encoding: KeyEncoding) -> SecretKey:
        return cls(ref=ref, key=key, encoding=encoding, summary=summarize_private_key(key))

    def __repr__(self) -> str:
        return f"SecretKey({self.ref.describe()}, {self.summary.short()})"

    def pkcs8_pem(self) -> str:
        """The key as unencrypted PKCS#8 PEM, for the API request only. Secret."""
        return private_key_to_pkcs8_pem(self.key)


class CertificateSource(Enum):
    ALIYUN = "aliyun"
    CUSTOM = "custom"
    ISSUER = "issuer"


@dataclass(frozen=True, slots=True)
class AliyunCertificate:
    """The Alibaba Cloud-managed certificate (protects exactly one endpoint, valid 365 days)."""

    source: Literal[CertificateSource.ALIYUN] = CertificateSource.ALIYUN


@dataclass(frozen=True, slots=True)
class CustomCertificate:
    """A certificate and key the user supplies."""

    cert: CertificateMaterial
    key: SecretKey
    source: Literal[CertificateSource.CUSTOM] = CertificateSource.CUSTOM


@dataclass(frozen=True, slots=True)
class IssuerCertificate:
    """Certificates this tool issues (and renews) from the CA it is given."""

    ca_cert: CertificateMaterial
    ca_key: SecretKey
    validity_days: int
    key_type: KeyType
    renew_before_days: int
    source: Literal[CertificateSource.ISSUER] = CertificateSource.ISSUER

    def authority(self) -> CertificateAuthority:
        return CertificateAuthority(certificate=self.ca_cert.leaf, private_key=self.ca_key.key)


DesiredCertificate = AliyunCertificate | CustomCertificate | IssuerCertificate


@dataclass(frozen=True, slots=True)
class ClientCa:
    cert: CertificateMaterial
    crl: CrlMaterial | None
    acl: str | None
    replication_acl: str | None


@dataclass(frozen=True, slots=True)
class DesiredSsl:
    enabled: bool
    endpoints: tuple[str, ...]
    certificate: DesiredCertificate | None
    client_ca: ClientCa | None


class RestartMode(Enum):
    ALLOWED = "allowed"
    WINDOW = "window"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    mode: RestartMode = RestartMode.ALLOWED
    window: MaintenanceWindow | None = None
    renew_before_days: int = 30

    def describe(self) -> str:
        if self.mode is RestartMode.WINDOW and self.window:
            return f"restart in window {self.window}"
        return f"restart {self.mode.value}"


@dataclass(frozen=True, slots=True)
class DesiredInstance:
    """One instance as the specs declare it."""

    id: str
    region: str
    description: str | None
    ssl: DesiredSsl
    policy: RestartPolicy
    location: Location
    #: ``labels:`` (name, value) pairs, sorted: for selecting instances only, so not part of the digest.
    labels: tuple[tuple[str, str], ...] = ()

    def digest(self) -> str:
        """SHA-256 of everything apply acts on: a plan is stale if this changes between plan and apply."""
        return hashlib.sha256(json.dumps(desired_to_json(self), sort_keys=True).encode()).hexdigest()


def _cert_json(material: CertificateMaterial) -> dict[str, Any]:
    # The chain is part of what is sent, so part of the digest a saved plan is checked against;
    # only present when there is one, so that chain-less digests stay what they were.
    chain = {"chain_sha256": list(material.chain_sha256)} if material.chain_sha256 else {}
    return {"ref": material.ref.to_json(), "sha256": material.summary.sha256, **chain}


def desired_to_json(instance: DesiredInstance) -> dict[str, Any]:
    """The desired state as JSON-safe data: references and fingerprints, never key material."""
    ssl = instance.ssl
    certificate: dict[str, Any] | None = None
    match ssl.certificate:
        case AliyunCertificate():
            certificate = {"source": "aliyun"}
        case CustomCertificate(cert=cert, key=key):
            certificate = {
                "source": "custom",
                "cert": _cert_json(cert),
                "key": {"ref": key.ref.to_json(), "public_key_sha256": key.summary.public_key_sha256},
            }
        case IssuerCertificate() as issuer:
            certificate = {
                "source": "issuer",
                "ca_cert": _cert_json(issuer.ca_cert),
                "ca_key": {
                    "ref": issuer.ca_key.ref.to_json(),
                    "public_key_sha256": issuer.ca_key.summary.public_key_sha256,
                },
                "validity_days": issuer.validity_days,
                "key_type": issuer.key_type.value,
                "renew_before_days": issuer.renew_before_days,
            }
    client_ca: dict[str, Any] | None = None
    if ssl.client_ca:
        client_ca = {
            "cert": _cert_json(ssl.client_ca.cert),
            "crl": {"ref": ssl.client_ca.crl.ref.to_json(), "sha256": ssl.client_ca.crl.summary.sha256}
            if ssl.client_ca.crl
            else None,
            "acl": ssl.client_ca.acl,
            "replication_acl": ssl.client_ca.replication_acl,
        }
    return {
        "id": instance.id,
        "region": instance.region,
        "ssl": {
            "enabled": ssl.enabled,
            "endpoints": list(ssl.endpoints),
            "certificate": certificate,
            "client_ca": client_ca,
        },
        "policy": {
            "restart": instance.policy.mode.value,
            "window": instance.policy.window.text if instance.policy.window else None,
            "renew_before_days": instance.policy.renew_before_days,
        },
    }
