"""CertificateAuthority issues the documented procedure's certificates (and the fixes to it)."""

from __future__ import annotations

from datetime import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from rdsssl_reconcile.pki.authority import CertificateAuthority, IssuedCertificate, KeyType
from rdsssl_reconcile.pki.checks import check_server_certificate
from rdsssl_reconcile.pki.hostname import covers
from tests.pki.builders import ec_key, key_usage, make_cert
from tests.pki.conftest import ENDPOINTS


def test_issued_certificate_has_the_procedure_extensions(
    issued: IssuedCertificate, authority: CertificateAuthority
) -> None:
    cert = issued.certificate
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.key_encipherment
    assert usage.content_commitment  # nonRepudiation, as the documented procedure's v3_req
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert tuple(sans.get_values_for_type(x509.DNSName)) == ENDPOINTS
    assert cert.subject.rfc4514_string() == f"CN={ENDPOINTS[0]}"
    assert authority.issues(cert)
    assert issued.key_pem().startswith("-----BEGIN PRIVATE KEY-----")
    assert "BEGIN PRIVATE KEY" not in repr(issued)


def test_csr_matches_the_certificate(issued: IssuedCertificate) -> None:
    assert issued.csr is not None
    assert issued.csr.is_signature_valid
    assert issued.csr.subject == issued.certificate.subject
    assert issued.csr.public_key() == issued.certificate.public_key()


def test_ec_keys_do_not_claim_key_encipherment(ec_authority: CertificateAuthority, now: datetime) -> None:
    issued = ec_authority.issue_server_certificate(ENDPOINTS, now=now, key_type=KeyType.EC_P256)
    assert not issued.certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment
    assert KeyType.of(issued.private_key) is KeyType.EC_P256


def test_ip_endpoints_become_ip_sans_and_are_covered(ec_authority: CertificateAuthority, now: datetime) -> None:
    issued = ec_authority.issue_server_certificate(["db.example.com", "10.1.2.3"], now=now, key=ec_key(20))
    assert covers(issued.certificate, "10.1.2.3")
    assert covers(issued.certificate, "db.example.com")


def test_a_ca_without_subject_key_identifier_can_still_issue(now: datetime) -> None:
    """Older or foreign CAs may lack SKI; issuing used to raise ExtensionNotFound."""
    bare = make_cert(
        cn="no-ski-ca", key=ec_key(30), ca=True, usage=key_usage(key_cert_sign=True, crl_sign=True), eku=None, ski=False
    )
    authority = CertificateAuthority(certificate=bare.certificate, private_key=bare.key)
    issued = authority.issue_server_certificate(["db.example.com"], now=now, key=ec_key(31))
    assert authority.issues(issued.certificate)
    aki = issued.certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == x509.SubjectKeyIdentifier.from_public_key(bare.key.public_key()).digest


def test_an_ed25519_ca_can_sign(now: datetime) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    bare = make_cert(cn="ed-ca", key=key, ca=True, usage=key_usage(key_cert_sign=True), eku=None, hash_algorithm=None)
    authority = CertificateAuthority(certificate=bare.certificate, private_key=key)
    issued = authority.issue_server_certificate(["db.example.com"], now=now, key=ec_key(32))
    assert authority.issues(issued.certificate)


def test_a_long_first_endpoint_is_left_out_of_the_cn_but_covered(
    ec_authority: CertificateAuthority, now: datetime
) -> None:
    long_name = "pgm-" + "x" * 60 + ".pg.rds.aliyuncs.com"
    issued = ec_authority.issue_server_certificate([long_name], now=now, key=ec_key(33))
    assert issued.certificate.subject == x509.Name([])
    san = issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical  # RFC 5280: an empty subject needs a critical SAN
    report = check_server_certificate(
        cert_pem=issued.cert_pem(),
        key_pem=issued.key_pem(),
        endpoints=[long_name],
        now=now,
        ca_pem=ec_authority.cert_pem(),
    )
    assert report.ok, report.errors
    assert "RFC 5280" in report.result("chain").message  # strict verifier accepts it


def test_issuing_needs_an_endpoint(ec_authority: CertificateAuthority, now: datetime) -> None:
    with pytest.raises(ValueError, match="at least one endpoint"):
        ec_authority.issue_server_certificate([], now=now)
