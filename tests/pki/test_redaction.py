"""The server key leaves a DescribeDBInstanceSSL body as its public fingerprint, and nothing else of it."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from rdsssl_reconcile.pki.redaction import SERVER_KEY_FINGERPRINT, redact_server_key
from rdsssl_reconcile.pki.summary import public_key_fingerprint
from tests.pki.builders import ec_key, rsa_key


def pem(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize("make_key", [rsa_key, ec_key], ids=["rsa", "ec"])
def test_the_key_becomes_the_fingerprint_of_its_public_half(make_key: object) -> None:
    key = make_key()  # type: ignore[operator]
    body = {"SSLEnabled": "on", "ServerKey": "\n" + pem(key) + "  ", "Cert": "x"}
    redacted = redact_server_key(body)
    assert redacted == {
        "SSLEnabled": "on",
        "Cert": "x",
        SERVER_KEY_FINGERPRINT: public_key_fingerprint(key.public_key()),
    }
    assert "ServerKey" in body  # the caller's dict is left as it was


@pytest.mark.parametrize("unset", [None, "", "-", "  "])
def test_an_unset_key_is_an_empty_fingerprint(unset: str | None) -> None:
    assert redact_server_key({"ServerKey": unset}) == {SERVER_KEY_FINGERPRINT: ""}
    assert redact_server_key({}) == {SERVER_KEY_FINGERPRINT: ""}


def test_a_key_that_does_not_parse_is_named_unparseable_never_quoted() -> None:
    garbage = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IG1hdGVyaWFs\n-----END PRIVATE KEY-----\n"
    redacted = redact_server_key({"ServerKey": garbage})
    assert redacted == {SERVER_KEY_FINGERPRINT: "unparseable"}
    assert "c2VjcmV0" not in repr(redacted)
