"""pki.inspection: every kind of block described, keys only by their public half."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from rdsssl_reconcile.errors import PemError
from rdsssl_reconcile.pki.authority import CertificateAuthority, IssuedCertificate
from rdsssl_reconcile.pki.inspection import BlockKind, inspect_pem
from tests.pki.conftest import ENDPOINTS, NOW
from tests.support.openssl_procedure import ProcedureFiles, encrypted_key_legacy, encrypted_key_pkcs8, pkcs1_key


def test_procedure_text_dump_certificate_and_csr(procedure_single: ProcedureFiles) -> None:
    (cert,) = inspect_pem(procedure_single.server_cert.read_bytes())
    assert cert.kind is BlockKind.CERTIFICATE
    assert cert.certificate is not None
    assert cert.certificate.common_name == "pgm-bpxxxxx.pg.rds.aliyuncs.com"
    assert cert.certificate.version == 1
    (csr,) = inspect_pem(procedure_single.server_csr.read_bytes())
    assert csr.kind is BlockKind.CSR
    assert csr.csr is not None
    assert csr.csr.signature_valid
    assert csr.csr.common_name == "pgm-bpxxxxx.pg.rds.aliyuncs.com"


def test_chain_every_certificate(issued: IssuedCertificate, authority: CertificateAuthority) -> None:
    blocks = inspect_pem(issued.cert_pem() + authority.cert_pem())
    assert [b.certificate.common_name for b in blocks if b.certificate] == [ENDPOINTS[0], "test-root-ca"]


def test_keys_show_type_size_fingerprint_and_encoding(issued: IssuedCertificate) -> None:
    (pkcs8,) = inspect_pem(issued.key_pem())
    assert pkcs8.key is not None
    assert (pkcs8.key.key_type, pkcs8.key.key_size, pkcs8.key_encoding) == ("RSA", 2048, "PKCS#8")
    (pkcs1,) = inspect_pem(pkcs1_key(issued.key_pem()))
    assert pkcs1.key_encoding == "PKCS#1"
    assert pkcs1.key == pkcs8.key
    text = str(pkcs8.to_dict()) + repr(pkcs8)
    assert "MII" not in text


@pytest.mark.parametrize("encrypt", [encrypted_key_pkcs8, encrypted_key_legacy], ids=["pkcs8", "proc-type"])
def test_encrypted_key_says_so_and_nothing_else(issued: IssuedCertificate, encrypt: object) -> None:
    (block,) = inspect_pem(encrypt(issued.key_pem()))  # type: ignore[operator]
    assert block.kind is BlockKind.PRIVATE_KEY
    assert block.encrypted
    assert block.key is None
    assert "passphrase" in block.note


def test_crl_and_public_key(authority: CertificateAuthority) -> None:
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(NOW)
        .next_update(NOW + timedelta(days=7))
        .sign(authority.private_key, hashes.SHA256())
    )
    public = authority.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    crl_block, public_block = inspect_pem(crl.public_bytes(serialization.Encoding.PEM) + public)
    assert crl_block.crl is not None
    assert crl_block.crl.issuer == "CN=test-root-ca"
    assert public_block.kind is BlockKind.PUBLIC_KEY
    assert public_block.key is not None


def test_unknown_and_broken_blocks_are_described_not_raised() -> None:
    unknown, broken = inspect_pem(
        "-----BEGIN DH PARAMETERS-----\nMAA=\n-----END DH PARAMETERS-----\n"
        "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
    )
    assert unknown.kind is BlockKind.OTHER
    assert broken.kind is BlockKind.CERTIFICATE
    assert "does not parse" in broken.note


def test_no_pem_is_an_error() -> None:
    with pytest.raises(PemError, match="no PEM block"):
        inspect_pem(b"\x30\x82 DER bytes")
