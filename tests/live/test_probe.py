"""probe's analysis on a fake port: each reading named, nothing secret shown, only Describe calls."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rdsssl_reconcile.cli.probe_cmd import render_probe
from rdsssl_reconcile.cloud.port import ReadOnlyView
from rdsssl_reconcile.live.probe import classify_connection_string, run_probe, value_format
from rdsssl_reconcile.pki.authority import CertificateAuthority, KeyType
from tests.live.fakes import FakeInstance, FakeRds

NOW = datetime(2027, 1, 5, tzinfo=UTC)
A, B = "pgm-a.pg.rds.aliyuncs.com", "pgm-a-public.pg.rds.aliyuncs.com"


@pytest.fixture(scope="module")
def two_san_cert() -> tuple[str, str]:
    ca = CertificateAuthority.create("probe test CA", now=NOW, key_type=KeyType.EC_P256)
    issued = ca.issue_server_certificate([A, B], now=NOW, key_type=KeyType.EC_P256)
    return issued.cert_pem(), issued.key_pem()


def custom_ssl(cert: str, connection_string: str) -> dict[str, str]:
    return {
        "SSLEnabled": "on",
        "CAType": "custom",
        "ConnectionString": connection_string,
        "SSLExpireTime": "2028-01-05T00:00:00Z",
        "SSLCreateTime": "-",
        "RequireUpdate": "0",
        "LastModifyStatus": "success",
        "ServerCert": cert,
        "ServerKeyPublicSha256": "AB:CD",
        "ACL": "prefer",
        "ReplicationACL": "prefer",
    }


def fleet() -> list[FakeInstance]:
    return [FakeInstance("pgm-a"), FakeInstance("pgm-b"), FakeInstance("pgm-c"), FakeInstance("pgm-d")]


@pytest.mark.parametrize(
    ("reading", "expected"),
    [("list", "list"), ("first", "first"), ("ignored", "ignored"), ("literal", "literal"), ("error", "error")],
)
def test_multi_id_reading_is_named(reading: str, expected: str) -> None:
    cloud = FakeRds(fleet(), reading)
    report = run_probe(ReadOnlyView(cloud), "cn-hangzhou", ["pgm-b", "pgm-c"])
    assert report.multi_id.reading == expected, report.multi_id
    assert report.to_json()["describe_db_instances"]["multi_id"]["reading"] == expected
    assert f"several ids in one call: {expected} - " in render_probe(report)
    assert set(cloud.calls) <= {
        "DescribeDBInstances",
        "DescribeDBInstanceAttribute",
        "DescribeDBInstanceSSL",
        "DescribeDBInstanceNetInfo",
    }
    assert report.only_describe
    assert sum(report.calls.values()) == sum(cloud.calls.values())


def test_a_single_instance_cannot_check_several_ids() -> None:
    report = run_probe(ReadOnlyView(FakeRds(fleet())), "cn-hangzhou", ["pgm-a"])
    assert report.multi_id.reading == "not-checked"
    assert "pass --instance twice" in report.multi_id.detail


@pytest.mark.parametrize(
    ("connection_string", "expected"),
    [(f"{A},{B}", "comma"), (f"{A};{B}", "semicolon"), (A, "certificate-sans")],
)
def test_connection_string_readings_with_the_certificate_as_evidence(
    two_san_cert: tuple[str, str], connection_string: str, expected: str
) -> None:
    cert, key = two_san_cert
    instance = FakeInstance("pgm-a", endpoints=[A, B], ssl=custom_ssl(cert, connection_string))
    cloud = FakeRds([instance, FakeInstance("pgm-b")])
    report = run_probe(ReadOnlyView(cloud), "cn-hangzhou", ["pgm-a", "pgm-b"])
    (check,) = report.endpoints
    assert check.reading == expected
    assert check.covered_by_certificate == (A, B)
    text = render_probe(report)
    assert f"pgm-a: {expected} - " in text
    # Certificates by fingerprint only; the key never appears (it never reaches the probe at all).
    body = "".join(cert.splitlines()[1:-1])
    key_body = "".join(key.splitlines()[1:-1])
    for output in (text, str(report.to_json())):
        assert "BEGIN" not in output
        assert body[:40] not in output
        assert key_body[:40] not in output
    fields = report.instances[0].ssl_fields
    assert fields["SSLExpireTime"] == "iso8601-utc (yyyy-MM-ddTHH:mm:ssZ)"
    assert fields["SSLCreateTime"] == 'dash "-"'
    assert fields["ServerCert"].startswith("pem: 1 certificate (sha256 ")
    assert fields["ServerKey"].startswith("returned (redacted")
    assert fields["ClientCACert"] == "absent"


def test_one_endpoint_and_a_one_san_certificate_do_not_tell_the_readings_apart() -> None:
    check = classify_connection_string("pgm-a", A, [A, B], [A])
    assert check.reading == "single"
    assert classify_connection_string("pgm-a", f"{A}, {B}", [A, B], [A, B]).reported_hosts == (A, B)


def test_busy_status_and_empty_markers_are_reported() -> None:
    busy = FakeInstance("pgm-a", status="SSL_MODIFYING", ssl={"SSLEnabled": "off", "LastModifyStatus": "setting"})
    other = FakeInstance("pgm-b", ssl={"SSLEnabled": "off", "CAType": "", "ACL": "-"})
    report = run_probe(ReadOnlyView(FakeRds([busy, other])), "cn-hangzhou", ["pgm-a", "pgm-b"])
    assert report.busy_statuses == {"pgm-a": "SSL_MODIFYING (LastModifyStatus string 'setting')"}
    assert report.empty_markers == ("", "-")
    text = render_probe(report)
    assert "Busy status: pgm-a is SSL_MODIFYING" in text
    assert 'empty-value markers: "", "-"' in text


def test_unknown_instance_errors_are_recorded() -> None:
    report = run_probe(ReadOnlyView(FakeRds(fleet())), "cn-hangzhou", [])
    assert report.unknown_instance == {
        "DescribeDBInstanceAttribute": "InvalidDBInstanceId.NotFound (HTTP 404)",
        "DescribeDBInstanceSSL": "InvalidDBInstanceId.NotFound (HTTP 404)",
    }
    # Without --instance it samples the region's first instances, and so can still compare two ids.
    assert [i.instance_id for i in report.instances] == ["pgm-a", "pgm-b", "pgm-c", "pgm-d"]
    assert report.multi_id.reading == "list"


def test_text_output_escapes_what_the_api_says() -> None:
    hostile = FakeInstance("pgm-a", ssl={"SSLEnabled": "on", "ConnectionString": "x\x1b[2Ay", "ACL": "\x07"})
    report = run_probe(ReadOnlyView(FakeRds([hostile])), "cn-hangzhou", ["pgm-a"])
    text = render_probe(report)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\\x1b[2A" in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", 'empty ""'),
        ("-", 'dash "-"'),
        ("2022-10-11T08:16:43Z", "iso8601-utc (yyyy-MM-ddTHH:mm:ssZ)"),
        ("2022-10-11T08:16Z", "iso8601-utc without seconds (yyyy-MM-ddTHH:mmZ)"),
        ("2022-10-11 08:16:43", "date and time without zone (yyyy-MM-dd HH:mm:ss)"),
        ("2022-10-11T08:16:43+08:00", "iso8601 with an offset"),
        (1, "number"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----", "pem (unparseable)"),
        ("some free text", "string (14 characters)"),
    ],
)
def test_value_formats(value: object, expected: str) -> None:
    assert value_format("SSLExpireTime", value) == expected


def test_enumerations_are_shown_as_values() -> None:
    assert value_format("RequireUpdate", "1") == "string '1'"
    assert value_format("RequireUpdate", 1) == "number 1"
    assert value_format("ACL", "verify-full") == "string 'verify-full'"
