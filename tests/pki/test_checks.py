"""Each check of pki.checks, passing and failing, with the finding it must produce."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from rdsssl_reconcile.pki.authority import CertificateAuthority, IssuedCertificate, KeyType
from rdsssl_reconcile.pki.checks import (
    CLIENT_CA_CHECKS,
    SERVER_CHECKS,
    CertificateReport,
    CheckResult,
    Outcome,
    Severity,
    check_client_ca,
    check_server_certificate,
)
from tests.pki.builders import NOW as BUILD_NOW
from tests.pki.builders import Made, ec_key, key_usage, make_ca, make_cert, rsa_key
from tests.pki.conftest import ENDPOINTS
from tests.support.openssl_procedure import (
    crlf_rewrapped,
    encrypted_key_legacy,
    encrypted_key_pkcs8,
    foreign_key,
    pkcs1_key,
    require_openssl,
)


def outcomes(report: CertificateReport) -> dict[str, Outcome]:
    return {r.code: r.outcome for r in report.results}


def check(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime, **overrides: object
) -> CertificateReport:
    arguments: dict[str, object] = {
        "cert_pem": issued.cert_pem(),
        "key_pem": issued.key_pem(),
        "endpoints": ENDPOINTS,
        "now": now,
        "ca_pem": authority.cert_pem(),
    }
    arguments.update(overrides)
    return check_server_certificate(**arguments)  # type: ignore[arg-type]


def test_a_good_issued_pair_passes_everything(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    report = check(issued, authority, now, instance_endpoints=ENDPOINTS)
    assert tuple(r.code for r in report.results) == SERVER_CHECKS
    assert all(r.outcome is Outcome.PASS for r in report.results), [
        r for r in report.results if r.outcome is not Outcome.PASS
    ]
    assert report.ok
    assert not report.errors
    assert not report.warnings
    assert not report.notices
    assert report.certificate is not None
    assert report.certificate.dns_names == ENDPOINTS
    assert report.key is not None
    assert report.key.public_key_sha256 == report.certificate.public_key_sha256
    assert not report.key_needs_conversion
    assert "RFC 5280" in report.result("chain").message


def test_every_check_is_skipped_with_a_reason_when_nothing_can_run(now: datetime) -> None:
    report = check_server_certificate(cert_pem="no pem here", key_pem=None, endpoints=(), now=now)
    assert outcomes(report)["pem-found"] is Outcome.FAIL
    assert all(r.outcome is Outcome.SKIP and r.message for r in report.results[1:])
    assert report.certificate is None
    assert not report.ok


def test_key_checks_skip_without_a_key(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    report = check(issued, authority, now, key_pem=None)
    for code in ("key-found", "key-unencrypted", "key-pkcs8", "key-matches"):
        assert report.result(code).outcome is Outcome.SKIP
    assert report.ok


# --- pem-found -----------------------------------------------------------------------------------------


def test_text_and_crlf_around_the_certificate_are_fine(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    text = "Certificate:\n    Data: ...\n" + crlf_rewrapped(issued.cert_pem()).decode()
    report = check(issued, authority, now, cert_pem=text)
    assert report.result("pem-found").outcome is Outcome.PASS
    assert "ignored" in report.result("pem-found").message
    assert report.ok


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        ("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n", "CSR"),
        ("just some text", "no PEM block at all"),
    ],
)
def test_no_certificate_is_an_error_with_a_hint(content: str, hint: str, now: datetime) -> None:
    report = check_server_certificate(cert_pem=content, key_pem=None, endpoints=ENDPOINTS, now=now)
    result = report.result("pem-found")
    assert result.outcome is Outcome.FAIL
    assert result.severity is Severity.ERROR
    assert hint in result.message
    assert "BEGIN CERTIFICATE" in result.why


def test_swapped_certificate_and_key_are_named(issued: IssuedCertificate, now: datetime) -> None:
    report = check_server_certificate(
        cert_pem=issued.key_pem(), key_pem=issued.cert_pem(), endpoints=ENDPOINTS, now=now
    )
    assert "swapped" in report.result("pem-found").message
    assert "swapped" in report.result("key-found").message
    assert "MII" not in json.dumps(report.to_dict())


def test_broken_base64_is_a_failed_check_not_an_exception(now: datetime) -> None:
    bad = "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"
    report = check_server_certificate(
        cert_pem=bad, key_pem=bad.replace("CERTIFICATE", "PRIVATE KEY"), endpoints=(), now=now
    )
    assert report.result("pem-found").outcome is Outcome.FAIL
    assert report.result("key-found").outcome is Outcome.FAIL


# --- keys ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encrypt", [encrypted_key_pkcs8, encrypted_key_legacy], ids=["pkcs8", "proc-type"])
def test_encrypted_key_fails_with_how_to_remove_the_passphrase(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime, encrypt: object
) -> None:
    report = check(issued, authority, now, key_pem=encrypt(issued.key_pem()))  # type: ignore[operator]
    result = report.result("key-unencrypted")
    assert result.outcome is Outcome.FAIL
    assert result.severity is Severity.ERROR
    assert "passphrase" in result.message
    assert "openssl pkey -in server.key -out server-nopass.key" in result.why
    assert report.result("key-pkcs8").outcome is Outcome.SKIP
    assert report.result("key-matches").outcome is Outcome.SKIP
    assert [r.code for r in report.errors] == ["key-unencrypted"]


def test_pkcs1_key_is_accepted_and_flagged_for_conversion(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    report = check(issued, authority, now, key_pem=pkcs1_key(issued.key_pem()))
    result = report.result("key-pkcs8")
    assert result.outcome is Outcome.WARN
    assert result.severity is Severity.INFO
    assert "PKCS#1" in result.message
    assert "converted" in result.message
    assert report.key_needs_conversion
    assert report.ok
    assert report.notices == (result,)
    assert not report.warnings
    assert report.result("key-matches").outcome is Outcome.PASS


def test_sec1_ec_key_is_flagged_for_conversion(ec_authority: CertificateAuthority, now: datetime) -> None:
    issued = ec_authority.issue_server_certificate(ENDPOINTS, now=now, key=ec_key(7))
    sec1 = issued.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    report = check(issued, ec_authority, now, key_pem=sec1)
    assert "SEC1" in report.result("key-pkcs8").message
    assert report.key_needs_conversion
    assert report.ok


def test_foreign_key_fails_key_matches(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    report = check(issued, authority, now, key_pem=foreign_key(now))
    result = report.result("key-matches")
    assert result.outcome is Outcome.FAIL
    assert "another certificate" in result.message
    assert "InvalidServerCertOrPrivateKey" in result.why


def test_key_of_a_later_certificate_in_the_file_says_the_order_is_wrong(now: datetime) -> None:
    ca = make_ca()
    leaf = make_cert(dns=["db.example.com"], signer=ca, key=ec_key(3))
    report = check_server_certificate(
        cert_pem=ca.cert_pem() + leaf.cert_pem(), key_pem=leaf.key_pem(), endpoints=["db.example.com"], now=BUILD_NOW
    )
    assert "certificate 2" in report.result("key-matches").message


# --- dates ---------------------------------------------------------------------------------------------


def test_expired_certificate(issued: IssuedCertificate, authority: CertificateAuthority) -> None:
    later = issued.certificate.not_valid_after_utc + timedelta(days=3)
    report = check(issued, authority, later)
    result = report.result("not-expired")
    assert result.outcome is Outcome.FAIL
    assert "expired on" in result.message
    assert "3 days ago" in result.message
    assert report.result("renewal-window").outcome is Outcome.SKIP
    assert report.result("chain").outcome is Outcome.PASS  # the chain itself is fine; one error, not two
    assert [r.code for r in report.errors] == ["not-expired"]


def test_not_yet_valid_certificate(issued: IssuedCertificate, authority: CertificateAuthority) -> None:
    earlier = issued.certificate.not_valid_before_utc - timedelta(days=2)
    result = check(issued, authority, earlier).result("not-expired")
    assert result.outcome is Outcome.FAIL
    assert "not valid until" in result.message


def test_inside_the_renewal_window_is_a_warning(issued: IssuedCertificate, authority: CertificateAuthority) -> None:
    near_end = issued.certificate.not_valid_after_utc - timedelta(days=12, hours=1)
    report = check(issued, authority, near_end, renew_before_days=30)
    result = report.result("renewal-window")
    assert result.outcome is Outcome.WARN
    assert result.severity is Severity.WARNING
    assert "expires in 12 days" in result.message
    assert "30-day" in result.message
    assert "restart" in result.why
    assert report.ok
    assert report.warnings == (result,)
    assert check(issued, authority, near_end, renew_before_days=10).result("renewal-window").outcome is Outcome.PASS


def test_naive_now_is_taken_as_utc(issued: IssuedCertificate, authority: CertificateAuthority, now: datetime) -> None:
    assert check(issued, authority, now.replace(tzinfo=None)).ok


def test_negative_renewal_window_is_a_programming_error(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    with pytest.raises(ValueError, match="renew_before_days"):
        check(issued, authority, now, renew_before_days=-1)


# --- chain ---------------------------------------------------------------------------------------------


def test_chain_skipped_without_ca(issued: IssuedCertificate, authority: CertificateAuthority, now: datetime) -> None:
    result = check(issued, authority, now, ca_pem=None).result("chain")
    assert result.outcome is Outcome.SKIP
    assert "no CA" in result.message


def test_chain_fails_for_another_ca(
    issued: IssuedCertificate, ec_authority: CertificateAuthority, now: datetime
) -> None:
    result = check(issued, ec_authority, now).result("chain")
    assert result.outcome is Outcome.FAIL
    assert "CN=test-root-ca" in result.message
    assert "sslrootcert" in result.why


def test_chain_fails_for_a_ca_recreated_with_the_same_name(issued: IssuedCertificate, now: datetime) -> None:
    impostor = make_ca(
        "test-root-ca", key=ec_key(55), not_before=now - timedelta(days=1), not_after=now + timedelta(days=9)
    )
    result = check_server_certificate(
        cert_pem=issued.cert_pem(), key_pem=None, endpoints=ENDPOINTS, now=now, ca_pem=impostor.cert_pem()
    ).result("chain")
    assert result.outcome is Outcome.FAIL
    assert "same name, different key" in result.message


def test_chain_through_an_intermediate_included_after_the_leaf() -> None:
    root = make_ca("unit-root")
    intermediate = make_ca("unit-intermediate", key=ec_key(101), signer=root)
    leaf = make_cert(dns=["db.example.com"], signer=intermediate, key=ec_key(4))
    full = check_server_certificate(
        cert_pem=leaf.cert_pem() + intermediate.cert_pem(),
        key_pem=leaf.key_pem(),
        endpoints=["db.example.com"],
        now=BUILD_NOW,
        ca_pem=root.cert_pem(),
    )
    assert full.result("chain").outcome is Outcome.PASS, full.result("chain")
    assert len(full.chain) == 1
    assert full.chain[0].common_name == "unit-intermediate"
    missing = check_server_certificate(
        cert_pem=leaf.cert_pem(), key_pem=None, endpoints=["db.example.com"], now=BUILD_NOW, ca_pem=root.cert_pem()
    ).result("chain")
    assert missing.outcome is Outcome.FAIL
    assert "unit-intermediate" in missing.message


def test_chain_fails_when_the_ca_is_expired(now: datetime) -> None:
    ca = make_ca(
        "old-root", key=ec_key(60), not_before=BUILD_NOW - timedelta(days=400), not_after=BUILD_NOW - timedelta(days=1)
    )
    leaf = make_cert(dns=["db.example.com"], signer=ca, key=ec_key(5))
    result = check_server_certificate(
        cert_pem=leaf.cert_pem(), key_pem=None, endpoints=(), now=BUILD_NOW, ca_pem=ca.cert_pem()
    ).result("chain")
    assert result.outcome is Outcome.FAIL
    assert "not valid now" in result.message


def test_chain_fails_when_the_signer_is_not_a_ca() -> None:
    not_a_ca = make_cert(cn="plain-server", dns=["plain.example.com"], key=ec_key(61))
    leaf = make_cert(dns=["db.example.com"], signer=not_a_ca, key=ec_key(6))
    result = check_server_certificate(
        cert_pem=leaf.cert_pem(), key_pem=None, endpoints=(), now=BUILD_NOW, ca_pem=not_a_ca.cert_pem()
    ).result("chain")
    assert result.outcome is Outcome.FAIL


def test_chain_respects_path_length_constraints() -> None:
    # libpq (OpenSSL) refuses this chain: the first intermediate allows no CA below it.
    root = make_ca("len-root", key=ec_key(110))
    limited = make_ca("len-limited", key=ec_key(111), signer=root, path_length=0)
    below = make_ca("len-below", key=ec_key(112), signer=limited)
    leaf = make_cert(dns=["db.example.com"], signer=below, key=ec_key(113))
    result = check_server_certificate(
        cert_pem=leaf.cert_pem() + below.cert_pem() + limited.cert_pem(),
        key_pem=None,
        endpoints=(),
        now=BUILD_NOW,
        ca_pem=root.cert_pem(),
    ).result("chain")
    assert result.outcome is Outcome.FAIL, result
    assert "CN=len-limited allows 0 intermediate CA(s) below it (pathLenConstraint), the chain has 1" in result.message


def test_chain_needs_a_root_in_the_ca_file() -> None:
    # sslrootcert holding only the intermediate is not enough for libpq, which does not allow partial chains.
    root = make_ca("anchor-root", key=ec_key(120))
    intermediate = make_ca("anchor-intermediate", key=ec_key(121), signer=root)
    leaf = make_cert(dns=["db.example.com"], signer=intermediate, key=ec_key(122))

    def chain_with(ca_pem: str) -> CheckResult:
        return check_server_certificate(
            cert_pem=leaf.cert_pem(), key_pem=None, endpoints=(), now=BUILD_NOW, ca_pem=ca_pem
        ).result("chain")

    only_intermediate = chain_with(intermediate.cert_pem())
    assert only_intermediate.outcome is Outcome.FAIL
    assert "which is not a root" in only_intermediate.message
    only_leaf = chain_with(leaf.cert_pem())
    assert only_leaf.outcome is Outcome.FAIL
    # The intermediate may come from the CA file, as long as the root is there too.
    assert chain_with(intermediate.cert_pem() + root.cert_pem()).outcome is Outcome.PASS


# --- content -------------------------------------------------------------------------------------------


def test_a_ca_certificate_as_the_server_certificate(authority: CertificateAuthority, now: datetime) -> None:
    report = check_server_certificate(
        cert_pem=authority.cert_pem(), key_pem=authority.key_pem(), endpoints=ENDPOINTS, now=now
    )
    result = report.result("leaf-not-ca")
    assert result.outcome is Outcome.FAIL
    assert "CA:TRUE" in result.message
    assert "server-ca.crt" in result.why


@pytest.mark.parametrize(
    ("made", "outcome", "fragment"),
    [
        (lambda: make_cert(dns=["d.example.com"], eku=[ExtendedKeyUsageOID.CLIENT_AUTH]), Outcome.FAIL, "serverAuth"),
        (
            lambda: make_cert(dns=["d.example.com"], usage=key_usage(key_encipherment=True)),
            Outcome.FAIL,
            "digitalSignature",
        ),
        (
            lambda: make_cert(dns=["d.example.com"], key=rsa_key(), usage=key_usage(digital_signature=True)),
            Outcome.WARN,
            "keyEncipherment",
        ),
        (lambda: make_cert(dns=["d.example.com"], eku=None), Outcome.PASS, "no keyUsage"),
        (
            lambda: make_cert(dns=["d.example.com"], eku=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]),
            Outcome.PASS,
            "allow",
        ),
    ],
    ids=["eku-client-only", "no-digital-signature", "rsa-no-key-encipherment", "no-restrictions", "any-eku"],
)
def test_key_usage(made: object, outcome: Outcome, fragment: str) -> None:
    cert: Made = made()  # type: ignore[operator]
    result = check_server_certificate(cert_pem=cert.cert_pem(), key_pem=None, endpoints=(), now=BUILD_NOW).result(
        "key-usage"
    )
    assert result.outcome is outcome
    assert fragment in result.message


def test_rsa_1024_is_too_weak() -> None:
    cert = make_cert(dns=["d.example.com"], key=rsa_key(1024))
    result = check_server_certificate(cert_pem=cert.cert_pem(), key_pem=None, endpoints=(), now=BUILD_NOW).result(
        "key-strength"
    )
    assert result.outcome is Outcome.FAIL
    assert "RSA 1024" in result.message


@pytest.mark.parametrize(("digest", "key"), [("sha1", "ec"), ("md5", "rsa:2048")])
def test_weak_signature_hashes_are_refused(digest: str, key: str, tmp_path: Path) -> None:
    """cryptography no longer signs with SHA-1/MD5, so openssl makes these (skipped without openssl)."""
    openssl = require_openssl()
    key_options = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key == "ec" else ["-newkey", key]
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-new",
            "-nodes",
            *key_options,
            f"-{digest}",
            "-subj",
            "/CN=d.example.com",
            "-days",
            "2",
            "-keyout",
            str(tmp_path / "k.pem"),
            "-out",
            str(tmp_path / "c.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    result = check_server_certificate(
        cert_pem=(tmp_path / "c.pem").read_bytes(), key_pem=None, endpoints=(), now=datetime.now(UTC)
    ).result("signature-hash")
    assert result.outcome is Outcome.FAIL
    assert digest.upper() in result.message
    assert "OpenSSL 3" in result.why


# --- coverage ------------------------------------------------------------------------------------------


def test_a_certificate_for_another_host(authority: CertificateAuthority, now: datetime) -> None:
    other = authority.issue_server_certificate(["pgm-other.pg.rds.aliyuncs.com"], now=now, key=ec_key(9))
    report = check_server_certificate(
        cert_pem=other.cert_pem(), key_pem=other.key_pem(), endpoints=ENDPOINTS, now=now, ca_pem=authority.cert_pem()
    )
    result = report.result("covers-endpoints")
    assert result.outcome is Outcome.FAIL
    assert ENDPOINTS[0] in result.message
    assert ENDPOINTS[1] in result.message
    assert "pgm-other.pg.rds.aliyuncs.com" in result.message
    assert "verify-full" in result.why
    assert [r.code for r in report.errors] == ["covers-endpoints"]


def test_cn_only_certificate_covers_its_cn_but_not_a_second_endpoint() -> None:
    cert = make_cert(cn="a.example.com", dns=[])
    report = check_server_certificate(
        cert_pem=cert.cert_pem(), key_pem=None, endpoints=["a.example.com", "b.example.com"], now=BUILD_NOW
    )
    result = report.result("covers-endpoints")
    assert result.outcome is Outcome.FAIL
    assert "b.example.com" in result.message
    assert "in its CN" in result.message


def test_wildcard_covers_endpoints() -> None:
    cert = make_cert(cn=None, dns=["*.pg.rds.aliyuncs.com"])
    report = check_server_certificate(cert_pem=cert.cert_pem(), key_pem=None, endpoints=ENDPOINTS, now=BUILD_NOW)
    assert report.result("covers-endpoints").outcome is Outcome.PASS


def test_no_declared_endpoints_is_a_skip(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    assert check(issued, authority, now, endpoints=()).result("covers-endpoints").outcome is Outcome.SKIP


def test_instance_endpoints_the_certificate_misses_are_a_warning(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    instance = (*ENDPOINTS, "pgm-a1.pgsql.rds.aliyuncs.com", "PGM-A1.pg.rds.aliyuncs.com.")
    report = check(issued, authority, now, instance_endpoints=instance)
    result = report.result("covers-instance-endpoints")
    assert result.outcome is Outcome.WARN
    assert result.severity is Severity.WARNING
    assert "pgm-a1.pgsql.rds.aliyuncs.com" in result.message
    assert "PGM-A1" not in result.message  # the same endpoint in another spelling is covered
    assert "DescribeDBInstanceNetInfo" in result.why
    assert report.ok


def test_a_declared_uncovered_endpoint_is_reported_once(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    report = check(issued, authority, now, endpoints=["x.example.com"], instance_endpoints=["x.example.com"])
    assert report.result("covers-endpoints").outcome is Outcome.FAIL
    assert report.result("covers-instance-endpoints").outcome is Outcome.PASS


# --- report --------------------------------------------------------------------------------------------


def test_report_json_has_every_result_and_no_key_material(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    data = check(issued, authority, now, key_pem=pkcs1_key(issued.key_pem())).to_dict()
    text = json.dumps(data)
    results = data["results"]
    assert isinstance(results, list)
    assert [r["code"] for r in results] == list(SERVER_CHECKS)
    assert data["key_needs_conversion"] is True
    assert not re.search(r"-----(BEGIN|END) [A-Z ]*PRIVATE KEY-----", text)
    body = "".join(issued.key_pem().splitlines()[1:-1])
    assert not any(body[i : i + 40] in text for i in range(0, len(body) - 40, 8))


def test_result_lookup_of_an_unknown_code(
    issued: IssuedCertificate, authority: CertificateAuthority, now: datetime
) -> None:
    with pytest.raises(KeyError):
        check(issued, authority, now).result("no-such-check")


# --- client CA -----------------------------------------------------------------------------------------


def _crl(issuer: Made, *, next_update: datetime, revoked: int = 1) -> str:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(BUILD_NOW - timedelta(days=1))
        .next_update(next_update)
    )
    for serial in range(1, revoked + 1):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(BUILD_NOW - timedelta(days=1))
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def test_client_ca_with_its_crl_passes() -> None:
    ca = make_ca("client-ca", key=ec_key(70))
    report = check_client_ca(
        ca_pem=ca.cert_pem(), crl_pem=_crl(ca, next_update=BUILD_NOW + timedelta(days=7)), now=BUILD_NOW
    )
    assert tuple(r.code for r in report.results) == CLIENT_CA_CHECKS
    assert all(r.outcome is Outcome.PASS for r in report.results), report.results
    assert "1 revoked" in report.result("crl-found").message


def test_client_ca_without_crl_skips_the_crl_checks() -> None:
    ca = make_ca("client-ca", key=ec_key(70))
    report = check_client_ca(ca_pem=ca.cert_pem(), crl_pem=None, now=BUILD_NOW)
    assert [report.result(c).outcome for c in ("crl-found", "crl-signed", "crl-next-update")] == [Outcome.SKIP] * 3
    assert report.ok


def test_client_ca_findings() -> None:
    ca = make_ca("client-ca", key=ec_key(70))
    other = make_ca("other-ca", key=ec_key(71))
    foreign_crl = check_client_ca(
        ca_pem=ca.cert_pem(), crl_pem=_crl(other, next_update=BUILD_NOW + timedelta(days=7)), now=BUILD_NOW
    )
    assert foreign_crl.result("crl-signed").outcome is Outcome.FAIL
    assert "other-ca" in foreign_crl.result("crl-signed").message
    stale = check_client_ca(
        ca_pem=ca.cert_pem(), crl_pem=_crl(ca, next_update=BUILD_NOW - timedelta(days=1)), now=BUILD_NOW
    )
    assert stale.result("crl-next-update").outcome is Outcome.FAIL
    assert stale.result("crl-next-update").severity is Severity.ERROR
    assert not stale.ok
    garbage = check_client_ca(ca_pem=ca.cert_pem(), crl_pem="not a crl", now=BUILD_NOW)
    assert garbage.result("crl-found").outcome is Outcome.FAIL
    not_ca = make_cert(cn="server", dns=["s.example.com"])
    assert (
        check_client_ca(ca_pem=not_ca.cert_pem(), crl_pem=None, now=BUILD_NOW).result("ca-is-ca").outcome
        is Outcome.FAIL
    )
    intermediate = make_ca("client-intermediate", key=ec_key(72), signer=ca)
    assert (
        check_client_ca(ca_pem=intermediate.cert_pem(), crl_pem=None, now=BUILD_NOW).result("ca-self-signed").outcome
        is Outcome.WARN
    )
    expired = check_client_ca(ca_pem=ca.cert_pem(), crl_pem=None, now=BUILD_NOW + timedelta(days=400))
    assert expired.result("not-expired").outcome is Outcome.FAIL
    assert "client" in expired.result("not-expired").why


def test_summary_days_left_accepts_a_naive_now(issued: IssuedCertificate, now: datetime) -> None:
    report = check(issued, CertificateAuthority.create("unused", now=now, key_type=KeyType.EC_P256), now)
    assert report.certificate is not None
    assert report.certificate.days_left(now.replace(tzinfo=None)) == report.certificate.days_left(now)


# --- a self-signed server certificate: trusted only as itself, only when it is in the CA file ---------


@pytest.mark.parametrize("dns", [["db.example.com"], []], ids=["with-san", "cn-only"])
def test_a_self_signed_leaf_in_the_ca_file_verifies_as_its_own_anchor(dns: list[str]) -> None:
    leaf = make_cert(cn="db.example.com", dns=dns, key=ec_key(130))
    other_root = make_ca("unrelated-root", key=ec_key(131))
    for ca_pem in (leaf.cert_pem(), other_root.cert_pem() + leaf.cert_pem()):
        result = check_server_certificate(
            cert_pem=leaf.cert_pem(), key_pem=None, endpoints=(), now=BUILD_NOW, ca_pem=ca_pem
        ).result("chain")
        assert result.outcome is Outcome.PASS, result
        assert "CN=db.example.com" in result.message


@pytest.mark.parametrize("dns", [["db.example.com"], []], ids=["with-san", "cn-only"])
def test_a_self_signed_leaf_absent_from_the_ca_file_fails_the_chain(dns: list[str]) -> None:
    leaf = make_cert(cn="db.example.com", dns=dns, key=ec_key(130))
    other_root = make_ca("unrelated-root", key=ec_key(131))
    # Same name, other key: what a re-generated self-signed certificate looks like next to the old one.
    impostor = make_cert(cn="db.example.com", dns=dns, key=ec_key(132))
    for ca_pem, why in (
        (other_root.cert_pem(), "neither in the CA file (CN=unrelated-root) nor in the chain"),
        (impostor.cert_pem(), "does not verify with the key of CN=db.example.com"),
    ):
        result = check_server_certificate(
            cert_pem=leaf.cert_pem(), key_pem=None, endpoints=(), now=BUILD_NOW, ca_pem=ca_pem
        ).result("chain")
        assert result.outcome is Outcome.FAIL, result
        assert why in result.message
