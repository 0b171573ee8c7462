"""Find and parse PEM material the way operators really hand it to us.

The openssl commands of "Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance"
(`openssl req ... -text`, `openssl x509 ... -text`) write a human-readable
dump *before* the PEM block, editors add CRLF line endings, and consoles strip or add trailing newlines.
RDS only wants the PEM blocks, so everything here first finds the blocks, then parses their DER. Two
certificates that differ only in that text therefore parse to the same DER, and nothing downstream can
produce a whitespace diff.

This module owns parsing only: no files, no clock, no policy. It takes ``bytes`` or ``str`` and returns
`cryptography` objects or raises :class:`PemError` (never with key material in the message).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from rdsssl_reconcile.errors import PemError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey

_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----(?P<body>.*?)-----END (?P=label)-----",
    re.DOTALL,
)
_HEADER_LINE = re.compile(r"^([A-Za-z-]+):\s*(.*)$")

CERTIFICATE_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"})
PRIVATE_KEY_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"})
CRL_LABELS = frozenset({"X509 CRL"})


class KeyEncoding(Enum):
    """How a private key arrived. RDS documents PKCS#8 (``BEGIN PRIVATE KEY``) only."""

    PKCS8 = "pkcs8"
    PKCS1 = "pkcs1"  # BEGIN RSA PRIVATE KEY (openssl 1.0 `genrsa`)
    SEC1 = "sec1"  # BEGIN EC PRIVATE KEY


@dataclass(frozen=True, slots=True)
class PemBlock:
    """One ``-----BEGIN X-----`` ... ``-----END X-----`` block.

    ``headers`` holds RFC 1421 headers such as ``Proc-Type: 4,ENCRYPTED`` that legacy encrypted PKCS#1
    keys carry; ``line`` is the 1-based line of the BEGIN marker so errors can point at it.
    """

    label: str
    der: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    line: int = 1

    def __repr__(self) -> str:  # never echo the body: it may be a private key
        return f"PemBlock(label={self.label!r}, line={self.line}, {len(self.der)} bytes)"

    @property
    def certificate_der(self) -> bytes:
        """The certificate's DER. OpenSSL's ``TRUSTED CERTIFICATE`` appends trust settings after the
        certificate's SEQUENCE (which libpq accepts in ``sslrootcert``); only that SEQUENCE is returned."""
        if self.label != "TRUSTED CERTIFICATE" or len(self.der) < 2 or self.der[0] != 0x30:
            return self.der
        first = self.der[1]
        if first < 0x80:
            return self.der[: 2 + first]
        size = first & 0x7F
        length = int.from_bytes(self.der[2 : 2 + size], "big")
        return self.der[: 2 + size + length]

    @property
    def is_encrypted(self) -> bool:
        return self.label == "ENCRYPTED PRIVATE KEY" or any(
            name.lower() == "proc-type" and "ENCRYPTED" in value.upper() for name, value in self.headers
        )


def _as_text(data: bytes | str) -> str:
    """Decode file bytes; UTF-16 with a BOM is what Windows Notepad's "Unicode" saves (the
    custom-certificate procedure tells Windows users to use "a text editor"), and read as UTF-8 it would hide every PEM block."""
    if isinstance(data, bytes):
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16", errors="replace")
        return data.decode("utf-8", errors="replace")
    return data


def find_pem_blocks(data: bytes | str) -> tuple[PemBlock, ...]:
    """Return every PEM block in ``data``, in order, ignoring any text around them.

    Tolerates CRLF, missing or extra newlines (including a whole block on one line, as the API docs'
    examples show it), indentation and surrounding prose such as ``openssl -text`` dumps.
    """
    text = _as_text(data)
    blocks: list[PemBlock] = []
    for match in _BLOCK.finditer(text):
        label = match.group("label").strip()
        line = text.count("\n", 0, match.start()) + 1
        headers: list[tuple[str, str]] = []
        body_lines: list[str] = []
        for raw in match.group("body").replace("\r", "\n").split("\n"):
            stripped = raw.strip()
            if not stripped:
                continue
            header = _HEADER_LINE.match(stripped)
            if header and not body_lines:
                headers.append((header.group(1), header.group(2)))
                continue
            body_lines.append(stripped)
        body = "".join("".join(body_lines).split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise PemError(f"the {label} block at line {line} is not valid base64") from None
        if not der:
            raise PemError(f"the {label} block at line {line} is empty")
        blocks.append(PemBlock(label=label, der=der, headers=tuple(headers), line=line))
    return tuple(blocks)


def load_certificates(data: bytes | str, *, what: str = "certificate") -> tuple[x509.Certificate, ...]:
    """Parse every certificate block in ``data`` (leaf first, as a chain file is ordered)."""
    blocks = [b for b in find_pem_blocks(data) if b.label in CERTIFICATE_LABELS]
    if not blocks:
        raise PemError(f"no PEM certificate found in the {what} (expected a '-----BEGIN CERTIFICATE-----' block)")
    return tuple(certificate_from_block(block) for block in blocks)


def certificate_from_block(block: PemBlock) -> x509.Certificate:
    """Parse one certificate block, refusing one whose public key later checks could not use.

    Raises:
        PemError: not an X.509 certificate, or an unsupported key algorithm or curve.
    """
    try:
        cert = x509.load_der_x509_certificate(block.certificate_der)
    except ValueError as exc:
        raise PemError(f"the certificate block at line {block.line} is not a valid X.509 certificate: {exc}") from None
    try:
        cert.public_key()  # every later check needs it; refuse here rather than crash there
    except (UnsupportedAlgorithm, ValueError):
        raise PemError(
            f"the certificate block at line {block.line} has a public key of an unsupported algorithm or "
            "curve; expected RSA or an EC key on P-256, P-384 or P-521"
        ) from None
    return cert


def load_certificate(data: bytes | str, *, what: str = "certificate") -> x509.Certificate:
    """Parse the first certificate in ``data``; further blocks (a chain) are ignored here."""
    return load_certificates(data, what=what)[0]


@dataclass(frozen=True, slots=True)
class LoadedKey:
    """A parsed private key and how it was encoded. ``repr`` never shows key material."""

    key: PrivateKey
    encoding: KeyEncoding

    def __repr__(self) -> str:
        return f"LoadedKey({type(self.key).__name__}, encoding={self.encoding.value})"


def load_private_key(data: bytes | str, *, what: str = "private key", validate: bool = True) -> LoadedKey:
    """Parse the first private key block in ``data``.

    Raises:
        EncryptedKeyError: the key is passphrase-protected; RDS cannot use it (the custom-certificate
            procedure: "Password-encrypted
            private keys prevent SSL encryption from being enabled").
        PemError: there is no key block or it does not parse.
    """
    from rdsssl_reconcile.errors import EncryptedKeyError

    blocks = [b for b in find_pem_blocks(data) if b.label in PRIVATE_KEY_LABELS]
    if not blocks:
        raise PemError(f"no PEM private key found in the {what} (expected a 'BEGIN PRIVATE KEY' block)")
    block = blocks[0]
    if block.is_encrypted:
        raise EncryptedKeyError(
            f"the {what} is encrypted with a passphrase ({block.label}"
            f"{', Proc-Type ENCRYPTED' if block.headers else ''}); RDS cannot use an encrypted key"
        )
    encoding = {"RSA PRIVATE KEY": KeyEncoding.PKCS1, "EC PRIVATE KEY": KeyEncoding.SEC1}.get(
        block.label, KeyEncoding.PKCS8
    )
    # RSA consistency checks cost ~25-35 ms per 2048-bit key; callers that only need the public half
    # of a key someone else generated (the live key, to fingerprint it) pass validate=False. A key is
    # checked once per process: a spec set loads each key twice (parsing, then the certificate checks),
    # and fleets often share one key file, which made `validate` of 200 such specs take 15 s.
    digest = hashlib.sha256(block.der).digest()
    already_checked = digest in _VALIDATED_KEYS
    try:
        key = serialization.load_der_private_key(
            block.der, password=None, unsafe_skip_rsa_key_validation=not validate or already_checked
        )
    except UnsupportedAlgorithm:
        raise PemError(
            f"the {what} block at line {block.line} uses an algorithm or curve that is not supported; "
            "expected RSA or an EC key on P-256, P-384 or P-521"
        ) from None
    except (ValueError, TypeError, NotImplementedError):
        # Deliberately no exception text: parsers may quote the bytes they choked on.
        raise PemError(f"the {what} block at line {block.line} is not a valid private key") from None
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
    ):
        raise PemError(f"the {what} is a {type(key).__name__}, which cannot serve TLS")
    if validate:
        _VALIDATED_KEYS.add(digest)
    return LoadedKey(key=key, encoding=encoding)


#: SHA-256 digests of key encodings that passed the consistency checks in this process (digests only:
#: no key material is kept).
_VALIDATED_KEYS: set[bytes] = set()


def load_crl(data: bytes | str, *, what: str = "CRL") -> x509.CertificateRevocationList:
    """Parse the first ``X509 CRL`` block in ``data``."""
    blocks = [b for b in find_pem_blocks(data) if b.label in CRL_LABELS]
    if not blocks:
        raise PemError(f"no PEM CRL found in the {what} (expected a '-----BEGIN X509 CRL-----' block)")
    try:
        return x509.load_der_x509_crl(blocks[0].der)
    except ValueError as exc:
        raise PemError(f"the CRL block at line {blocks[0].line} is not a valid X.509 CRL: {exc}") from None


def certificate_to_pem(cert: x509.Certificate) -> str:
    """Canonical PEM text of a certificate (what we send to the API, whatever the input looked like)."""
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def certificates_to_pem(certs: tuple[x509.Certificate, ...] | list[x509.Certificate]) -> str:
    return "".join(certificate_to_pem(c) for c in certs)


def crl_to_pem(crl: x509.CertificateRevocationList) -> str:
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


def private_key_to_pkcs8_pem(key: PrivateKey) -> str:
    """Unencrypted PKCS#8 PEM (``BEGIN PRIVATE KEY``), the form the RDS console and API document.

    Callers must treat the result as secret: send it, write it with mode 0600, never print or log it.
    """
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
