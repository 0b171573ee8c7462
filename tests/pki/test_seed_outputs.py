"""The seed document's literal openssl outputs, judged by pki.checks (acceptance 2, library level)."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509

from rdsssl_reconcile.pki.checks import Outcome, check_server_certificate
from rdsssl_reconcile.pki.pem import load_certificate
from tests.support.seed_openssl import SEED_SAN_ENDPOINTS, SeedFiles


def _check(files: SeedFiles, endpoints: tuple[str, ...] | None = None) -> dict[str, Outcome]:
    report = check_server_certificate(
        cert_pem=files.server_cert.read_bytes(),
        key_pem=files.server_key.read_bytes(),
        ca_pem=files.ca_cert.read_bytes(),
        endpoints=endpoints if endpoints is not None else files.endpoints,
        now=datetime.now(UTC),
    )
    assert report.ok, [r for r in report.results if r.is_finding]
    return {r.code: r.outcome for r in report.results}


def test_single_endpoint_seed_is_a_v1_certificate_with_a_text_dump(seed_single: SeedFiles) -> None:
    text = seed_single.server_cert.read_text()
    assert text.startswith("Certificate:")
    cert = load_certificate(text)
    assert cert.version is x509.Version.v1
    assert seed_single.server_key.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_single_endpoint_seed_passes_every_check(seed_single: SeedFiles) -> None:
    outcomes = _check(seed_single)
    assert outcomes["chain"] is Outcome.PASS
    assert outcomes["covers-endpoints"] is Outcome.PASS
    assert outcomes["key-matches"] is Outcome.PASS


def test_single_endpoint_chain_says_the_fallback_was_used(seed_single: SeedFiles) -> None:
    report = check_server_certificate(
        cert_pem=seed_single.server_cert.read_bytes(),
        key_pem=None,
        ca_pem=seed_single.ca_cert.read_bytes(),
        endpoints=seed_single.endpoints,
        now=datetime.now(UTC),
    )
    message = report.result("chain").message
    assert "signature" in message
    assert "X.509 v1" in message


def test_san_seed_has_both_sans_and_an_empty_cn(seed_multi: SeedFiles) -> None:
    cert = load_certificate(seed_multi.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert tuple(san.get_values_for_type(x509.DNSName)) == SEED_SAN_ENDPOINTS
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME) == []
    assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "Aliyun"


def test_san_seed_passes_every_check_for_both_endpoints(seed_multi: SeedFiles) -> None:
    outcomes = _check(seed_multi)
    assert outcomes["covers-endpoints"] is Outcome.PASS
    assert outcomes["key-usage"] is Outcome.PASS
    assert outcomes["leaf-not-ca"] is Outcome.PASS
