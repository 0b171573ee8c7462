"""Which endpoints ``verify`` connects to, where, and what it expects there. Pure: specs + live state.

- The **names** are the spec's: ``ssl.endpoints`` when SSL is declared on (what a client puts in ``host=``
  and what the certificate must cover); with SSL declared off, the instance's live endpoints (each must
  answer ``N``). The read/write-splitting endpoint never carries SSL ("SSL encryption is not supported
  for the connections to the read/write splitting endpoint") and is left out.
- The **port** is the live one: the DescribeDBInstanceNetInfo entry of that name. A declared name the
  instance does not have is an error of that endpoint, not of the run.
- The **address** is the name itself (resolved by the system), unless ``--resolve HOST:PORT:ADDRESS``
  maps it, exactly as curl's option does: the TCP connection goes to ADDRESS, while SNI and every name
  check still use HOST. So an emulator whose instances listen on ``127.0.0.1`` (backed instances report
  their local port) is verified under the endpoint names a client would use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from cryptography import x509

from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.live.model import Endpoint, LiveInstance, ReadOutcome
from rdsssl_reconcile.spec.model import AliyunCertificate, CustomCertificate, DesiredInstance, IssuerCertificate
from rdsssl_reconcile.textsafe import visible
from rdsssl_reconcile.verify.checks import SSL_FORCING_ACLS
from rdsssl_reconcile.verify.model import EndpointReport, Expectation, Finding, Severity, Target


@dataclass(frozen=True, slots=True)
class Resolve:
    """One ``--resolve HOST:PORT:ADDRESS``."""

    host: str
    port: int
    address: str


def parse_resolve(text: str) -> Resolve:
    """``HOST:PORT:ADDRESS`` as curl reads it (an IPv6 ADDRESS may be written in brackets)."""
    parts = text.split(":", 2)
    shown = visible(text)
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise UserError(f"--resolve {shown}: expected HOST:PORT:ADDRESS, e.g. pgm-x.pg.rds.aliyuncs.com:5432:127.0.0.1")
    host, port_text, address = (p.strip() for p in parts)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise UserError(f"--resolve {shown}: PORT must be a number from 1 to 65535, got {visible(port_text)!r}")
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    return Resolve(host=host.lower().rstrip("."), port=int(port_text), address=address)


def resolve_map(resolves: Sequence[Resolve]) -> dict[tuple[str, int], str]:
    """(host, port) -> address; a later ``--resolve`` for the same pair wins, as in curl."""
    return {(r.host, r.port): r.address for r in resolves}


@dataclass(frozen=True, slots=True)
class InstanceWork:
    """One instance's targets and what to expect on them, or why it cannot be verified."""

    instance_id: str
    region: str
    source: str | None
    expectation: Expectation
    targets: tuple[Target, ...] = ()
    unmatched: tuple[EndpointReport, ...] = ()  # declared names the instance does not have
    problem: Finding | None = None


def expectation_of(
    desired: DesiredInstance,
    live: LiveInstance | None,
    *,
    bundle: tuple[x509.Certificate, ...] = (),
    bundle_from: str | None = None,
) -> Expectation:
    ssl = desired.ssl
    live_cert = live.ssl.server_cert if live is not None and live.ssl is not None else None
    live_fingerprint = live_cert.summary.sha256 if live_cert is not None and live_cert.summary else None
    acl = ssl.client_ca.acl if ssl.client_ca else None
    base = Expectation(
        ssl=ssl.enabled,
        bundle=bundle,
        bundle_from=bundle_from,
        acl=acl,
        ssl_required=acl in SSL_FORCING_ACLS,
        renew_before_days=desired.policy.renew_before_days,
    )
    match ssl.certificate:
        case CustomCertificate(cert=cert):
            return replace(base, source="custom", fingerprint=cert.summary.sha256, fingerprint_from=cert.ref.describe())
        case IssuerCertificate() as issuer:
            return replace(
                base,
                source="issuer",
                issuer_ca=issuer.ca_cert.leaf,
                live_fingerprint=live_fingerprint,
                renew_before_days=issuer.renew_before_days,
            )
        case AliyunCertificate():
            return replace(base, source="aliyun", live_fingerprint=live_fingerprint)
    return base


def _problem(code: str, message: str) -> Finding:
    return Finding(code, Severity.ERROR, message)


def _ssl_capable(endpoints: Sequence[Endpoint]) -> list[Endpoint]:
    return [e for e in endpoints if e.kind != "ReadWriteSplitting"]


def instance_work(
    desired: DesiredInstance,
    live: LiveInstance | None,
    resolves: Mapping[tuple[str, int], str],
    *,
    bundle: tuple[x509.Certificate, ...] = (),
    bundle_from: str | None = None,
) -> InstanceWork:
    expect = expectation_of(desired, live, bundle=bundle, bundle_from=bundle_from)
    work = InstanceWork(desired.id, desired.region, expect.source, expect)
    if live is None or live.outcome is ReadOutcome.NOT_FOUND:
        return _with_problem(work, "not_found", f"{desired.id} was not found in {desired.region}")
    if live.outcome is ReadOutcome.ERROR:
        error = live.error
        why = f"{error.action}: {error.code}: {error.message}" if error else "could not be read"
        return _with_problem(work, "not_read", f"{desired.id} could not be read: {why}")
    if live.endpoints is None:
        if not desired.ssl.enabled:
            return work  # cannot carry SSL, declared off: nothing a client could see differently
        return _with_problem(
            work, "cannot_carry_ssl", f"{desired.id} cannot carry SSL (see plan), so its endpoints were not read"
        )
    live_endpoints = _ssl_capable(live.endpoints)
    names = list(desired.ssl.endpoints) if desired.ssl.enabled else [e.host for e in live_endpoints]
    by_name = {e.host.lower(): e for e in live_endpoints}
    targets: list[Target] = []
    unmatched: list[EndpointReport] = []
    for name in dict.fromkeys(names):
        entry = by_name.get(name.lower())
        port = int(entry.port) if entry is not None and entry.port.isdigit() else None
        if entry is None or port is None:
            known = ", ".join(f"{e.host}:{e.port}" for e in live_endpoints) or "none"
            why = "is not one of its endpoints" if entry is None else f"has no usable port ({entry.port!r})"
            unmatched.append(
                EndpointReport(
                    Target(name=name, port=0, address=name),
                    (_problem("endpoint_not_found", f"{name} {why} (DescribeDBInstanceNetInfo: {known})"),),
                )
            )
            continue
        mapped = resolves.get((name.lower().rstrip("."), port))
        targets.append(
            Target(
                name=name,
                port=port,
                address=mapped if mapped is not None else name,
                resolved_by="--resolve" if mapped is not None else None,
            )
        )
    return InstanceWork(
        desired.id, desired.region, expect.source, expect, targets=tuple(targets), unmatched=tuple(unmatched)
    )


def _with_problem(work: InstanceWork, code: str, message: str) -> InstanceWork:
    return InstanceWork(work.instance_id, work.region, work.source, work.expectation, problem=_problem(code, message))
