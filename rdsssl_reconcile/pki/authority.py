"""Make CAs and server certificates with `cryptography`, as the documented openssl commands do.

"Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance" creates a self-signed CA (``openssl req -new -x509 -nodes``) and a server certificate signed by
it, with ``basicConstraints = CA:FALSE``, ``keyUsage = nonRepudiation, digitalSignature,
keyEncipherment`` and every endpoint as a DNS SAN. This module reproduces that without an openssl
subprocess, with the clock passed in so tests and the emulator can age certificates.

Shaped like trustme: a :class:`CertificateAuthority` value that issues :class:`IssuedCertificate`
values. Nothing here touches files; callers write ``key_pem()`` with mode 0600 themselves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rdsssl_reconcile.pki.pem import PrivateKey, certificate_to_pem, private_key_to_pkcs8_pem

#: Certificates are back-dated by this much so a client whose clock is slightly behind accepts them.
BACKDATE = timedelta(minutes=5)


class KeyType(Enum):
    """Key algorithms we generate. RSA-2048 is the default: it is what every PostgreSQL client accepts."""

    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"
    EC_P256 = "ec-p256"

    def generate(self) -> PrivateKey:
        if self is KeyType.EC_P256:
            return ec.generate_private_key(ec.SECP256R1())
        return rsa.generate_private_key(public_exponent=65537, key_size=int(self.value.split("-")[1]))

    @classmethod
    def of(cls, key: PrivateKey | object) -> KeyType | None:
        """The KeyType a key (private or public) belongs to, or None for anything we do not generate."""
        public = key.public_key() if hasattr(key, "public_key") else key
        if isinstance(public, rsa.RSAPublicKey):
            return {2048: cls.RSA_2048, 3072: cls.RSA_3072, 4096: cls.RSA_4096}.get(public.key_size)
        if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1":
            return cls.EC_P256
        return None


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate with its private key (and, for server certificates, the CSR it came from).

    ``repr`` is deliberately free of key material.
    """

    certificate: x509.Certificate
    private_key: PrivateKey
    csr: x509.CertificateSigningRequest | None = None

    def __repr__(self) -> str:
        return f"IssuedCertificate(subject={self.certificate.subject.rfc4514_string()!r})"

    def cert_pem(self) -> str:
        return certificate_to_pem(self.certificate)

    def key_pem(self) -> str:
        """Unencrypted PKCS#8 PEM. Secret: write with mode 0600, never print."""
        return private_key_to_pkcs8_pem(self.private_key)

    def csr_pem(self) -> str | None:
        return None if self.csr is None else self.csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _name(common_name: str | None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])


def _general_name(identity: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(identity))
    except ValueError:
        return x509.DNSName(identity)


def _signing_hash(key: PrivateKey) -> hashes.SHA256 | None:
    """SHA-256 for RSA and EC keys; EdDSA keys sign without a separate hash (cryptography wants None)."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


#: X.520 ub-common-name: a CN longer than this cannot be encoded (cryptography raises ValueError).
MAX_COMMON_NAME_LENGTH = 64


def _authority_key_identifier(ca_certificate: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The AKI for certificates this CA signs: from its SKI, or from its public key if it has none.

    CAs made elsewhere (older openssl, X.509 v1 roots) may lack a SubjectKeyIdentifier extension.
    """
    try:
        ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_certificate.public_key()  # type: ignore[arg-type]
        )
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A CA that can issue server certificates: the documented ``server-ca.crt`` / ``server-ca.key``."""

    certificate: x509.Certificate
    private_key: PrivateKey

    def __repr__(self) -> str:
        return f"CertificateAuthority(subject={self.certificate.subject.rfc4514_string()!r})"

    @classmethod
    def create(
        cls,
        common_name: str,
        *,
        now: datetime,
        days: int = 3650,
        key_type: KeyType = KeyType.RSA_2048,
    ) -> CertificateAuthority:
        """A self-signed CA, like ``openssl req -new -x509 -days N -nodes -subj /CN=NAME``."""
        key = key_type.generate()
        name = _name(common_name)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, _signing_hash(key))
        )
        return cls(certificate=cert, private_key=key)

    def cert_pem(self) -> str:
        return certificate_to_pem(self.certificate)

    def key_pem(self) -> str:
        """Unencrypted PKCS#8 PEM of the CA key. Secret: write with mode 0600, never print."""
        return private_key_to_pkcs8_pem(self.private_key)

    def issue_server_certificate(
        self,
        endpoints: Sequence[str],
        *,
        now: datetime,
        days: int = 365,
        key_type: KeyType = KeyType.RSA_2048,
        common_name: str | None = None,
        key: PrivateKey | None = None,
    ) -> IssuedCertificate:
        """A server certificate for ``endpoints``: every endpoint a SAN, the first also the CN.

        Mirrors the documented SAN variant: ``basicConstraints = CA:FALSE`` and ``keyUsage = nonRepudiation,
        digitalSignature, keyEncipherment``, plus ``extendedKeyUsage = serverAuth`` which clients that
        check EKU expect. A CSR is produced first and the certificate built from it, as the documented
        procedure does, so ``certs issue`` can write its ``server.csr`` too.
        """
        if not endpoints:
            raise ValueError("a server certificate needs at least one endpoint")
        private_key = key if key is not None else key_type.generate()
        if common_name is not None:
            cn: str | None = common_name
        else:
            # An endpoint too long for a CN is still fully covered by its SAN, which is all clients check.
            cn = endpoints[0] if len(endpoints[0]) <= MAX_COMMON_NAME_LENGTH else None
        san = x509.SubjectAlternativeName([_general_name(e) for e in endpoints])
        # RFC 5280 §4.2.1.6: with an empty subject the SAN must be critical, or strict verifiers reject it.
        san_critical = not cn
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(_name(cn))
            .add_extension(san, critical=san_critical)
            .sign(private_key, _signing_hash(private_key))
        )
        is_rsa = isinstance(private_key, rsa.RSAPrivateKey)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.certificate.subject)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=is_rsa,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(san, critical=san_critical)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
            .add_extension(_authority_key_identifier(self.certificate), critical=False)
            .sign(self.private_key, _signing_hash(self.private_key))
        )
        return IssuedCertificate(certificate=cert, private_key=private_key, csr=csr)

    def issues(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` was signed by this CA's key (signature check, not just a name match)."""
        if cert.issuer != self.certificate.subject:
            return False
        try:
            cert.verify_directly_issued_by(self.certificate)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True
