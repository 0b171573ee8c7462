"""The pure verdicts: a probe result, an expectation and the time in; findings and exit codes out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rdsssl_reconcile.verify.checks import judge
from rdsssl_reconcile.verify.model import (
    EndpointReport,
    Expectation,
    Finding,
    InstanceReport,
    PlainStartup,
    ProbeFailure,
    ProbeResult,
    Severity,
    Target,
    TlsSession,
    VerifyReport,
)
from tests.verify.helpers import NOW, Ca, der, fingerprint

NAME = "pgm-a.pg.rds.aliyuncs.com"
TARGET = Target(NAME, 5432, "127.0.0.1", "--resolve")


def served(
    *certs: object, full_chain: bool = True, version: str = "TLSv1.3", plain: PlainStartup | None = None
) -> ProbeResult:
    return ProbeResult(
        ssl_answer="S",
        tls=TlsSession(version, "TLS_AES_128_GCM_SHA256", 128, tuple(der(c) for c in certs), full_chain),  # type: ignore[arg-type]
        plain=plain,
    )


def codes(report: EndpointReport, severity: Severity | None = None) -> list[str]:
    return [f.code for f in report.findings if severity is None or f.severity is severity]


def problem_codes(report: EndpointReport) -> list[str]:
    return [f.code for f in report.problems()]


@pytest.fixture(scope="module")
def ca() -> Ca:
    return Ca()


@pytest.mark.parametrize(
    ("failure", "phrase"),
    [
        (ProbeFailure.CONNECTION_REFUSED, "connection refused: nothing listens on this port"),
        (ProbeFailure.SSLREQUEST_TIMEOUT, "no answer to SSLRequest (timeout)"),
        (ProbeFailure.NAME_RESOLUTION, "name does not resolve"),
        (ProbeFailure.CONNECT_TIMEOUT, "connect timed out"),
        (ProbeFailure.CLOSED, "connection closed"),
        (ProbeFailure.HANDSHAKE, "the server answered S to SSLRequest, then"),
    ],
)
def test_each_probe_failure_is_an_error_with_its_own_code_and_message(failure: ProbeFailure, phrase: str) -> None:
    report = judge(TARGET, Expectation(ssl=True), ProbeResult(failure, "detail"), NOW)
    (finding,) = report.findings
    assert (finding.code, finding.severity) == (failure.value, Severity.ERROR)
    assert phrase in finding.message
    assert finding.message.startswith(f"{NAME}:5432 (via 127.0.0.1): ")
    assert report.status == "error"


def test_n_to_sslrequest_is_no_ssl_when_declared_on_and_as_declared_when_off() -> None:
    probe = ProbeResult(ssl_answer="N")
    on = judge(TARGET, Expectation(ssl=True), probe, NOW)
    assert problem_codes(on) == ["no_ssl"]
    assert "server answered N to SSLRequest" in on.findings[0].message
    off = judge(TARGET, Expectation(ssl=False), probe, NOW)
    assert (codes(off), off.status) == (["ssl_off"], "ok")


def test_ssl_served_where_the_spec_declares_it_off_is_a_mismatch(ca: Ca) -> None:
    report = judge(TARGET, Expectation(ssl=False), served(ca.leaf(NAME)), NOW)
    assert problem_codes(report) == ["ssl_on"]


def test_custom_compares_the_served_fingerprint_with_the_specs(ca: Ca) -> None:
    declared, other = ca.leaf(NAME), ca.leaf(NAME)
    expect = Expectation(ssl=True, source="custom", fingerprint=fingerprint(declared), fingerprint_from="file a.crt")
    same = judge(TARGET, expect, served(declared), NOW)
    assert same.status == "ok"
    assert f"serves the spec's certificate (sha256 {fingerprint(declared)})" in [f.message for f in same.findings]
    assert same.certificate is not None
    assert same.certificate.sha256 == fingerprint(declared)
    differs = judge(TARGET, expect, served(other), NOW)
    (problem,) = differs.problems()
    assert problem.code == "other_certificate"
    assert fingerprint(other) in problem.message
    assert f"the spec's is sha256 {fingerprint(declared)} (file a.crt)" in problem.message


def test_issuer_checks_the_signature_not_just_the_issuer_name(ca: Ca) -> None:
    impostor = Ca(name="test-root")  # same name, another key
    expect = Expectation(ssl=True, source="issuer", issuer_ca=ca.cert)
    assert judge(TARGET, expect, served(ca.leaf(NAME)), NOW).status == "ok"
    report = judge(TARGET, expect, served(impostor.leaf(NAME)), NOW)
    assert problem_codes(report) == ["other_certificate"]
    assert "not issued by the spec's CA CN=test-root" in report.problems()[0].message


def test_a_certificate_other_than_the_api_reports_is_a_stale_server(ca: Ca) -> None:
    api, old = ca.leaf(NAME), ca.leaf(NAME)
    expect = Expectation(ssl=True, source="aliyun", live_fingerprint=fingerprint(api))
    assert "certificate" in codes(judge(TARGET, expect, served(api), NOW), Severity.INFO)
    report = judge(TARGET, expect, served(old), NOW)
    assert problem_codes(report) == ["not_live_certificate"]
    assert "has the server been restarted since?" in report.problems()[0].message


def test_aliyun_without_a_bundle_says_the_chain_was_not_checked(ca: Ca) -> None:
    report = judge(TARGET, Expectation(ssl=True, source="aliyun"), served(ca.leaf(NAME)), NOW)
    assert report.status == "ok"
    assert "chain_not_checked" in codes(report, Severity.INFO)


def test_the_chain_is_built_through_served_intermediates_to_a_root_of_the_bundle(ca: Ca) -> None:
    intermediate = ca.intermediate()
    leaf = intermediate.leaf(NAME)
    expect = Expectation(ssl=True, source="aliyun", bundle=(ca.cert,), bundle_from="file ca.pem")
    assert "chain" in codes(judge(TARGET, expect, served(leaf, intermediate.cert), NOW), Severity.INFO)
    # Only the leaf read from the session: the intermediate is nowhere, so no path (as for a client).
    leaf_only = judge(TARGET, expect, served(leaf, full_chain=False), NOW)
    assert problem_codes(leaf_only) == ["untrusted_chain"]
    assert "does not verify to --ca-bundle (file ca.pem)" in leaf_only.problems()[0].message
    assert leaf_only.certificate is not None
    assert leaf_only.certificate.full_chain is False
    other_root = judge(TARGET, Expectation(ssl=True, source="aliyun", bundle=(Ca("other").cert,)), served(leaf), NOW)
    assert problem_codes(other_root) == ["untrusted_chain"]


@pytest.mark.parametrize(
    ("sans", "cn", "name", "covered"),
    [
        (("pgm-a.pg.rds.aliyuncs.com",), None, NAME, True),
        (("PGM-A.pg.rds.aliyuncs.com",), None, NAME, True),  # case-insensitive
        (("*.pg.rds.aliyuncs.com",), None, NAME, True),  # a whole leftmost label
        (("*.rds.aliyuncs.com",), None, NAME, False),  # one label only
        (("pgm-*.pg.rds.aliyuncs.com",), None, NAME, False),  # partial wildcards never match
        (("other.example.com",), NAME, NAME, False),  # with a SAN dNSName, the CN is ignored
        ((), NAME, NAME, True),  # no SAN dNSName: the CN counts
        (("pgm-a.pg.rds.aliyuncs.com", "pgm-a-ro.pg.rds.aliyuncs.com"), None, "pgm-a-ro.pg.rds.aliyuncs.com", True),
    ],
)
def test_names_are_checked_as_libpq_verify_full_does(
    ca: Ca, sans: tuple[str, ...], cn: str | None, name: str, covered: bool
) -> None:
    target = Target(name, 5432, name)
    report = judge(target, Expectation(ssl=True), served(ca.leaf(*sans, cn=cn)), NOW)
    assert ("name_not_covered" in problem_codes(report)) is not covered
    if not covered:
        assert f"does not cover {name} as libpq verify-full checks it" in report.problems()[0].message


def test_expiry_expired_not_yet_valid_and_the_renewal_window(ca: Ca) -> None:
    expect = Expectation(ssl=True, renew_before_days=30)
    expired = judge(TARGET, expect, served(ca.leaf(NAME, not_before=NOW - timedelta(days=40), days=30)), NOW)
    assert problem_codes(expired) == ["expired"]
    assert "(10 days ago)" in expired.problems()[0].message
    early = judge(TARGET, expect, served(ca.leaf(NAME, not_before=NOW + timedelta(days=2))), NOW)
    assert problem_codes(early) == ["not_yet_valid"]
    soon = judge(TARGET, expect, served(ca.leaf(NAME, days=20)), NOW)
    assert soon.status == "ok"
    (expiry,) = [f for f in soon.findings if f.code == "expiry"]
    assert "inside the renewal window of 30 days" in expiry.message
    assert soon.certificate is not None
    assert soon.certificate.days_left == pytest.approx(19, abs=0.01)


def test_protocol_and_cipher_are_reported(ca: Ca) -> None:
    report = judge(TARGET, Expectation(ssl=True), served(ca.leaf(NAME), version="TLSv1.1"), NOW)
    (tls,) = [f for f in report.findings if f.code == "tls"]
    assert tls.message == "TLSv1.1, TLS_AES_128_GCM_SHA256 (128 bits); an old protocol version"
    assert (report.protocol, report.cipher) == ("TLSv1.1", "TLS_AES_128_GCM_SHA256")


@pytest.mark.parametrize(
    ("acl", "accepted", "code", "severity"),
    [
        ("verify-ca", True, "plain_accepted", Severity.MISMATCH),
        ("cert", True, "plain_accepted", Severity.MISMATCH),
        ("verify-full", True, "plain_accepted", Severity.MISMATCH),
        ("prefer", True, "plain_accepted", Severity.INFO),
        (None, True, "plain_accepted", Severity.INFO),
        ("verify-ca", False, "plain_refused", Severity.INFO),
        ("verify-ca", None, "plain_unknown", Severity.INFO),
    ],
)
def test_non_ssl_accepted_is_a_finding_only_when_the_acl_forbids_it(
    ca: Ca, acl: str | None, accepted: bool | None, code: str, severity: Severity
) -> None:
    from rdsssl_reconcile.verify.checks import SSL_FORCING_ACLS

    expect = Expectation(ssl=True, acl=acl, ssl_required=acl in SSL_FORCING_ACLS)
    report = judge(TARGET, expect, served(ca.leaf(NAME), plain=PlainStartup(accepted, "detail")), NOW)
    (finding,) = [f for f in report.findings if f.code.startswith("plain_")]
    assert (finding.code, finding.severity) == (code, severity)
    assert report.plain_accepted is accepted


def test_an_unparseable_certificate_is_a_mismatch_not_a_crash() -> None:
    probe = ProbeResult(ssl_answer="S", tls=TlsSession("TLSv1.3", "X", 128, (b"not der",), True))
    assert "unparseable_certificate" in problem_codes(judge(TARGET, Expectation(ssl=True), probe, NOW))


def _report(*severities: Severity | None) -> VerifyReport:
    endpoints = tuple(EndpointReport(TARGET, () if s is None else (Finding("x", s, "m"),)) for s in severities)
    return VerifyReport(
        instances=(InstanceReport("pgm-a", "cn-hangzhou", "custom", endpoints=endpoints),),
        target={},
        checked_at=NOW,
        parallelism=1,
        timeout_seconds=1,
    )


@pytest.mark.parametrize(
    ("severities", "code"),
    [
        ((), 0),
        ((None, Severity.INFO), 0),
        ((Severity.INFO, Severity.MISMATCH), 2),
        ((Severity.MISMATCH, Severity.ERROR, None), 1),
        ((Severity.ERROR,), 1),
    ],
)
def test_exit_code_is_the_worst_endpoint_error_over_mismatch_over_ok(
    severities: tuple[Severity | None, ...], code: int
) -> None:
    assert _report(*severities).exit_code == code
