"""Build odd certificates for unit tests: any SANs, CN, extensions, hash, dates, signer.

Keys are generated lazily and cached per process (EC P-256 is ~1 ms; RSA only where the test needs RSA).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from rdsssl_reconcile.pki.pem import PrivateKey

NOW = datetime(2026, 6, 1, 12, 0)


@functools.cache
def rsa_key(bits: int = 2048, index: int = 0) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key(index: int = 0) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class Made:
    certificate: x509.Certificate
    key: PrivateKey

    def cert_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()


def key_usage(**flags: bool) -> x509.KeyUsage:
    names = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    return x509.KeyUsage(**{name: flags.get(name, False) for name in names})


def make_cert(
    *,
    cn: str | None = "db.example.com",
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    key: PrivateKey | None = None,
    signer: Made | None = None,
    ca: bool | None = False,
    usage: x509.KeyUsage | None = None,
    eku: Sequence[ObjectIdentifier] | None = (ExtendedKeyUsageOID.SERVER_AUTH,),
    hash_algorithm: hashes.HashAlgorithm | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    ski: bool = True,
    path_length: int | None = None,
) -> Made:
    """A certificate; self-signed unless ``signer`` is given. ``ca=None`` leaves basicConstraints out."""
    key = key if key is not None else ec_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    issuer_name = signer.certificate.subject if signer else subject
    signing_key = signer.key if signer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=1))
        .not_valid_after(not_after or NOW + timedelta(days=365))
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=not cn)
    if ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if signer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.key.public_key()),
            critical=False,
        )
    if isinstance(signing_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        algorithm = None  # EdDSA signs without a separate hash
    else:
        algorithm = hash_algorithm or hashes.SHA256()
    certificate = builder.sign(signing_key, algorithm)  # type: ignore[arg-type]
    return Made(certificate=certificate, key=key)


def make_ca(
    cn: str = "unit-root", *, key: PrivateKey | None = None, signer: Made | None = None, **kwargs: object
) -> Made:
    return make_cert(
        cn=cn,
        key=key if key is not None else ec_key(100),
        signer=signer,
        ca=True,
        usage=key_usage(key_cert_sign=True, crl_sign=True, digital_signature=True),
        eku=None,
        **kwargs,  # type: ignore[arg-type]
    )
