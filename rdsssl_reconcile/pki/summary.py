"""What we show about certificates and keys: identity and fingerprints, never secrets.

Certificates are shown by subject, SANs, issuer, serial, validity and SHA-256 fingerprint of the DER;
keys only by type, size and the SHA-256 fingerprint of their *public* key (SubjectPublicKeyInfo DER).
Comparing keys through the public key lets the plan tell "same key" from "new key" without ever
holding a private key in a value that could be printed or saved.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from rdsssl_reconcile.pki.pem import PrivateKey

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | dsa.DSAPublicKey
)


def colon_hex(digest: bytes) -> str:
    """``AB:CD:...``, the way `openssl x509 -fingerprint` prints it, so users can compare by eye."""
    return ":".join(f"{b:02X}" for b in digest)


def sha256_fingerprint(der: bytes) -> str:
    return colon_hex(hashlib.sha256(der).digest())


def public_key_fingerprint(public_key: object) -> str:
    """SHA-256 over the SubjectPublicKeyInfo DER: equal for a key and the certificate made from it."""
    der = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return sha256_fingerprint(der)


def describe_key_type(public_key: object) -> tuple[str, int]:
    """("RSA", 2048), ("EC P-256", 256), ("Ed25519", 256)..."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(
            public_key.curve.name, public_key.curve.name
        )
        return f"EC {curve}", public_key.curve.key_size
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(public_key, dsa.DSAPublicKey):
        return "DSA", public_key.key_size
    return type(public_key).__name__, 0


def common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", errors="replace")


def _subject_alt_name(item: x509.Certificate | x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return item.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def dns_sans(item: x509.Certificate | x509.CertificateSigningRequest) -> tuple[str, ...]:
    """DNS subjectAltNames of a certificate or a CSR."""
    san = _subject_alt_name(item)
    return tuple(san.get_values_for_type(x509.DNSName)) if san else ()


def ip_sans(item: x509.Certificate | x509.CertificateSigningRequest) -> tuple[str, ...]:
    """IP subjectAltNames of a certificate or a CSR, as strings."""
    san = _subject_alt_name(item)
    return tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)) if san else ()


def json_safe(value: object) -> dict[str, object]:
    """A summary dataclass as JSON-safe data: tuples as lists, datetimes as ``YYYY-MM-DDTHH:MM:SSZ``."""
    out: dict[str, object] = {}
    for field in dataclasses.fields(value):  # type: ignore[arg-type]
        item = getattr(value, field.name)
        if isinstance(item, tuple):
            item = list(item)
        elif isinstance(item, datetime):
            item = item.strftime("%Y-%m-%dT%H:%M:%SZ")
        out[field.name] = item
    return out


def is_ca_certificate(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class CertSummary:
    """The public identity of a certificate, safe to print, store in plan files and compare.

    Two certificates are "the same" when ``sha256`` (of the DER) is equal; everything else is here so
    plans and reports can say *what* changed (SANs, issuer, expiry) instead of "(sensitive)".
    """

    subject: str
    common_name: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    sha256: str
    public_key_sha256: str
    key_type: str
    key_size: int
    signature_hash: str | None
    version: int
    is_ca: bool
    self_signed: bool

    def days_left(self, now: datetime) -> float:
        """Days until expiry (negative once expired); a naive ``now`` is taken as UTC instead of raising."""
        return (self.not_after - _utc(now)).total_seconds() / 86400

    def short(self) -> str:
        """One line for plans: ``CN=db.example.com, SANs [a, b], expires 2027-11-27, sha256 AB:CD:..``."""
        names = ", ".join(self.dns_names) if self.dns_names else (self.common_name or "-")
        return (
            f"{names} (issuer {self.issuer}, serial {self.serial[:16]}, "
            f"expires {self.not_after:%Y-%m-%d}, sha256 {self.sha256[:23]})"
        )

    def to_dict(self) -> dict[str, object]:
        return json_safe(self)


def summarize_certificate(cert: x509.Certificate) -> CertSummary:
    public_key = cert.public_key()
    key_type, key_size = describe_key_type(public_key)
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        # An exotic signature OID must not turn `certs inspect` or a plan into an internal error.
        algorithm = None
    der = cert.public_bytes(serialization.Encoding.DER)
    return CertSummary(
        subject=cert.subject.rfc4514_string(),
        common_name=common_name(cert.subject),
        dns_names=dns_sans(cert),
        ip_addresses=ip_sans(cert),
        issuer=cert.issuer.rfc4514_string(),
        serial=f"{cert.serial_number:X}",
        not_before=_utc(cert.not_valid_before_utc),
        not_after=_utc(cert.not_valid_after_utc),
        sha256=sha256_fingerprint(der),
        public_key_sha256=public_key_fingerprint(public_key),
        key_type=key_type,
        key_size=key_size,
        signature_hash=algorithm.name if isinstance(algorithm, hashes.HashAlgorithm) else None,
        version=cert.version.value + 1,
        is_ca=is_ca_certificate(cert),
        self_signed=cert.issuer == cert.subject,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySummary:
    """A private key, described only through its public half."""

    key_type: str
    key_size: int
    public_key_sha256: str

    def short(self) -> str:
        return f"{self.key_type} {self.key_size}, public key sha256 {self.public_key_sha256[:23]}"

    def to_dict(self) -> dict[str, object]:
        return json_safe(self)


def summarize_private_key(key: PrivateKey) -> KeySummary:
    public_key = key.public_key()
    key_type, key_size = describe_key_type(public_key)
    return KeySummary(key_type=key_type, key_size=key_size, public_key_sha256=public_key_fingerprint(public_key))


@dataclass(frozen=True, slots=True, kw_only=True)
class CrlSummary:
    issuer: str
    last_update: datetime
    next_update: datetime | None
    revoked_count: int
    sha256: str

    def short(self) -> str:
        nxt = f", next update {self.next_update:%Y-%m-%d}" if self.next_update else ""
        return f"CRL by {self.issuer}, {self.revoked_count} revoked{nxt}, sha256 {self.sha256[:23]}"

    def to_dict(self) -> dict[str, object]:
        return json_safe(self)


def summarize_crl(crl: x509.CertificateRevocationList) -> CrlSummary:
    next_update = crl.next_update_utc
    return CrlSummary(
        issuer=crl.issuer.rfc4514_string(),
        last_update=_utc(crl.last_update_utc),
        next_update=_utc(next_update) if next_update else None,
        revoked_count=sum(1 for _ in crl),
        sha256=sha256_fingerprint(crl.public_bytes(serialization.Encoding.DER)),
    )


def key_matches_certificate(key: PrivateKey, cert: x509.Certificate) -> bool:
    """True when ``key`` is the private half of the certificate's public key."""
    return public_key_fingerprint(key.public_key()) == public_key_fingerprint(cert.public_key())
