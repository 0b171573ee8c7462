"""ConnectionString of DescribeDBInstanceSSL under each undocumented reading."""

from __future__ import annotations

import pytest

from rdsssl_reconcile.live.parse import connection_hosts, parse_ssl

A, B = "pgm-a.pg.rds.aliyuncs.com", "pgm-ao.pg.rds.aliyuncs.com"


@pytest.mark.parametrize(
    ("value", "hosts"),
    [
        (f"{A},{B}", (A, B)),
        (f"{A}, {B}", (A, B)),
        (f"{A};{B}", (A, B)),
        (f"{A}; {B};", (A, B)),
        (A, (A,)),
        (f"{A},{A}", (A,)),
        ("", ()),
        ("-", ()),
        (None, ()),
    ],
)
def test_connection_hosts(value: str | None, hosts: tuple[str, ...]) -> None:
    assert connection_hosts(value) == hosts


def test_parse_ssl_reads_a_semicolon_list() -> None:
    ssl = parse_ssl({"SSLEnabled": "on", "CAType": "custom", "ConnectionString": f"{A};{B}"})
    assert ssl.endpoints == (A, B)
