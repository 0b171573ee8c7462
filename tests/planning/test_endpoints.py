"""Protected endpoints under every reading of ConnectionString (comma list, semicolon list, SANs)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography import x509

from rdsssl_reconcile.live.model import Endpoint, LiveSsl
from rdsssl_reconcile.pki.authority import CertificateAuthority
from rdsssl_reconcile.planning.endpoints import (
    certificate_endpoints_protected,
    cloud_endpoint_protected,
    disable_connection_string,
    reported_names,
)

NOW = datetime(2026, 11, 27, tzinfo=UTC)
A, B, X = "pgm-a.pg.rds.aliyuncs.com", "pgm-ao.pg.rds.aliyuncs.com", "pgm-ax.pg.rds.aliyuncs.com"
OFF = LiveSsl(
    enabled=True,
    ca_type="custom",
    endpoints=(),
    server_cert=None,
    server_key_public_sha256=None,
    expire_time=None,
    create_time=None,
    require_update=False,
    require_update_reason=None,
    last_modify_status=None,
    modify_status_reason=None,
    server_ca_url=None,
    client_ca=None,
    crl_sha256=None,
    crl=None,
    acl=None,
    replication_acl=None,
)


def reporting(*entries: str) -> LiveSsl:
    """The live SSL state as live/parse.py builds it (the reported string split on commas)."""
    return replace(OFF, endpoints=tuple(entries))


@pytest.mark.parametrize(
    ("entries", "names"),
    [
        ((A,), (A,)),
        ((A, B), (A, B)),  # a comma list, already split by the parser
        ((f"{A};{B}",), (A, B)),  # a semicolon list
        ((f" {A} ; {B.upper()} ", A), (A, B.upper())),  # spaces, case-insensitive duplicates dropped
        ((), ()),
    ],
)
def test_reported_names_split_on_commas_and_semicolons(entries: tuple[str, ...], names: tuple[str, ...]) -> None:
    assert reported_names(reporting(*entries)) == names


def test_a_cloud_certificate_protects_exactly_the_declared_endpoint() -> None:
    assert cloud_endpoint_protected(reporting(A), [A])
    assert cloud_endpoint_protected(reporting(A.upper()), [A])
    assert not cloud_endpoint_protected(reporting(f"{A};{B}"), [A])
    assert not cloud_endpoint_protected(reporting(B), [A])


@pytest.fixture(scope="module")
def wide() -> x509.Certificate:
    ca = CertificateAuthority.create("endpoints CA", now=NOW)
    return ca.issue_server_certificate([A, B, "db-alias.example.com"], now=NOW, days=365).certificate


@pytest.mark.parametrize(
    ("entries", "protected"),
    [
        ((A,), True),  # comma/semicolon reading: the one endpoint this tool sends
        ((f"{A};{B}",), True),
        ((A, B, "db-alias.example.com"), True),  # SAN reading: the certificate's names, more than declared
        ((B,), True),  # another declared endpoint
        ((X,), False),  # installed for an endpoint the certificate does not cover
        ((A, X), False),
        ((), False),
    ],
)
def test_a_custom_certificate_protects_the_declared_endpoints_under_every_reading(
    wide: x509.Certificate, entries: tuple[str, ...], protected: bool
) -> None:
    assert certificate_endpoints_protected(reporting(*entries), wide, [A, B]) is protected


def test_a_certificate_that_misses_a_declared_endpoint_does_not_protect_them(wide: x509.Certificate) -> None:
    assert not certificate_endpoints_protected(reporting(A), wide, [A, X])


def endpoint(host: str) -> Endpoint:
    return Endpoint(host=host, ip_type="Private", port="5432", kind="Normal")


def test_disable_sends_one_reported_endpoint_the_instance_has() -> None:
    instance = [endpoint(A), endpoint(B)]
    assert disable_connection_string(reporting(f"db-alias.example.com;{B}"), [], instance, "f") == B
    assert disable_connection_string(reporting("db-alias.example.com"), [A], instance, "f") == A
    assert disable_connection_string(reporting(), [], instance, "fallback") == "fallback"
    assert disable_connection_string(None, [], None, "fallback") == "fallback"
    assert disable_connection_string(reporting(A, B), [], None, "f") == A
