"""The probe against a loopback server that speaks the start of the PostgreSQL protocol."""

from __future__ import annotations

import os
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.pki.authority import CertificateAuthority, IssuedCertificate
from rdsssl_reconcile.verify.model import ProbeFailure, Target
from rdsssl_reconcile.verify.probe import SSL_REQUEST, probe_endpoint, startup_message
from tests.support.pg_tls_server import PgTlsServer, closed_port

NAME = "db.example.com"


@pytest.fixture(scope="module")
def issued() -> tuple[CertificateAuthority, IssuedCertificate]:
    now = datetime.now(UTC)
    ca = CertificateAuthority.create("probe-test-ca", now=now)
    return ca, ca.issue_server_certificate([NAME], now=now)


@pytest.fixture
def files(tmp_path: Path, issued: tuple[CertificateAuthority, IssuedCertificate]) -> tuple[Path, Path]:
    ca, leaf = issued
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    cert.write_text(leaf.cert_pem() + ca.cert_pem())
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(leaf.key_pem())
    return cert, key


def test_the_wire_messages_are_postgresqls() -> None:
    assert struct.pack("!II", 8, 80877103) == SSL_REQUEST
    message = startup_message()
    assert struct.unpack("!II", message[:8]) == (len(message), 196608)
    assert message[8:] == b"user\0rdsssl_verify\0database\0rdsssl_verify\0\0"


def test_tls_is_captured_with_the_whole_served_chain(files: tuple[Path, Path]) -> None:
    with PgTlsServer(cert_file=files[0], key_file=files[1]) as server:
        result = probe_endpoint(Target(NAME, server.port, "127.0.0.1"), timeout=5)
    assert result.failure is None
    assert result.ssl_answer == "S"
    assert result.tls is not None
    assert result.tls.version.startswith("TLSv1.")
    assert len(result.tls.chain_der) == 2  # leaf and CA, as served
    assert result.tls.full_chain
    assert result.plain is not None
    assert result.plain.accepted is False
    assert "no pg_hba.conf entry" in result.plain.detail


def test_a_plain_startup_answered_with_an_authentication_request_is_accepted(files: tuple[Path, Path]) -> None:
    with PgTlsServer(cert_file=files[0], key_file=files[1], plain="accept") as server:
        result = probe_endpoint(Target(NAME, server.port, "127.0.0.1"), timeout=5)
    assert result.plain is not None
    assert result.plain.accepted is True


def test_n_silence_and_a_closed_port_are_told_apart() -> None:
    with PgTlsServer(ssl_answer="N") as server:
        answered_n = probe_endpoint(Target(NAME, server.port, "127.0.0.1"), timeout=5)
    assert (answered_n.failure, answered_n.ssl_answer) == (None, "N")
    with PgTlsServer(ssl_answer="silent") as server:
        silent = probe_endpoint(Target(NAME, server.port, "127.0.0.1"), timeout=0.2)
    assert silent.failure is ProbeFailure.SSLREQUEST_TIMEOUT
    assert silent.elapsed_seconds >= 0.2
    refused = probe_endpoint(Target(NAME, closed_port(), "127.0.0.1"), timeout=5)
    assert refused.failure is ProbeFailure.CONNECTION_REFUSED


def test_a_name_that_does_not_resolve() -> None:
    result = probe_endpoint(Target("nothing.example.invalid", 5432, "nothing.example.invalid"), timeout=5)
    assert result.failure is ProbeFailure.NAME_RESOLUTION


@pytest.mark.parametrize("address", ["bad\0name.example.com", "xn--\u00e9.example.com"])
def test_an_address_the_system_refuses_is_that_endpoints_failure_not_a_crash(address: str) -> None:
    result = probe_endpoint(Target(NAME, 5432, address), timeout=1)
    assert result.failure in (ProbeFailure.NAME_RESOLUTION, ProbeFailure.NETWORK)
