"""Finding PEM blocks the way operators hand them over (pki.pem)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization

from rdsssl_reconcile.errors import EncryptedKeyError, PemError
from rdsssl_reconcile.pki.authority import IssuedCertificate
from rdsssl_reconcile.pki.pem import (
    KeyEncoding,
    find_pem_blocks,
    load_certificate,
    load_certificates,
    load_private_key,
    private_key_to_pkcs8_pem,
)
from tests.pki.builders import ec_key
from tests.support.openssl_procedure import (
    ProcedureFiles,
    crlf_rewrapped,
    encrypted_key_legacy,
    encrypted_key_pkcs8,
    one_line,
    pkcs1_key,
)


def _der(issued: IssuedCertificate) -> bytes:
    return issued.certificate.public_bytes(serialization.Encoding.DER)


def test_text_dump_before_the_block_is_ignored(procedure_single: ProcedureFiles) -> None:
    text = procedure_single.server_cert.read_text()
    assert not text.startswith("-----BEGIN"), "the documented procedure's -text output should start with the dump"
    (block,) = find_pem_blocks(text)
    assert block.label == "CERTIFICATE"
    assert block.line > 1
    assert load_certificate(text).subject.rfc4514_string() == "CN=pgm-bpxxxxx.pg.rds.aliyuncs.com"


def test_csr_text_dump_is_found(procedure_single: ProcedureFiles) -> None:
    (block,) = find_pem_blocks(procedure_single.server_csr.read_bytes())
    assert block.label == "CERTIFICATE REQUEST"


def test_crlf_and_rewrapped_base64_give_the_same_der(issued: IssuedCertificate) -> None:
    crlf = crlf_rewrapped(issued.cert_pem(), width=44)
    assert b"\r\n" in crlf
    assert load_certificate(crlf).public_bytes(serialization.Encoding.DER) == _der(issued)


def test_one_line_pem(issued: IssuedCertificate) -> None:
    text = one_line(issued.cert_pem())
    assert text.count(b"\n") == 0
    assert load_certificate(text).public_bytes(serialization.Encoding.DER) == _der(issued)


def test_indented_pem_with_blank_lines(issued: IssuedCertificate) -> None:
    lines = issued.cert_pem().splitlines()
    text = "\n\n".join("    " + line for line in lines)
    assert load_certificate(text).public_bytes(serialization.Encoding.DER) == _der(issued)


def test_several_blocks_in_order_with_prose_between(issued: IssuedCertificate) -> None:
    text = "leaf:\n" + issued.cert_pem() + "\nand the key\n" + issued.key_pem() + "\nchain:\n" + issued.cert_pem()
    blocks = find_pem_blocks(text)
    assert [b.label for b in blocks] == ["CERTIFICATE", "PRIVATE KEY", "CERTIFICATE"]
    assert len(load_certificates(text)) == 2


def test_no_block_at_all() -> None:
    assert find_pem_blocks("hello\nworld\n") == ()
    with pytest.raises(PemError, match="no PEM certificate found"):
        load_certificate(b"\x30\x82\x01\x00 binary DER is not PEM")


def test_bad_base64_names_the_block_and_line() -> None:
    with pytest.raises(PemError, match=r"CERTIFICATE block at line 2 is not valid base64"):
        find_pem_blocks("x\n-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n")


def test_a_truncated_certificate_is_a_pem_error(issued: IssuedCertificate) -> None:
    der = _der(issued)[:200]
    body = base64.b64encode(der).decode()
    with pytest.raises(PemError, match=r"not a valid X\.509 certificate"):
        load_certificate(f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")


def test_mismatched_end_label_is_not_a_block(issued: IssuedCertificate) -> None:
    text = issued.cert_pem().replace("END CERTIFICATE", "END X509 CRL")
    assert find_pem_blocks(text) == ()


@pytest.mark.parametrize(
    ("form", "encoding"),
    [
        (serialization.PrivateFormat.PKCS8, KeyEncoding.PKCS8),
        (serialization.PrivateFormat.TraditionalOpenSSL, KeyEncoding.SEC1),
    ],
)
def test_ec_key_encodings(form: serialization.PrivateFormat, encoding: KeyEncoding) -> None:
    pem = ec_key().private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())
    assert load_private_key(pem).encoding is encoding


def test_pkcs1_key_is_read_and_converts_to_the_same_pkcs8(issued: IssuedCertificate) -> None:
    pkcs1 = pkcs1_key(issued.key_pem())
    assert pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    loaded = load_private_key(pkcs1)
    assert loaded.encoding is KeyEncoding.PKCS1
    assert private_key_to_pkcs8_pem(loaded.key) == issued.key_pem()


@pytest.mark.parametrize("encrypt", [encrypted_key_pkcs8, encrypted_key_legacy], ids=["pkcs8", "proc-type"])
def test_encrypted_keys_are_refused_without_key_material_in_the_message(
    issued: IssuedCertificate, encrypt: object
) -> None:
    pem = encrypt(issued.key_pem())  # type: ignore[operator]
    with pytest.raises(EncryptedKeyError) as caught:
        load_private_key(pem)
    message = str(caught.value)
    assert "passphrase" in message
    body = "".join(line for line in pem.decode().splitlines() if line and ":" not in line and "-----" not in line)
    assert not any(body[i : i + 40] in message for i in range(0, len(body) - 40, 20))


def test_block_repr_never_shows_the_body(issued: IssuedCertificate) -> None:
    (block,) = find_pem_blocks(issued.key_pem())
    assert "MII" not in repr(block)
    assert "MII" not in repr(load_private_key(issued.key_pem()))


def test_utf16_file_from_windows_notepad(issued: IssuedCertificate) -> None:
    """The documented procedure tells Windows users to use a text editor; Notepad's "Unicode" is UTF-16 with a BOM."""
    data = "\ufeff".encode("utf-16-le") + issued.cert_pem().replace("\n", "\r\n").encode("utf-16-le")
    assert load_certificate(data).public_bytes(serialization.Encoding.DER) == _der(issued)
    utf8_bom = b"\xef\xbb\xbf" + issued.cert_pem().encode()
    assert load_certificate(utf8_bom).public_bytes(serialization.Encoding.DER) == _der(issued)


def test_a_key_is_checked_for_consistency_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec set loads each key twice and fleets share key files: the ~30 ms RSA check runs once per key."""
    from tests.pki.builders import rsa_key

    pem = (
        rsa_key(index=7)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    checked: list[bool] = []
    real = serialization.load_der_private_key

    def counting(data: bytes, password: bytes | None, *, unsafe_skip_rsa_key_validation: bool) -> object:
        checked.append(not unsafe_skip_rsa_key_validation)
        return real(data, password, unsafe_skip_rsa_key_validation=unsafe_skip_rsa_key_validation)

    monkeypatch.setattr("rdsssl_reconcile.pki.pem._VALIDATED_KEYS", set())
    monkeypatch.setattr(serialization, "load_der_private_key", counting)
    for _ in range(3):
        load_private_key(pem)
    load_private_key(pem, validate=False)
    assert checked == [True, False, False, False]
