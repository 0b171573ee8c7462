"""Describe every PEM block in a file: what ``certs inspect`` shows, as data.

Operators hand us whatever openssl left behind: ``-text`` dumps, chains, CSRs, CRLs, keys in three
encodings, sometimes encrypted. This module turns each block into an :class:`InspectedBlock` holding
only public facts: certificates and CSRs by subject, SANs and fingerprints; keys only by type, size and
the fingerprint of their *public* half (an encrypted key only by its label). Rendering is the CLI's job.
Pure: bytes in, values out, no clock (``days_left`` is computed by the caller).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from rdsssl_reconcile.errors import PemError
from rdsssl_reconcile.pki.pem import CERTIFICATE_LABELS, CRL_LABELS, PRIVATE_KEY_LABELS, PemBlock, find_pem_blocks
from rdsssl_reconcile.pki.summary import (
    CertSummary,
    CrlSummary,
    KeySummary,
    common_name,
    describe_key_type,
    dns_sans,
    ip_sans,
    json_safe,
    public_key_fingerprint,
    summarize_certificate,
    summarize_crl,
    summarize_private_key,
)

__all__ = ["BlockKind", "CsrSummary", "InspectedBlock", "inspect_pem", "summarize_csr"]

CSR_LABELS = frozenset({"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"})
_KEY_ENCODINGS = {"PRIVATE KEY": "PKCS#8", "RSA PRIVATE KEY": "PKCS#1", "EC PRIVATE KEY": "SEC1"}


class BlockKind(Enum):
    CERTIFICATE = "certificate"
    CSR = "csr"
    CRL = "crl"
    PRIVATE_KEY = "private-key"
    PUBLIC_KEY = "public-key"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class CsrSummary:
    """A certificate signing request (the custom-certificate procedure's ``server.csr``): the identity it asks for."""

    subject: str
    common_name: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    key_type: str
    key_size: int
    public_key_sha256: str
    signature_valid: bool

    def to_dict(self) -> dict[str, object]:
        return json_safe(self)


def summarize_csr(csr: x509.CertificateSigningRequest) -> CsrSummary:
    public_key = csr.public_key()
    key_type, key_size = describe_key_type(public_key)
    try:
        signature_valid = csr.is_signature_valid
    except UnsupportedAlgorithm:
        signature_valid = False
    return CsrSummary(
        subject=csr.subject.rfc4514_string(),
        common_name=common_name(csr.subject),
        dns_names=dns_sans(csr),
        ip_addresses=ip_sans(csr),
        key_type=key_type,
        key_size=key_size,
        public_key_sha256=public_key_fingerprint(public_key),
        signature_valid=signature_valid,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectedBlock:
    """One PEM block and what it is. Exactly one summary is set when the block parsed; ``note`` says why not.

    ``key_encoding`` is ``PKCS#8`` / ``PKCS#1`` / ``SEC1`` for private keys; ``encrypted`` marks a
    passphrase-protected key, of which nothing but the label can be known.
    """

    kind: BlockKind
    label: str
    line: int
    certificate: CertSummary | None = None
    csr: CsrSummary | None = None
    crl: CrlSummary | None = None
    key: KeySummary | None = None
    key_encoding: str | None = None
    encrypted: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"kind": self.kind.value, "label": self.label, "line": self.line}
        for name, value in (
            ("certificate", self.certificate),
            ("csr", self.csr),
            ("crl", self.crl),
            ("key", self.key),
        ):
            if value is not None:
                data[name] = value.to_dict()
        if self.key_encoding:
            data["key_encoding"] = self.key_encoding
        if self.kind is BlockKind.PRIVATE_KEY:
            data["encrypted"] = self.encrypted
        if self.note:
            data["note"] = self.note
        return data


def _inspect_private_key(block: PemBlock) -> InspectedBlock:
    encoding = _KEY_ENCODINGS.get(block.label, "PKCS#8")
    if block.is_encrypted:
        algorithm = {"RSA PRIVATE KEY": "RSA ", "EC PRIVATE KEY": "EC "}.get(block.label, "")
        return InspectedBlock(
            kind=BlockKind.PRIVATE_KEY,
            label=block.label,
            line=block.line,
            key_encoding=encoding,
            encrypted=True,
            note=f"{algorithm}private key encrypted with a passphrase; RDS cannot use it (remove the passphrase "
            "with `openssl pkey -in KEY -out KEY-nopass`)",
        )
    try:
        key = serialization.load_der_private_key(block.der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return InspectedBlock(
            kind=BlockKind.PRIVATE_KEY, label=block.label, line=block.line, note="not a valid private key"
        )
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
    ):
        return InspectedBlock(
            kind=BlockKind.PRIVATE_KEY,
            label=block.label,
            line=block.line,
            key_encoding=encoding,
            note=f"a {type(key).__name__}, which cannot serve TLS",
        )
    return InspectedBlock(
        kind=BlockKind.PRIVATE_KEY,
        label=block.label,
        line=block.line,
        key=summarize_private_key(key),
        key_encoding=encoding,
    )


def _inspect_block(block: PemBlock) -> InspectedBlock:
    label, line = block.label, block.line
    try:
        if label in CERTIFICATE_LABELS:
            cert = summarize_certificate(x509.load_der_x509_certificate(block.certificate_der))
            return InspectedBlock(kind=BlockKind.CERTIFICATE, label=label, line=line, certificate=cert)
        if label in CSR_LABELS:
            csr = summarize_csr(x509.load_der_x509_csr(block.der))
            return InspectedBlock(kind=BlockKind.CSR, label=label, line=line, csr=csr)
        if label in CRL_LABELS:
            crl = summarize_crl(x509.load_der_x509_crl(block.der))
            return InspectedBlock(kind=BlockKind.CRL, label=label, line=line, crl=crl)
        if label in PRIVATE_KEY_LABELS:
            return _inspect_private_key(block)
        if label == "PUBLIC KEY":
            public_key = serialization.load_der_public_key(block.der)
            key_type, key_size = describe_key_type(public_key)
            summary = KeySummary(
                key_type=key_type, key_size=key_size, public_key_sha256=public_key_fingerprint(public_key)
            )
            return InspectedBlock(kind=BlockKind.PUBLIC_KEY, label=label, line=line, key=summary)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        kind = {
            **dict.fromkeys(CERTIFICATE_LABELS, BlockKind.CERTIFICATE),
            **dict.fromkeys(CSR_LABELS, BlockKind.CSR),
            **dict.fromkeys(CRL_LABELS, BlockKind.CRL),
        }.get(label, BlockKind.PUBLIC_KEY)
        return InspectedBlock(kind=kind, label=label, line=line, note=f"the {label} block does not parse")
    return InspectedBlock(kind=BlockKind.OTHER, label=label, line=line, note="not a block rdsssl-reconcile uses")


def inspect_pem(data: bytes | str, *, what: str = "input") -> tuple[InspectedBlock, ...]:
    """Describe every PEM block of ``data``, in file order.

    Raises:
        PemError: ``data`` holds no PEM block at all, or a block's base64 is broken.
    """
    blocks = find_pem_blocks(data)
    if not blocks:
        raise PemError(f"no PEM block in the {what} (expected '-----BEGIN CERTIFICATE-----', a key, a CSR or a CRL)")
    return tuple(_inspect_block(b) for b in blocks)
