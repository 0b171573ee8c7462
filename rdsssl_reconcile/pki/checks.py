"""The one validation of certificate material, shared by ``validate``, ``plan`` and ``certs check``.

Everything an operator can get wrong while making a custom certificate ("Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance")
shows up on RDS only after a
~3 minute restart (or as clients that cannot connect): a passphrase on the key, a key from another pair,
an expired certificate, an endpoint the certificate does not name. This module finds those mistakes
offline, from PEM text alone, and explains each one in terms of what RDS and its clients will do.

Design:

* Pure: PEM ``bytes``/``str`` and an explicit ``now`` in, a :class:`CertificateReport` out. No files, no
  network, no clock reads, no exceptions for bad input (bad input is a failed check).
* Every check always yields exactly one :class:`CheckResult`, in a fixed order (:data:`SERVER_CHECKS`,
  :data:`CLIENT_CA_CHECKS`), so reports are stable and callers can look results up by ``code``. A check
  that cannot run (no key given, no CA given, no certificate found) is ``SKIP`` with the reason.
* Messages name the offending value (a hostname, a date, a fingerprint) and never key material.

Convention for outcome and severity: ``FAIL`` carries ``ERROR``; ``WARN`` carries ``WARNING`` or, for
things we accept and fix ourselves (a PKCS#1 key converted to PKCS#8), ``INFO``; ``PASS`` and ``SKIP``
carry ``INFO``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from rdsssl_reconcile.errors import PemError
from rdsssl_reconcile.pki.hostname import names_checked_for, uncovered
from rdsssl_reconcile.pki.pem import (
    CERTIFICATE_LABELS,
    CRL_LABELS,
    PRIVATE_KEY_LABELS,
    KeyEncoding,
    LoadedKey,
    PemBlock,
    certificate_from_block,
    find_pem_blocks,
    load_private_key,
)
from rdsssl_reconcile.pki.summary import (
    CertSummary,
    KeySummary,
    dns_sans,
    is_ca_certificate,
    key_matches_certificate,
    public_key_fingerprint,
    summarize_certificate,
    summarize_private_key,
)

__all__ = [
    "CLIENT_CA_CHECKS",
    "KEY_FILE_CHECKS",
    "SERVER_CHECKS",
    "CertificateReport",
    "CheckResult",
    "Outcome",
    "Severity",
    "can_sign_certificates",
    "check_client_ca",
    "check_server_certificate",
]


class Severity(Enum):
    """How much a finding matters. Only ``ERROR`` makes a report not ``ok``."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Outcome(Enum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


#: Server certificate checks, in report order. Each appears exactly once in every report.
SERVER_CHECKS: tuple[str, ...] = (
    "pem-found",
    "key-found",
    "key-unencrypted",
    "key-pkcs8",
    "key-matches",
    "not-expired",
    "renewal-window",
    "chain",
    "leaf-not-ca",
    "key-usage",
    "key-strength",
    "signature-hash",
    "covers-endpoints",
    "covers-instance-endpoints",
)

#: Checks whose finding is about the key file (to point an error at it). ``key-usage`` and ``key-strength``
#: judge the certificate's extensions and public key, so they belong to the certificate file.
KEY_FILE_CHECKS: frozenset[str] = frozenset({"key-found", "key-unencrypted", "key-pkcs8", "key-matches"})

#: Client CA (``ClientCACert`` / ``ClientCrl``) checks, in report order.
CLIENT_CA_CHECKS: tuple[str, ...] = (
    "pem-found",
    "ca-is-ca",
    "ca-self-signed",
    "not-expired",
    "crl-found",
    "crl-signed",
    "crl-next-update",
)

#: Longest chain we follow; real chains have 2 or 3 certificates.
_MAX_CHAIN_DEPTH = 8
_WEAK_HASHES = frozenset({"md5", "sha1"})
_MIN_RSA_BITS = 2048
_GOOD_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One check's verdict.

    Attributes:
        code: stable identifier (one of :data:`SERVER_CHECKS` / :data:`CLIENT_CA_CHECKS`).
        outcome: pass, fail, warn or skip.
        severity: meaningful when the outcome is ``FAIL`` or ``WARN``.
        message: what was found, with the offending value; never key material.
        why: why it matters on RDS and how to fix it; empty for passes.
    """

    code: str
    outcome: Outcome
    severity: Severity
    message: str
    why: str = ""

    @property
    def is_finding(self) -> bool:
        """A fail or a warn: something to show the user."""
        return self.outcome in (Outcome.FAIL, Outcome.WARN)

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "outcome": self.outcome.value,
            "severity": self.severity.value,
            "message": self.message,
            "why": self.why,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateReport:
    """Every check's result plus the identity of what was checked (summaries only, no key material)."""

    results: tuple[CheckResult, ...]
    certificate: CertSummary | None
    chain: tuple[CertSummary, ...] = ()
    key: KeySummary | None = None
    key_needs_conversion: bool = False

    @property
    def errors(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.is_finding and r.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.is_finding and r.severity is Severity.WARNING)

    @property
    def notices(self) -> tuple[CheckResult, ...]:
        """Findings we accept and handle ourselves (``INFO``), e.g. a key that will be converted to PKCS#8."""
        return tuple(r for r in self.results if r.is_finding and r.severity is Severity.INFO)

    @property
    def ok(self) -> bool:
        """No errors: the material can be sent to RDS (warnings may still deserve attention)."""
        return not self.errors

    def result(self, code: str) -> CheckResult:
        """The result of check ``code``; KeyError for a code this report does not have."""
        for r in self.results:
            if r.code == code:
                return r
        raise KeyError(code)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "results": [r.to_dict() for r in self.results],
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "chain": [c.to_dict() for c in self.chain],
            "key": self.key.to_dict() if self.key else None,
            "key_needs_conversion": self.key_needs_conversion,
        }


# --- result constructors ----------------------------------------------------------------------------


def _passed(code: str, message: str) -> CheckResult:
    return CheckResult(code=code, outcome=Outcome.PASS, severity=Severity.INFO, message=message)


def _failed(code: str, message: str, why: str) -> CheckResult:
    return CheckResult(code=code, outcome=Outcome.FAIL, severity=Severity.ERROR, message=message, why=why)


def _warned(code: str, message: str, why: str, *, severity: Severity = Severity.WARNING) -> CheckResult:
    return CheckResult(code=code, outcome=Outcome.WARN, severity=severity, message=message, why=why)


def _skipped(code: str, reason: str) -> CheckResult:
    return CheckResult(code=code, outcome=Outcome.SKIP, severity=Severity.INFO, message=reason)


def _aware(now: datetime) -> datetime:
    """Naive datetimes are taken as UTC, like `cryptography` does for certificate dates."""
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- why texts (shared between checks) --------------------------------------------------------------

_WHY_NO_CERT = (
    "RDS takes the server certificate as PEM text (ServerCert): the whole '-----BEGIN CERTIFICATE-----' to "
    "'-----END CERTIFICATE-----' block of server.crt. Use the signed certificate (server.crt, the output of signing the CSR with the CA), not the "
    "CSR, the key or the CA."
)
_WHY_NO_KEY = (
    "RDS takes the private key of the server certificate as PEM text (ServerKey): the "
    "'BEGIN PRIVATE KEY' block of server.key, written together with server.csr."
)
_WHY_ENCRYPTED = (
    'RDS cannot enable SSL with a passphrase-protected key ("Configure a custom certificate for an ApsaraDB RDS '
    "for PostgreSQL instance\": 'Password-encrypted private keys prevent "
    "SSL encryption from being enabled'). Remove the passphrase: `openssl pkey -in server.key -out "
    "server-nopass.key` (it asks for the passphrase once and writes an unencrypted PKCS#8 key), keep the new "
    "file mode 0600, and use it instead; or issue a new pair with `rdsssl-reconcile certs issue`."
)
_WHY_PKCS8 = (
    "RDS documents only PKCS#8 keys ('BEGIN PRIVATE KEY') for ServerKey. The key is the same "
    "after conversion, so the certificate still matches; rdsssl-reconcile converts it before sending. To "
    "convert the file yourself: `openssl pkey -in server.key -out server-pkcs8.key`."
)
_WHY_KEY_MISMATCH = (
    "The certificate and the key must be one pair: RDS rejects a key from another pair "
    "(InvalidServerCertOrPrivateKey), and a server with such a pair could not complete a TLS handshake. Use "
    "the server.key that was written together with the server.csr this certificate was signed from."
)
_WHY_NOT_YET_VALID = (
    "Clients refuse a certificate before its notBefore date (sslmode=verify-ca and verify-full fail with "
    "'certificate is not yet valid'). Check the clock of the machine that signed it, or wait."
)
_WHY_EXPIRED = (
    "Clients using sslmode=verify-ca or verify-full refuse an expired certificate, so connections fail; and "
    "configuring it still costs a restart of about 3 minutes. Issue a new certificate "
    "(`rdsssl-reconcile certs issue`) and apply it in a maintenance window."
)
_WHY_RENEW = (
    "Replacing a custom certificate restarts the instance (about 3 minutes), so renew it in a planned "
    "maintenance window before it expires rather than after clients start failing."
)
_WHY_CHAIN = (
    "Clients with sslmode=verify-ca or verify-full trust only the CA they are given (sslrootcert, e.g. "
    "server-ca.crt) and refuse a server certificate that CA did not sign, directly or through the "
    "intermediate certificates included after the leaf."
)
_WHY_LEAF_CA = (
    "The server certificate must be an end-entity certificate. A CA certificate here is usually "
    "server-ca.crt pasted instead of server.crt; strict TLS verifiers refuse a CA certificate as a server's "
    "certificate, and the CA key must never be installed on the database."
)
_WHY_KEY_USAGE = (
    "TLS clients enforce keyUsage and extendedKeyUsage: the server key must be allowed to sign (every TLS 1.3 "
    "and ECDHE handshake) and, for RSA, to encipher keys (RSA key exchange in older clients); an "
    'extendedKeyUsage without serverAuth forbids TLS server use. The v3_req section of "Configure a custom '
    "certificate for an ApsaraDB RDS for PostgreSQL instance\" uses 'keyUsage = "
    "nonRepudiation, digitalSignature, keyEncipherment'."
)
_WHY_KEY_STRENGTH = (
    "OpenSSL (which PostgreSQL and libpq use) refuses RSA keys shorter than 2048 bits at its default security "
    "level, so clients could not connect. Issue a new certificate with an RSA-2048 or larger, or EC P-256, key."
)
_WHY_KEY_ALGORITHM = (
    "RDS documents RSA keys; other algorithms are not documented as accepted for ServerKey and are not "
    "supported by every PostgreSQL client. RSA-2048+ or EC P-256 are the safe choices."
)
_WHY_WEAK_HASH = (
    "OpenSSL 3 (and therefore current libpq, psql and most drivers) refuses SHA-1 and MD5 certificate "
    "signatures at its default security level, so clients that verify the certificate cannot connect. "
    "Re-sign with SHA-256 (the default of `openssl x509 -req` and of `rdsssl-reconcile certs issue`)."
)
_WHY_COVERAGE = (
    "Clients with sslmode=verify-full (libpq, JDBC, most drivers) compare the host they connect to with the "
    "certificate's DNS SANs, or with its CN only when it has no DNS SAN, and refuse the connection when none "
    "matches. Put every endpoint in the certificate as a DNS SAN (the [alt_names] section of the "
    "custom-certificate procedure, or `certs issue "
    "--endpoint A --endpoint B`)."
)
_WHY_INSTANCE_ENDPOINTS = (
    "The instance also answers on these endpoints (DescribeDBInstanceNetInfo). Clients that connect through "
    "them with sslmode=verify-full will be refused. Add them to the certificate and to the spec's endpoints, "
    "or make sure clients only use the covered endpoints."
)


# --- server certificate -----------------------------------------------------------------------------


def _describe_labels(blocks: Sequence[PemBlock]) -> str:
    labels = sorted({b.label for b in blocks})
    return ", ".join(labels) if labels else "no PEM block at all"


def _find_certificates(pem: bytes | str, *, what: str) -> tuple[tuple[x509.Certificate, ...], CheckResult]:
    """Parse every certificate block of ``pem`` (leaf first) into a ``pem-found`` result."""
    code = "pem-found"
    try:
        blocks = find_pem_blocks(pem)
    except PemError as exc:
        return (), _failed(code, f"the {what} is not usable PEM: {exc}", _WHY_NO_CERT)
    cert_blocks = [b for b in blocks if b.label in CERTIFICATE_LABELS]
    if not cert_blocks:
        hint = ""
        labels = {b.label for b in blocks}
        if labels & {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}:
            hint = " (a CSR must be signed by the CA first, as in the custom-certificate procedure)"
        elif labels & PRIVATE_KEY_LABELS:
            hint = " (is this the key file? the certificate and key may be swapped)"
        return (), _failed(
            code, f"no certificate block in the {what}; found {_describe_labels(blocks)}{hint}", _WHY_NO_CERT
        )
    certs: list[x509.Certificate] = []
    for block in cert_blocks:
        try:
            certs.append(certificate_from_block(block))
        except PemError as exc:
            return (), _failed(code, f"{exc} (in the {what})", _WHY_NO_CERT)
    text = pem.decode("utf-8", errors="replace") if isinstance(pem, bytes) else pem
    stripped = text.strip()
    extra = (
        ""
        if stripped.startswith("-----BEGIN") and stripped.endswith("-----")
        else ("; the text around the PEM blocks (e.g. an `openssl -text` dump) is ignored, only the PEM is sent")
    )
    found = "1 certificate" if len(certs) == 1 else f"{len(certs)} certificates (the leaf and {len(certs) - 1} more)"
    return tuple(certs), _passed(code, f"{found} in the {what}{extra}")


@dataclass(frozen=True, slots=True)
class _KeyState:
    loaded: LoadedKey | None
    results: tuple[CheckResult, CheckResult, CheckResult]  # key-found, key-unencrypted, key-pkcs8


def _load_key(key_pem: bytes | str | None) -> _KeyState:
    if key_pem is None:
        reason = "no private key given; key checks need the key file"
        return _KeyState(
            None, (_skipped("key-found", reason), _skipped("key-unencrypted", reason), _skipped("key-pkcs8", reason))
        )
    try:
        blocks = find_pem_blocks(key_pem)
    except PemError as exc:
        return _key_not_found(f"the private key is not usable PEM: {exc}")
    key_blocks = [b for b in blocks if b.label in PRIVATE_KEY_LABELS]
    if not key_blocks:
        hint = (
            " (is this the certificate file? the certificate and key may be swapped)"
            if any(b.label in CERTIFICATE_LABELS for b in blocks)
            else ""
        )
        return _key_not_found(f"no private key block in the key input; found {_describe_labels(blocks)}{hint}")
    block = key_blocks[0]
    if block.is_encrypted:
        kind = (
            "PKCS#8 'ENCRYPTED PRIVATE KEY'"
            if block.label == "ENCRYPTED PRIVATE KEY"
            else (f"'{block.label}' with a 'Proc-Type: 4,ENCRYPTED' header")
        )
        skip = "the key is encrypted; it cannot be read without the passphrase"
        return _KeyState(
            None,
            (
                _passed("key-found", f"a private key block ({block.label}) at line {block.line}"),
                _failed("key-unencrypted", f"the private key is passphrase-protected: {kind}", _WHY_ENCRYPTED),
                _skipped("key-pkcs8", skip),
            ),
        )
    try:
        loaded = load_private_key(key_pem, what="private key")
    except PemError as exc:
        return _key_not_found(str(exc))
    summary = summarize_private_key(loaded.key)
    if loaded.encoding is KeyEncoding.PKCS8:
        pkcs8 = _passed("key-pkcs8", "PKCS#8 ('BEGIN PRIVATE KEY'), the form RDS documents")
    else:
        form = (
            "PKCS#1 ('BEGIN RSA PRIVATE KEY')"
            if loaded.encoding is KeyEncoding.PKCS1
            else ("SEC1 ('BEGIN EC PRIVATE KEY')")
        )
        pkcs8 = _warned(
            "key-pkcs8",
            f"{form} key accepted; it is converted to PKCS#8 ('BEGIN PRIVATE KEY') before it is sent",
            _WHY_PKCS8,
            severity=Severity.INFO,
        )
    return _KeyState(
        loaded,
        (
            _passed("key-found", f"{summary.key_type} {summary.key_size} private key, {_fingerprint(summary)}"),
            _passed("key-unencrypted", "the private key has no passphrase"),
            pkcs8,
        ),
    )


def _fingerprint(summary: KeySummary) -> str:
    return f"public key sha256 {summary.public_key_sha256}"


def _key_not_found(message: str) -> _KeyState:
    skip = "no readable private key"
    return _KeyState(
        None,
        (_failed("key-found", message, _WHY_NO_KEY), _skipped("key-unencrypted", skip), _skipped("key-pkcs8", skip)),
    )


def _check_key_matches(
    loaded: LoadedKey | None, key_present: bool, leaf: x509.Certificate, chain: Sequence[x509.Certificate]
) -> CheckResult:
    code = "key-matches"
    if loaded is None:
        return _skipped(code, "no readable private key to compare" if key_present else "no private key given")
    if key_matches_certificate(loaded.key, leaf):
        return _passed(code, "the private key belongs to the certificate (same public key)")
    for position, cert in enumerate(chain, start=2):
        if key_matches_certificate(loaded.key, cert):
            return _failed(
                code,
                f"the private key belongs to certificate {position} in the file ({_name(cert)}), not to the first "
                f"one ({_name(leaf)}); the server certificate must come first",
                _WHY_KEY_MISMATCH,
            )
    return _failed(
        code,
        f"the private key belongs to another certificate: the key's public key sha256 is "
        f"{public_key_fingerprint(loaded.key.public_key())[:23]}..., the certificate's is "
        f"{public_key_fingerprint(leaf.public_key())[:23]}...",
        _WHY_KEY_MISMATCH,
    )


def _check_not_expired(cert: x509.Certificate, now: datetime) -> CheckResult:
    code = "not-expired"
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < not_before:
        days = (not_before - now).total_seconds() / 86400
        return _failed(code, f"not valid until {_date(not_before)} ({days:.1f} days from now)", _WHY_NOT_YET_VALID)
    if now > not_after:
        days = (now - not_after).total_seconds() / 86400
        return _failed(code, f"expired on {_date(not_after)} ({days:.0f} days ago)", _WHY_EXPIRED)
    days_left = (not_after - now).total_seconds() / 86400
    return _passed(code, f"valid from {_date(not_before)} until {_date(not_after)} ({days_left:.0f} days left)")


def _check_renewal_window(cert: x509.Certificate, now: datetime, renew_before_days: int) -> CheckResult:
    code = "renewal-window"
    not_after = cert.not_valid_after_utc
    if not cert.not_valid_before_utc <= now <= not_after:
        return _skipped(code, "the certificate is not valid now (see not-expired)")
    days_left = (not_after - now).total_seconds() / 86400
    if days_left < renew_before_days:
        return _warned(
            code,
            f"expires in {days_left:.0f} days (on {_date(not_after)}), within the {renew_before_days}-day "
            "renewal window",
            _WHY_RENEW,
        )
    return _passed(code, f"expires in {days_left:.0f} days, outside the {renew_before_days}-day renewal window")


# --- chain ------------------------------------------------------------------------------------------


def _strict_subject(leaf: x509.Certificate) -> DNSName | IPAddress | None:
    """A name the leaf claims, for `cryptography`'s server verifier (it insists on one)."""
    for name in dns_sans(leaf):
        # The verifier wants a concrete host name: stand a label in for a wildcard.
        return DNSName(name.replace("*", "x", 1).rstrip("."))
    try:
        ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    for ip in ext.value.get_values_for_type(x509.IPAddress):
        if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return IPAddress(ip)
    return None


def _strict_verify(
    leaf: x509.Certificate, chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], now: datetime
) -> str | None:
    """RFC 5280 / CA-Browser-Forum path validation; None when it verifies, else why not."""
    if leaf.version is not x509.Version.v3:
        return "it is an X.509 v1 certificate (no extensions), which the strict verifier does not accept"
    subject = _strict_subject(leaf)
    if subject is None:
        return "it has no subjectAltName, which the strict verifier requires"
    try:
        verifier = PolicyBuilder().store(Store(list(anchors))).time(now).build_server_verifier(subject)
        verifier.verify(leaf, list(chain))
    except (VerificationError, ValueError, TypeError) as exc:
        return str(exc).split(" (encountered processing", 1)[0]
    return None


def can_sign_certificates(cert: x509.Certificate) -> bool:
    """OpenSSL's rule: a CA by basicConstraints (and keyCertSign if keyUsage is present), or a v1 self-signed root."""
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return cert.version is x509.Version.v1 and cert.issuer == cert.subject
    if not constraints.ca:
        return False
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(usage.key_cert_sign)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _is_root(cert: x509.Certificate) -> bool:
    """Self-signed: its own issuer, and its signature verifies with its own key."""
    return cert.issuer == cert.subject and _signed_by(cert, cert)


def _path_length_limit(cert: x509.Certificate) -> int | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
    except x509.ExtensionNotFound:
        return None


def _signature_path(
    leaf: x509.Certificate, chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], now: datetime
) -> str | None:
    """The checks OpenSSL (hence libpq) makes, for certificates the strict verifier refuses (the documented single-endpoint v1 leaf).

    Walks leaf -> issuer by subject name and signature through the chain and the CA file until a *root*
    of the CA file is reached: libpq does not enable OpenSSL's partial-chain mode, so an intermediate in
    ``sslrootcert`` is not enough. Every issuer must be a CA, valid at ``now`` and within its
    ``pathLenConstraint``. The leaf's own dates are the not-expired check's business. Returns None when a
    path exists, else what is wrong.
    """
    anchor_ders = {_der(a) for a in anchors}
    pool = [*chain, *anchors]
    if _der(leaf) in anchor_ders and _is_root(leaf):
        return None  # a self-signed certificate trusted as itself
    current = leaf
    seen = {_der(leaf)}
    # The loop index is the number of CA certificates between the leaf and the issuer being checked.
    for intermediates_below in range(_MAX_CHAIN_DEPTH):
        named = [c for c in pool if c.subject == current.issuer and _der(c) not in seen]
        if not named:
            ca_names = ", ".join(_name(a) for a in anchors)
            if current is not leaf and _der(current) in anchor_ders:
                return (
                    f"the CA file ({ca_names}) ends at {_name(current)}, which is not a root: libpq (OpenSSL) "
                    f"needs the root that issued it ({current.issuer.rfc4514_string()!r}) in sslrootcert too"
                )
            return (
                f"{_name(current)} was issued by {current.issuer.rfc4514_string()!r}, which is neither in the CA "
                f"file ({ca_names}) nor in the chain"
            )
        issuer = next((c for c in named if _signed_by(current, c)), None)
        if issuer is None:
            return (
                f"the signature of {_name(current)} does not verify with the key of {_name(named[0])}: same name, "
                "different key (was the CA re-created with the same CN?)"
            )
        if not can_sign_certificates(issuer):
            return f"{_name(issuer)} signed {_name(current)} but is not a CA (basicConstraints/keyUsage)"
        if not issuer.not_valid_before_utc <= now <= issuer.not_valid_after_utc:
            return (
                f"the CA certificate {_name(issuer)} is not valid now (valid {_date(issuer.not_valid_before_utc)} "
                f"to {_date(issuer.not_valid_after_utc)})"
            )
        limit = _path_length_limit(issuer)
        if limit is not None and intermediates_below > limit:
            return (
                f"{_name(issuer)} allows {limit} intermediate CA(s) below it (pathLenConstraint), "
                f"the chain has {intermediates_below}"
            )
        if _der(issuer) in anchor_ders and _is_root(issuer):
            return None
        seen.add(_der(issuer))
        current = issuer
    return f"the chain is longer than {_MAX_CHAIN_DEPTH} certificates"


def _check_chain(
    leaf: x509.Certificate, chain: Sequence[x509.Certificate], ca_pem: bytes | str | None, now: datetime
) -> CheckResult:
    code = "chain"
    if ca_pem is None:
        return _skipped(code, "no CA certificate given (--ca / ca_cert); the signature chain was not verified")
    anchors, found = _find_certificates(ca_pem, what="CA certificate")
    if not anchors:
        return _failed(code, found.message.replace("no certificate block", "no CA certificate block"), _WHY_CHAIN)
    roots = [a for a in anchors if _is_root(a)]
    root_names = ", ".join(_name(a) for a in roots or anchors)
    # Only roots are trust anchors, as in libpq; other certificates of the CA file may serve as intermediates.
    strict_problem = (
        _strict_verify(leaf, [*chain, *(a for a in anchors if not _is_root(a))], roots, now)
        if roots
        else "the CA file holds no root (self-signed) certificate"
    )
    if strict_problem is None:
        return _passed(code, f"verifies to {root_names} (RFC 5280 path validation, cryptography's verifier)")
    problem = _signature_path(leaf, chain, anchors, now)
    if problem is None:
        return _passed(
            code,
            f"verifies to {root_names} by signature, issuer-name, CA-validity and path-length checks, as OpenSSL "
            f"and libpq do (the stricter RFC 5280 / Web PKI verifier refused it: {strict_problem})",
        )
    return _failed(code, f"does not verify to {root_names}: {problem}", _WHY_CHAIN)


# --- content checks ---------------------------------------------------------------------------------


def _check_leaf_not_ca(cert: x509.Certificate) -> CheckResult:
    code = "leaf-not-ca"
    if is_ca_certificate(cert):
        return _failed(code, f"{_name(cert)} is a CA certificate (basicConstraints CA:TRUE)", _WHY_LEAF_CA)
    try:
        cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return _passed(code, "no basicConstraints (X.509 v1 or no extension): an end-entity certificate")
    return _passed(code, "an end-entity certificate (basicConstraints CA:FALSE)")


def _check_key_usage(cert: x509.Certificate) -> CheckResult:
    code = "key-usage"
    is_rsa = isinstance(cert.public_key(), rsa.RSAPublicKey)
    problems: list[str] = []
    warnings: list[str] = []
    try:
        usage: x509.KeyUsage | None = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None:
        if not usage.digital_signature:
            problems.append("keyUsage lacks digitalSignature")
        if is_rsa and not usage.key_encipherment:
            warnings.append("keyUsage lacks keyEncipherment (RSA key exchange is refused)")
    try:
        eku: x509.ExtendedKeyUsage | None = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is not None and not {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(eku):
        names = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in eku)
        problems.append(f"extendedKeyUsage ({names}) lacks serverAuth")
    if problems:
        return _failed(code, "; ".join(problems + warnings), _WHY_KEY_USAGE)
    if warnings:
        return _warned(code, "; ".join(warnings), _WHY_KEY_USAGE)
    if usage is None and eku is None:
        return _passed(code, "no keyUsage or extendedKeyUsage restrictions (any use allowed)")
    return _passed(code, "keyUsage and extendedKeyUsage allow a TLS server")


def _check_key_strength(cert: x509.Certificate) -> CheckResult:
    code = "key-strength"
    public_key = cert.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < _MIN_RSA_BITS:
            return _failed(code, f"RSA {public_key.key_size} bits, below the 2048-bit minimum", _WHY_KEY_STRENGTH)
        return _passed(code, f"RSA {public_key.key_size} bits")
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _GOOD_CURVES:
            return _warned(code, f"EC key on curve {public_key.curve.name}", _WHY_KEY_ALGORITHM)
        return _passed(code, f"EC {public_key.curve.name}")
    if isinstance(public_key, dsa.DSAPublicKey):
        return _failed(code, f"DSA {public_key.key_size} bits: DSA cannot be used with TLS 1.3", _WHY_KEY_STRENGTH)
    if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return _warned(code, f"{type(public_key).__name__.removesuffix('PublicKey')} key", _WHY_KEY_ALGORITHM)
    return _failed(code, f"unsupported key type {type(public_key).__name__}", _WHY_KEY_ALGORITHM)


def _hash_name(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return "unknown"
    return None if algorithm is None else algorithm.name


def _check_signature_hash(leaf: x509.Certificate, chain: Sequence[x509.Certificate]) -> CheckResult:
    """Leaf and intermediates; a self-signed root's own signature is never checked by clients."""
    code = "signature-hash"
    weak = []
    for position, cert in enumerate([leaf, *chain], start=1):
        if cert.issuer == cert.subject and position > 1:
            continue
        name = _hash_name(cert)
        if name in _WEAK_HASHES:
            where = "the certificate" if position == 1 else f"chain certificate {position} ({_name(cert)})"
            weak.append(f"{where} is signed with {name.upper()}")
    if weak:
        return _failed(code, "; ".join(weak), _WHY_WEAK_HASH)
    leaf_hash = _hash_name(leaf)
    return _passed(code, f"signed with {leaf_hash.upper() if leaf_hash else 'EdDSA (no separate hash)'}")


def _describe_names(cert: x509.Certificate, hostname: str) -> str:
    names, source = names_checked_for(cert, hostname)
    if not names:
        return "the certificate names no host at all (no SAN, empty CN)"
    note = " (the CN is ignored when DNS SANs exist)" if source == "SAN" and dns_sans(cert) else ""
    return f"it names {', '.join(names)} in its {source}{note}"


def _check_covers(cert: x509.Certificate, endpoints: Sequence[str]) -> CheckResult:
    code = "covers-endpoints"
    if not endpoints:
        return _skipped(code, "no endpoints declared")
    missing = uncovered(cert, endpoints)
    if missing:
        return _failed(
            code,
            f"does not cover {', '.join(missing)}: {_describe_names(cert, missing[0])}",
            _WHY_COVERAGE,
        )
    return _passed(code, f"covers {_plural(len(endpoints), 'declared endpoint')}: {', '.join(endpoints)}")


def _normalized(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _check_covers_instance(
    cert: x509.Certificate, endpoints: Sequence[str], instance_endpoints: Sequence[str]
) -> CheckResult:
    code = "covers-instance-endpoints"
    if not instance_endpoints:
        return _skipped(code, "the instance's endpoints are not known here (plan reads them from the cloud)")
    declared = {_normalized(e) for e in endpoints}
    others = [e for e in instance_endpoints if _normalized(e) not in declared]
    missing = uncovered(cert, others)
    if missing:
        return _warned(
            code,
            f"the instance also has {', '.join(missing)}, which the certificate does not cover",
            _WHY_INSTANCE_ENDPOINTS,
        )
    return _passed(code, f"covers every endpoint the instance has ({len(instance_endpoints)})")


def check_server_certificate(
    *,
    cert_pem: bytes | str,
    key_pem: bytes | str | None,
    endpoints: Sequence[str],
    now: datetime,
    ca_pem: bytes | str | None = None,
    renew_before_days: int = 30,
    instance_endpoints: Sequence[str] = (),
) -> CertificateReport:
    """Check a server certificate (optionally with its chain), its key and its CA for use as an RDS custom cert.

    Args:
        cert_pem: ``server.crt`` as given: text dumps around the PEM are ignored; blocks after the first
            are the chain (intermediates).
        key_pem: ``server.key``; None skips the key checks.
        endpoints: the endpoints the spec declares; each must be covered (an error otherwise).
        now: the moment to judge validity at (the caller's clock; naive means UTC).
        ca_pem: the CA clients trust (``server-ca.crt``); None skips the chain check.
        renew_before_days: warn when fewer days than this are left.
        instance_endpoints: every endpoint the instance has (``DescribeDBInstanceNetInfo``); one the
            certificate does not cover is a warning, since clients may use it.

    Returns:
        A report with one result per code of :data:`SERVER_CHECKS`, in that order.
    """
    if renew_before_days < 0:
        raise ValueError(f"renew_before_days must be >= 0 (got {renew_before_days!r})")
    now = _aware(now)
    endpoints = tuple(e.strip() for e in endpoints if e.strip())
    certs, found = _find_certificates(cert_pem, what="certificate input")
    key_state = _load_key(key_pem)
    key_summary = summarize_private_key(key_state.loaded.key) if key_state.loaded else None
    needs_conversion = key_state.loaded is not None and key_state.loaded.encoding is not KeyEncoding.PKCS8
    results: list[CheckResult] = [found, *key_state.results]
    if not certs:
        skip = "no certificate to check"
        results += [_skipped(code, skip) for code in SERVER_CHECKS[len(results) :]]
        return CertificateReport(
            results=tuple(results),
            certificate=None,
            key=key_summary,
            key_needs_conversion=needs_conversion,
        )
    leaf, chain = certs[0], certs[1:]
    results += [
        _check_key_matches(key_state.loaded, key_pem is not None, leaf, chain),
        _check_not_expired(leaf, now),
        _check_renewal_window(leaf, now, renew_before_days),
        _check_chain(leaf, chain, ca_pem, now),
        _check_leaf_not_ca(leaf),
        _check_key_usage(leaf),
        _check_key_strength(leaf),
        _check_signature_hash(leaf, chain),
        _check_covers(leaf, endpoints),
        _check_covers_instance(leaf, endpoints, instance_endpoints),
    ]
    assert tuple(r.code for r in results) == SERVER_CHECKS
    return CertificateReport(
        results=tuple(results),
        certificate=summarize_certificate(leaf),
        chain=tuple(summarize_certificate(c) for c in chain),
        key=key_summary,
        key_needs_conversion=needs_conversion,
    )


# --- client CA --------------------------------------------------------------------------------------

_WHY_CLIENT_CA = (
    "RDS verifies client certificates with this CA (ClientCACert); only a CA certificate (basicConstraints "
    "CA:TRUE, or an X.509 v1 self-signed root) can have signed them, so with anything else every client "
    "certificate is refused."
)
_WHY_CLIENT_CA_SELF_SIGNED = (
    "RDS documents the client CA as a self-signed CA certificate; with an intermediate CA alone, the server "
    "may not be able to build a path to a trusted root and refuse client certificates."
)
_WHY_CLIENT_CA_EXPIRED = (
    "A server refuses client certificates whose CA is expired or not yet valid, so certificate-authenticated "
    "clients cannot connect. Create a new client CA and re-issue the client certificates."
)
_WHY_CRL = (
    "RDS takes the certificate revocation list as PEM text ('-----BEGIN X509 CRL-----', ClientCrl), issued "
    "by the client CA. A CRL that does not parse is refused."
)
_WHY_CRL_SIGNED = (
    "PostgreSQL turns on OpenSSL's CRL checking when a CRL is configured; if no valid CRL from the client "
    "CA is found, OpenSSL refuses every client certificate ('unable to get certificate CRL'). Sign the CRL "
    "with the client CA's key (`openssl ca -gencrl`)."
)
_WHY_CRL_NEXT_UPDATE = (
    "OpenSSL treats a CRL past its nextUpdate as expired ('CRL has expired') and then refuses client "
    "certificates; publish a fresh CRL before that date."
)


def _check_client_ca_is_ca(cert: x509.Certificate) -> CheckResult:
    code = "ca-is-ca"
    if can_sign_certificates(cert):
        return _passed(code, f"{_name(cert)} is a CA certificate")
    return _failed(code, f"{_name(cert)} is not a CA certificate (basicConstraints/keyUsage)", _WHY_CLIENT_CA)


def _check_client_ca_self_signed(cert: x509.Certificate) -> CheckResult:
    code = "ca-self-signed"
    if cert.issuer == cert.subject and _signed_by(cert, cert):
        return _passed(code, "self-signed root")
    return _warned(code, f"not self-signed: issued by {cert.issuer.rfc4514_string()!r}", _WHY_CLIENT_CA_SELF_SIGNED)


def _check_crl(
    ca: x509.Certificate, crl_pem: bytes | str | None, now: datetime
) -> tuple[CheckResult, CheckResult, CheckResult]:
    if crl_pem is None:
        reason = "no CRL given"
        return _skipped("crl-found", reason), _skipped("crl-signed", reason), _skipped("crl-next-update", reason)
    skip = "no readable CRL"
    try:
        blocks = [b for b in find_pem_blocks(crl_pem) if b.label in CRL_LABELS]
        if not blocks:
            raise PemError("no '-----BEGIN X509 CRL-----' block in the CRL")
        crl = x509.load_der_x509_crl(blocks[0].der)
    except (PemError, ValueError) as exc:
        return _failed("crl-found", str(exc), _WHY_CRL), _skipped("crl-signed", skip), _skipped("crl-next-update", skip)
    found = _passed("crl-found", f"CRL issued by {crl.issuer.rfc4514_string()!r}, {_plural(len(crl), 'revoked')}")
    if crl.issuer != ca.subject:
        signed = _failed(
            "crl-signed",
            f"the CRL is issued by {crl.issuer.rfc4514_string()!r}, not by the CA {_name(ca)}",
            _WHY_CRL_SIGNED,
        )
    elif not _crl_signature_valid(crl, ca):
        signed = _failed(
            "crl-signed", f"the CRL's signature does not verify with the key of {_name(ca)}", _WHY_CRL_SIGNED
        )
    else:
        signed = _passed("crl-signed", f"signed by {_name(ca)}")
    next_update = crl.next_update_utc
    if next_update is None:
        fresh = _passed("crl-next-update", "no nextUpdate date")
    elif next_update < now:
        # An error, not a warning: with an expired CRL every client certificate is refused.
        fresh = _failed("crl-next-update", f"nextUpdate {_date(next_update)} is in the past", _WHY_CRL_NEXT_UPDATE)
    else:
        fresh = _passed("crl-next-update", f"next update due {_date(next_update)}")
    return found, signed, fresh


def _crl_signature_valid(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    public_key = ca.public_key()
    if not isinstance(
        public_key,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | dsa.DSAPublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        return False
    try:
        return crl.is_signature_valid(public_key)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False


def check_client_ca(*, ca_pem: bytes | str, crl_pem: bytes | str | None, now: datetime) -> CertificateReport:
    """Check a client CA certificate (and optionally its CRL) for ``ClientCACert`` / ``ClientCrl``.

    Returns:
        A report with one result per code of :data:`CLIENT_CA_CHECKS`, in that order; ``certificate``
        is the CA and ``chain`` any further certificates in ``ca_pem``.
    """
    now = _aware(now)
    certs, found = _find_certificates(ca_pem, what="client CA certificate")
    if not certs:
        skip = "no CA certificate to check"
        return CertificateReport(
            results=(found, *(_skipped(code, skip) for code in CLIENT_CA_CHECKS[1:])), certificate=None
        )
    ca = certs[0]
    validity = _check_not_expired(ca, now)
    if validity.outcome is Outcome.FAIL:
        validity = _failed(validity.code, validity.message, _WHY_CLIENT_CA_EXPIRED)
    results = (
        found,
        _check_client_ca_is_ca(ca),
        _check_client_ca_self_signed(ca),
        validity,
        *_check_crl(ca, crl_pem, now),
    )
    assert tuple(r.code for r in results) == CLIENT_CA_CHECKS
    return CertificateReport(
        results=results,
        certificate=summarize_certificate(ca),
        chain=tuple(summarize_certificate(c) for c in certs[1:]),
    )
