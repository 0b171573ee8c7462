"""The verdicts of ``verify``: what one probe of one endpoint means against the spec. Pure.

A function of a :class:`~.model.ProbeResult`, an :class:`~.model.Expectation` and the time; no sockets,
no clock. Each way of failing has its own finding code and message (docs/verify.md lists them):

- a probe that stopped early is an **error** (exit 1): ``connection_refused`` (closed port),
  ``sslrequest_timeout`` (a server that never answers the SSLRequest), ``name_resolution``,
  ``connect_timeout``, ``connection_closed``, ``bad_answer``, ``tls_handshake``, ``network``;
- what was served but is not what the spec declares is a **mismatch** (exit 2): ``no_ssl`` (the server
  answered N to SSLRequest), ``other_certificate`` (not the spec's certificate, not issued by the spec's
  CA), ``untrusted_chain`` (no chain to ``--ca-bundle``), ``not_live_certificate`` (not the certificate the
  API reports: a server not restarted since), ``name_not_covered`` (as libpq's ``verify-full`` checks
  names), ``expired``, ``not_yet_valid``, ``ssl_on`` (declared off, served), ``plain_accepted`` (the
  spec's ACL requires SSL, the server takes clients without it);
- everything else that was established is **info**: the certificate matched, the chain, the names, the
  days to expiry, the protocol version and cipher.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

# The libpq-like path builder of the certificate checks (leaf -> issuer by name and signature until a
# root of the CA file): the chain a client with sslrootcert=<bundle> accepts, the same rule as `validate`.
from rdsssl_reconcile.pki.checks import _signature_path
from rdsssl_reconcile.pki.hostname import covers, names_checked_for
from rdsssl_reconcile.pki.summary import common_name, dns_sans, sha256_fingerprint
from rdsssl_reconcile.verify.model import (
    EndpointReport,
    Expectation,
    Finding,
    ProbeFailure,
    ProbeResult,
    ServedCertificate,
    Severity,
    Target,
)

#: ACL values that refuse connections without SSL ("Forcefully enable SSL connections": PostgreSQL forces
#: SSL through an ACL other than ``prefer``).
SSL_FORCING_ACLS = frozenset({"cert", "verify-ca", "verify-full"})

OLD_PROTOCOLS = frozenset({"SSLv3", "TLSv1", "TLSv1.1"})

_DER = Encoding.DER


def _info(code: str, message: str) -> Finding:
    return Finding(code, Severity.INFO, message)


def _mismatch(code: str, message: str) -> Finding:
    return Finding(code, Severity.MISMATCH, message)


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _where(target: Target) -> str:
    via = f" (via {target.address})" if target.address != target.name else ""
    return f"{target.name}:{target.port}{via}"


def _describe(cert: x509.Certificate) -> str:
    names = ", ".join(dns_sans(cert)) or common_name(cert.subject) or cert.subject.rfc4514_string() or "(no name)"
    return f"{names}, issued by {cert.issuer.rfc4514_string() or '(empty issuer)'}"


def failure_finding(target: Target, probe: ProbeResult) -> Finding:
    """The error a probe that stopped early is: one code and message per way of stopping."""
    assert probe.failure is not None
    where = _where(target)
    messages = {
        ProbeFailure.NAME_RESOLUTION: f"{where}: name does not resolve: {probe.detail} "
        "(map it with --resolve HOST:PORT:ADDRESS)",
        ProbeFailure.CONNECTION_REFUSED: f"{where}: connection refused: nothing listens on this port ({probe.detail})",
        ProbeFailure.CONNECT_TIMEOUT: f"{where}: connect timed out: {probe.detail}",
        ProbeFailure.SSLREQUEST_TIMEOUT: f"{where}: no answer to SSLRequest (timeout): {probe.detail}",
        ProbeFailure.CLOSED: f"{where}: connection closed: {probe.detail}",
        ProbeFailure.BAD_ANSWER: f"{where}: {probe.detail}",
        ProbeFailure.HANDSHAKE: f"{where}: the server answered S to SSLRequest, then {probe.detail.removeprefix('the ')}",
        ProbeFailure.NETWORK: f"{where}: {probe.detail}",
    }
    return Finding(probe.failure.value, Severity.ERROR, messages[probe.failure])


def _served(leaf: x509.Certificate, chain_length: int, full_chain: bool, now: datetime) -> ServedCertificate:
    not_after = leaf.not_valid_after_utc
    return ServedCertificate(
        subject=leaf.subject.rfc4514_string(),
        dns_names=dns_sans(leaf),
        issuer=leaf.issuer.rfc4514_string(),
        sha256=sha256_fingerprint(leaf.public_bytes(_DER)),
        not_after=not_after,
        days_left=(not_after - now).total_seconds() / 86400,
        chain_length=chain_length,
        full_chain=full_chain,
    )


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def certificate_findings(
    leaf: x509.Certificate, chain: tuple[x509.Certificate, ...], expect: Expectation, now: datetime
) -> list[Finding]:
    """Is this the certificate the spec declares (by its source), and does it chain to the bundle?"""
    findings: list[Finding] = []
    served = sha256_fingerprint(leaf.public_bytes(_DER))
    if expect.source == "custom" and expect.fingerprint is not None:
        if served == expect.fingerprint:
            findings.append(_info("certificate", f"serves the spec's certificate (sha256 {served})"))
        else:
            origin = f" ({expect.fingerprint_from})" if expect.fingerprint_from else ""
            findings.append(
                _mismatch(
                    "other_certificate",
                    f"serves another certificate: sha256 {served} ({_describe(leaf)}); the spec's is sha256 "
                    f"{expect.fingerprint}{origin}",
                )
            )
    if expect.source == "issuer" and expect.issuer_ca is not None:
        ca_name = expect.issuer_ca.subject.rfc4514_string()
        if _issued_by(leaf, expect.issuer_ca):
            findings.append(
                _info("issuer", f"serves a certificate issued by the spec's CA {ca_name} (sha256 {served})")
            )
        else:
            findings.append(
                _mismatch(
                    "other_certificate",
                    f"serves a certificate not issued by the spec's CA {ca_name}: sha256 {served} ({_describe(leaf)})",
                )
            )
    if expect.source in ("aliyun", "issuer") and expect.live_fingerprint is not None:
        if served != expect.live_fingerprint:
            findings.append(
                _mismatch(
                    "not_live_certificate",
                    f"serves sha256 {served} ({_describe(leaf)}), not the certificate DescribeDBInstanceSSL "
                    f"reports (sha256 {expect.live_fingerprint}): has the server been restarted since?",
                )
            )
        elif expect.source == "aliyun":
            findings.append(_info("certificate", f"serves the certificate the API reports (sha256 {served})"))
    findings.extend(_chain_findings(leaf, chain, expect, now))
    return findings


def _chain_findings(
    leaf: x509.Certificate, chain: tuple[x509.Certificate, ...], expect: Expectation, now: datetime
) -> list[Finding]:
    if not expect.bundle:
        if expect.source == "aliyun":
            return [
                _info(
                    "chain_not_checked",
                    "no --ca-bundle given: the chain to Alibaba Cloud's CA was not checked (give the CA the "
                    "console offers for download, or ServerCAUrl's)",
                )
            ]
        return []
    bundle = f" ({expect.bundle_from})" if expect.bundle_from else ""
    problem = _signature_path(leaf, chain, expect.bundle, now)
    if problem is None:
        return [_info("chain", f"verifies to --ca-bundle{bundle} as libpq does with sslrootcert")]
    return [_mismatch("untrusted_chain", f"does not verify to --ca-bundle{bundle}: {problem}")]


def name_finding(leaf: x509.Certificate, name: str) -> Finding:
    """Hostname coverage as libpq's ``verify-full`` checks it (:mod:`rdsssl_reconcile.pki.hostname`)."""
    names, where = names_checked_for(leaf, name)
    listed = ", ".join(names) or "none"
    if covers(leaf, name):
        return _info("name", f"covers {name} (names checked, from the {where}: {listed})")
    return _mismatch(
        "name_not_covered",
        f"name not covered: the certificate does not cover {name} as libpq verify-full checks it "
        f"(names checked, from the {where}: {listed})",
    )


def expiry_finding(leaf: x509.Certificate, now: datetime, renew_before_days: int) -> Finding:
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    days = (not_after - now).total_seconds() / 86400
    if now > not_after:
        return _mismatch("expired", f"expired on {_date(not_after)} ({-days:.0f} days ago)")
    if now < not_before:
        return _mismatch("not_yet_valid", f"not valid until {_date(not_before)}")
    soon = f", inside the renewal window of {renew_before_days} days" if days <= renew_before_days else ""
    return _info("expiry", f"expires on {_date(not_after)}, in {days:.0f} days{soon}")


def tls_finding(version: str, cipher: str, bits: int | None) -> Finding:
    strength = f" ({bits} bits)" if bits else ""
    old = "; an old protocol version" if version in OLD_PROTOCOLS else ""
    return _info("tls", f"{version}, {cipher}{strength}{old}")


def plain_finding(accepted: bool | None, detail: str, expect: Expectation) -> Finding:
    if accepted is None:
        return _info("plain_unknown", f"could not tell whether connections without SSL are accepted: {detail}")
    if not accepted:
        return _info("plain_refused", f"connections without SSL are refused ({detail})")
    if expect.ssl_required:
        return _mismatch(
            "plain_accepted",
            f"also accepts connections without SSL, but the spec's ACL {expect.acl} requires SSL ({detail})",
        )
    why = f"the ACL {expect.acl} allows them" if expect.acl else "the spec does not manage the ACL"
    return _info("plain_accepted", f"also accepts connections without SSL ({why}; {detail})")


def judge(target: Target, expect: Expectation, probe: ProbeResult, now: datetime) -> EndpointReport:
    """One endpoint's report: every finding, worst first in :meth:`EndpointReport.problems`."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)

    def report(findings: tuple[Finding, ...], **seen: Any) -> EndpointReport:
        return EndpointReport(
            target, findings, ssl_answer=probe.ssl_answer, elapsed_seconds=probe.elapsed_seconds, **seen
        )

    if probe.failure is not None:
        return report((failure_finding(target, probe),))
    if probe.ssl_answer == "N":
        finding = (
            _mismatch(
                "no_ssl",
                f"{_where(target)}: no SSL: server answered N to SSLRequest (SSL is off there; the spec declares it on)",
            )
            if expect.ssl
            else _info("ssl_off", "SSL is off (the server answered N to SSLRequest), as declared")
        )
        return report((finding,))
    tls = probe.tls
    assert tls is not None
    findings: list[Finding] = [tls_finding(tls.version, tls.cipher, tls.cipher_bits)]
    try:
        certificates = tuple(x509.load_der_x509_certificate(der) for der in tls.chain_der)
    except ValueError as exc:
        certificates = ()
        findings.append(_mismatch("unparseable_certificate", f"the served certificate cannot be parsed: {exc}"))
    served: ServedCertificate | None = None
    if not certificates and tls.chain_der == ():
        findings.append(_mismatch("no_certificate", "the server completed TLS without presenting a certificate"))
    if certificates:
        leaf, chain = certificates[0], certificates[1:]
        served = _served(leaf, len(certificates), tls.full_chain, now)
        if not expect.ssl:
            findings.append(
                _mismatch(
                    "ssl_on",
                    f"{_where(target)}: SSL is declared off, but the server answered S to SSLRequest and "
                    f"served {_describe(leaf)}",
                )
            )
        else:
            findings.extend(certificate_findings(leaf, chain, expect, now))
            findings.append(name_finding(leaf, target.name))
            findings.append(expiry_finding(leaf, now, expect.renew_before_days))
    plain_accepted = None
    if probe.plain is not None and expect.ssl:
        plain_accepted = probe.plain.accepted
        findings.append(plain_finding(probe.plain.accepted, probe.plain.detail, expect))
    return report(
        tuple(findings), protocol=tls.version, cipher=tls.cipher, certificate=served, plain_accepted=plain_accepted
    )
