"""Hostname coverage as libpq's verify-full decides it (pki.hostname)."""

from __future__ import annotations

import pytest

from rdsssl_reconcile.pki.hostname import covers, name_matches, names_checked, names_checked_for, uncovered
from tests.pki.builders import make_cert


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("db.example.com", "db.example.com", True),
        ("DB.Example.COM", "db.example.com", True),  # case-insensitive
        ("db.example.com", "DB.EXAMPLE.COM", True),
        ("db.example.com.", "db.example.com", True),  # trailing dot on either side
        ("db.example.com", "db.example.com.", True),
        ("db.example.com", "db2.example.com", False),
        ("db.example.com", "example.com", False),
        ("*.example.com", "db.example.com", True),
        ("*.EXAMPLE.com", "Db.example.COM", True),
        ("*.example.com", "example.com", False),  # never the bare parent
        ("*.example.com", "a.b.example.com", False),  # exactly one label
        ("*.example.com", ".example.com", False),  # an empty label is not a label
        ("db*.example.com", "db1.example.com", False),  # partial wildcard: Python, Go, Java refuse
        ("*db.example.com", "xdb.example.com", False),
        ("a.*.example.com", "a.b.example.com", False),  # only the leftmost label
        ("*.*.example.com", "a.b.example.com", False),
        ("*.com", "example.com", False),  # too broad
        ("*", "localhost", False),
        ("", "db.example.com", False),
        ("db.example.com", "", False),
        ("*.0.0.1", "127.0.0.1", False),  # wildcards never match IP addresses
    ],
)
def test_name_matches(pattern: str, host: str, expected: bool) -> None:
    assert name_matches(pattern, host) is expected


def test_dns_sans_are_used_and_the_cn_ignored_when_sans_exist() -> None:
    cert = make_cert(cn="cn-only.example.com", dns=["san.example.com"]).certificate
    assert covers(cert, "san.example.com")
    assert not covers(cert, "cn-only.example.com")
    assert names_checked(cert) == (("san.example.com",), "SAN")


def test_cn_is_the_fallback_only_without_dns_sans() -> None:
    cert = make_cert(cn="db.example.com", dns=[]).certificate
    assert covers(cert, "db.example.com")
    assert covers(cert, "DB.example.com.")
    assert not covers(cert, "other.example.com")
    assert names_checked(cert) == (("db.example.com",), "CN")


def test_a_wildcard_cn_is_honoured_like_a_wildcard_san() -> None:
    cert = make_cert(cn="*.pg.rds.aliyuncs.com").certificate
    assert covers(cert, "pgm-x.pg.rds.aliyuncs.com")
    assert not covers(cert, "pg.rds.aliyuncs.com")


def test_no_names_at_all_covers_nothing() -> None:
    cert = make_cert(cn=None, ips=["10.0.0.1"]).certificate
    assert not covers(cert, "db.example.com")
    assert names_checked(cert) == ((), "CN")


def test_uncovered_keeps_the_given_order() -> None:
    cert = make_cert(cn=None, dns=["a.example.com", "*.ro.example.com"]).certificate
    assert uncovered(cert, ["z.example.com", "a.example.com", "x.ro.example.com", "b.example.com"]) == (
        "z.example.com",
        "b.example.com",
    )


def test_ip_host_matches_ip_sans_and_ignores_the_cn_when_ip_sans_exist() -> None:
    cert = make_cert(cn="10.0.0.9", dns=["db.example.com"], ips=["10.0.0.5", "::1"]).certificate
    assert covers(cert, "10.0.0.5")
    assert covers(cert, "0:0:0:0:0:0:0:1")  # compared as addresses, not strings
    assert not covers(cert, "10.0.0.9")  # CN ignored: there are iPAddress SANs
    assert names_checked_for(cert, "10.0.0.9") == (("db.example.com", "10.0.0.5", "::1"), "SAN")


def test_ip_host_falls_back_to_the_cn_without_ip_sans_even_with_dns_sans() -> None:
    """libpq's documented departure from RFC 6125 for IP hosts (fe-secure-openssl.c)."""
    cert = make_cert(cn="10.0.0.9", dns=["db.example.com"]).certificate
    assert covers(cert, "10.0.0.9")
    assert not covers(cert, "10.0.0.8")
