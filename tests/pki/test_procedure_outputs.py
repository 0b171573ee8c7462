"""The custom-certificate page's literal openssl outputs, judged by pki.checks (acceptance 2, library level)."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509

from rdsssl_reconcile.pki.checks import Outcome, check_server_certificate
from rdsssl_reconcile.pki.pem import load_certificate
from tests.support.openssl_procedure import PROCEDURE_SAN_ENDPOINTS, ProcedureFiles


def _check(files: ProcedureFiles, endpoints: tuple[str, ...] | None = None) -> dict[str, Outcome]:
    report = check_server_certificate(
        cert_pem=files.server_cert.read_bytes(),
        key_pem=files.server_key.read_bytes(),
        ca_pem=files.ca_cert.read_bytes(),
        endpoints=endpoints if endpoints is not None else files.endpoints,
        now=datetime.now(UTC),
    )
    assert report.ok, [r for r in report.results if r.is_finding]
    return {r.code: r.outcome for r in report.results}


def test_single_endpoint_procedure_is_a_v1_certificate_with_a_text_dump(procedure_single: ProcedureFiles) -> None:
    text = procedure_single.server_cert.read_text()
    assert text.startswith("Certificate:")
    cert = load_certificate(text)
    assert cert.version is x509.Version.v1
    assert procedure_single.server_key.read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_single_endpoint_procedure_passes_every_check(procedure_single: ProcedureFiles) -> None:
    outcomes = _check(procedure_single)
    assert outcomes["chain"] is Outcome.PASS
    assert outcomes["covers-endpoints"] is Outcome.PASS
    assert outcomes["key-matches"] is Outcome.PASS


def test_single_endpoint_chain_says_the_fallback_was_used(procedure_single: ProcedureFiles) -> None:
    report = check_server_certificate(
        cert_pem=procedure_single.server_cert.read_bytes(),
        key_pem=None,
        ca_pem=procedure_single.ca_cert.read_bytes(),
        endpoints=procedure_single.endpoints,
        now=datetime.now(UTC),
    )
    message = report.result("chain").message
    assert "signature" in message
    assert "X.509 v1" in message


def test_san_procedure_has_both_sans_and_an_empty_cn(procedure_multi: ProcedureFiles) -> None:
    cert = load_certificate(procedure_multi.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert tuple(san.get_values_for_type(x509.DNSName)) == PROCEDURE_SAN_ENDPOINTS
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME) == []
    assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "Aliyun"


def test_san_procedure_passes_every_check_for_both_endpoints(procedure_multi: ProcedureFiles) -> None:
    outcomes = _check(procedure_multi)
    assert outcomes["covers-endpoints"] is Outcome.PASS
    assert outcomes["key-usage"] is Outcome.PASS
    assert outcomes["leaf-not-ca"] is Outcome.PASS
