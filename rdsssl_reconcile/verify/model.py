"""Frozen values of ``verify``: where to connect, what a probe met, what it means, and the JSON form.

The JSON form (:meth:`VerifyReport.to_json`) is described by ``rdsssl_reconcile/verify.schema.json``; a
test validates the command's output against it. Values stay exact here (renderers escape them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from cryptography import x509

FORMAT_VERSION = "1.0"


class Severity(Enum):
    """How a finding counts, from harmless to worst; the report exits with the worst (see :data:`EXIT_CODES`)."""

    INFO = "info"
    MISMATCH = "mismatch"
    ERROR = "error"


#: Exit code of a report whose worst finding has this severity (0: nothing worse than info).
EXIT_CODES = {None: 0, Severity.INFO: 0, Severity.MISMATCH: 2, Severity.ERROR: 1}

_ORDER = (Severity.INFO, Severity.MISMATCH, Severity.ERROR)


def worst(severities: Iterable[Severity]) -> Severity | None:
    """The most severe of some severities (None when there are none)."""
    return max(severities, key=_ORDER.index, default=None)


def status_word(severity: Severity | None) -> str:
    """``ok`` | ``mismatch`` | ``error``: an endpoint's, an instance's or the run's result."""
    return "ok" if severity in (None, Severity.INFO) else severity.value


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing verify established about an endpoint. ``code`` is stable (docs/verify.md lists them)."""

    code: str
    severity: Severity
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity.value, "message": self.message}


@dataclass(frozen=True, slots=True)
class Target:
    """An endpoint to connect to: ``name`` is what the certificate must cover (the spec's endpoint name),
    ``address`` where the TCP connection goes (the name itself, or what ``--resolve`` maps it to)."""

    name: str
    port: int
    address: str
    resolved_by: str | None = None  # "--resolve" when the address came from it

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "port": self.port, "address": self.address, "resolved_by": self.resolved_by}


class ProbeFailure(Enum):
    """Why a probe could not reach a TLS session (each has its own message in :mod:`.checks`)."""

    NAME_RESOLUTION = "name_resolution"
    CONNECTION_REFUSED = "connection_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    SSLREQUEST_TIMEOUT = "sslrequest_timeout"
    CLOSED = "connection_closed"
    BAD_ANSWER = "bad_answer"
    HANDSHAKE = "tls_handshake"
    NETWORK = "network"


@dataclass(frozen=True, slots=True)
class TlsSession:
    """What the TLS handshake showed: the version and cipher negotiated and the certificates served.

    ``chain_der`` is leaf first. ``full_chain`` says whether it is everything the server sent (Python
    3.10-3.12 offer that through the private ``_sslobj.get_unverified_chain()``, 3.13 publicly) or only
    the leaf (``getpeercert(binary_form=True)``), in which case chain checks use the bundle alone.
    """

    version: str
    cipher: str
    cipher_bits: int | None
    chain_der: tuple[bytes, ...]
    full_chain: bool


@dataclass(frozen=True, slots=True)
class PlainStartup:
    """The answer to a StartupMessage sent without SSLRequest: does the server take non-SSL clients?

    ``accepted`` is True when it asked to authenticate (or failed after its pg_hba.conf check), False
    when pg_hba.conf refused the connection (or it hung up), None when it could not be told.
    """

    accepted: bool | None
    detail: str


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Everything one probe of an endpoint met. ``failure`` set: it stopped there (``detail`` says how)."""

    failure: ProbeFailure | None = None
    detail: str = ""
    ssl_answer: str | None = None  # "S" or "N"
    tls: TlsSession | None = None
    plain: PlainStartup | None = None
    elapsed_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the spec (and, for cloud certificates, the API) says the endpoint should serve.

    ``fingerprint``: the spec's certificate (``custom``); ``issuer_ca``: the spec's CA (``issuer``);
    ``bundle``: ``--ca-bundle`` (a chain to it is required for ``aliyun`` and checked for every source
    when given); ``live_fingerprint``: the certificate DescribeDBInstanceSSL reports (cloud and issued
    certificates, which the spec cannot name in advance); ``ssl_required``: the spec's ACL forbids
    non-SSL connections (anything but ``prefer``).
    """

    ssl: bool
    source: str | None = None
    fingerprint: str | None = None
    fingerprint_from: str | None = None
    issuer_ca: x509.Certificate | None = field(default=None, compare=False)
    live_fingerprint: str | None = None
    bundle: tuple[x509.Certificate, ...] = field(default=(), compare=False)
    bundle_from: str | None = None
    acl: str | None = None
    ssl_required: bool = False
    renew_before_days: int = 30


@dataclass(frozen=True, slots=True)
class ServedCertificate:
    """The served leaf, as reports show it (public identity only)."""

    subject: str
    dns_names: tuple[str, ...]
    issuer: str
    sha256: str
    not_after: datetime
    days_left: float
    chain_length: int
    full_chain: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "dns_names": list(self.dns_names),
            "issuer": self.issuer,
            "sha256": self.sha256,
            "not_after": self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days_left": round(self.days_left, 1),
            "chain_length": self.chain_length,
            "full_chain": self.full_chain,
        }


@dataclass(frozen=True, slots=True)
class EndpointReport:
    """One endpoint's verdict: the findings, and what was seen for the report to show."""

    target: Target
    findings: tuple[Finding, ...]
    ssl_answer: str | None = None
    protocol: str | None = None
    cipher: str | None = None
    certificate: ServedCertificate | None = None
    plain_accepted: bool | None = None
    elapsed_seconds: float = 0.0

    @property
    def severity(self) -> Severity | None:
        return worst(f.severity for f in self.findings)

    @property
    def status(self) -> str:
        return status_word(self.severity)

    def problems(self) -> tuple[Finding, ...]:
        """The findings that make it fail (mismatches and errors), worst first."""
        bad = [f for f in self.findings if f.severity is not Severity.INFO]
        return tuple(sorted(bad, key=lambda f: -_ORDER.index(f.severity)))

    def to_json(self) -> dict[str, Any]:
        return {
            **self.target.to_json(),
            "status": self.status,
            "ssl_answer": self.ssl_answer,
            "protocol": self.protocol,
            "cipher": self.cipher,
            "certificate": self.certificate.to_json() if self.certificate else None,
            "plain_accepted": self.plain_accepted,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass(frozen=True, slots=True)
class InstanceReport:
    """An instance's endpoints, or why none could be verified (``problem``, a finding of its own)."""

    instance_id: str
    region: str
    source: str | None
    endpoints: tuple[EndpointReport, ...] = ()
    problem: Finding | None = None

    @property
    def severity(self) -> Severity | None:
        own = (self.problem.severity,) if self.problem else ()
        return worst((*own, *(s for e in self.endpoints if (s := e.severity) is not None)))

    @property
    def status(self) -> str:
        return status_word(self.severity)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.instance_id,
            "region": self.region,
            "source": self.source,
            "status": self.status,
            "problem": self.problem.to_json() if self.problem else None,
            "endpoints": [e.to_json() for e in self.endpoints],
        }


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The whole run: per instance, per endpoint; exits 0 all good, 2 a mismatch, 1 an error."""

    instances: tuple[InstanceReport, ...]
    target: dict[str, Any]
    checked_at: datetime
    parallelism: int
    timeout_seconds: float
    wall_seconds: float = 0.0
    probe_seconds: float = 0.0  # of which probing (the reads of the endpoints are the rest)

    @property
    def endpoints(self) -> tuple[EndpointReport, ...]:
        return tuple(e for i in self.instances for e in i.endpoints)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[worst(s for i in self.instances if (s := i.severity) is not None)]

    def counts(self) -> dict[str, int]:
        words = [e.status for e in self.endpoints] + [i.status for i in self.instances if i.problem]
        return {word: words.count(word) for word in ("ok", "mismatch", "error")}

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "target": self.target,
            "checked_at": self.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "parallelism": self.parallelism,
            "timeout_seconds": self.timeout_seconds,
            "wall_seconds": round(self.wall_seconds, 3),
            "probe_seconds": round(self.probe_seconds, 3),
            "summary": {**self.counts(), "endpoints": len(self.endpoints), "instances": len(self.instances)},
            "instances": [i.to_json() for i in self.instances],
            "exit_code": self.exit_code,
        }
