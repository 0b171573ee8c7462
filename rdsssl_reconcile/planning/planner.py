"""The planner: desired + live + now -> plan. Pure: no I/O, no clock, no SDK, no logging.

For each instance the planner decides a status, lists every differing field as ``before -> after``
(certificates by meaning: DER fingerprint, SANs, issuer, expiry, never by PEM text), picks the restart
rule of each change, and builds the one request apply would send. Decisions carry their reasons
("renew: expires in 12 days"), including the decision that nothing needs doing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography import x509

from rdsssl_reconcile.live.model import LiveCertificate, LiveInstance, LiveSsl, ReadOutcome, live_to_json
from rdsssl_reconcile.pki import checks
from rdsssl_reconcile.pki.authority import KeyType
from rdsssl_reconcile.pki.hostname import uncovered
from rdsssl_reconcile.pki.summary import CertSummary
from rdsssl_reconcile.planning import eligibility
from rdsssl_reconcile.planning.endpoints import (
    certificate_endpoints_protected,
    cloud_endpoint_protected,
    reported_names,
)
from rdsssl_reconcile.planning.model import (
    FieldChange,
    InstancePlan,
    Plan,
    PlannedPolicy,
    PlanStatus,
    RestartAssessment,
)
from rdsssl_reconcile.planning.policy import decide
from rdsssl_reconcile.planning.request import build_parameters, planned_request
from rdsssl_reconcile.spec.model import (
    AliyunCertificate,
    CertificateSource,
    ClientCa,
    CustomCertificate,
    DesiredInstance,
    IssuerCertificate,
)

NONE = "(none)"
UNSET = "(unset)"


def _days(value: float) -> str:
    days = int(value)
    if value < 0:
        return f"expired {abs(days)} day{'s' if abs(days) != 1 else ''} ago"
    return f"expires in {days} day{'s' if days != 1 else ''}"


def _cert_text(cert: LiveCertificate | None) -> str:
    if cert is None:
        return NONE
    return cert.summary.short() if cert.summary else f"(unparseable: {cert.problem})"


def _chain_text(fingerprints: tuple[str, ...]) -> str:
    if not fingerprints:
        return "no chain (the leaf alone)"
    return ", ".join(f"sha256 {f[:23]}" for f in fingerprints)


def _live_ca_type(ssl: LiveSsl) -> str:
    return ssl.ca_type or "aliyun"


def _desired_ca_type(desired: DesiredInstance) -> str:
    certificate = desired.ssl.certificate
    return "aliyun" if isinstance(certificate, AliyunCertificate) else "custom"


def _issuer_reason(issuer: IssuerCertificate, ssl: LiveSsl, endpoints: tuple[str, ...], now: datetime) -> str | None:
    """Why the live certificate must be (re)issued from the issuer, or None when it is fine.

    Decided from the live certificate alone, as cert-manager decides from the Secret: a certificate
    this CA did not sign, one that misses a declared endpoint, one inside the renewal window, or one
    with the wrong key type gets replaced.
    """
    live = ssl.server_cert
    if _live_ca_type(ssl) != "custom" or live is None:
        return "issue: no certificate from this CA is installed yet"
    if live.der is None or live.summary is None:
        return "reissue: the live certificate cannot be parsed"
    cert = x509.load_der_x509_certificate(live.der)
    if not issuer.authority().issues(cert):
        return (
            f"reissue: the live certificate is issued by {live.summary.issuer}, not by {issuer.ca_cert.summary.subject}"
        )
    missing = uncovered(cert, endpoints)
    if missing:
        return f"reissue: the live certificate does not cover {', '.join(missing)}"
    days_left = live.summary.days_left(now)
    if days_left < issuer.renew_before_days:
        return f"renew: {_days(days_left)} (renew_before_days={issuer.renew_before_days})"
    if KeyType.of(cert.public_key()) is not issuer.key_type:
        return f"reissue: the key is {live.summary.key_type} {live.summary.key_size}, the spec wants {issuer.key_type.value}"
    if ssl.server_key_public_sha256 and ssl.server_key_public_sha256 != live.summary.public_key_sha256:
        return "reissue: the live private key does not belong to the live certificate"
    return None


def _aliyun_reason(ssl: LiveSsl, renew_before_days: int, now: datetime) -> str | None:
    if ssl.require_update:
        detail = f" ({ssl.require_update_reason})" if ssl.require_update_reason else ""
        return f"renew: the API reports RequireUpdate=1{detail}"
    expiry = ssl.expire_time or (
        ssl.server_cert.summary.not_after if ssl.server_cert and ssl.server_cert.summary else None
    )
    if expiry is not None:
        days_left = (expiry - now).total_seconds() / 86400
        if days_left < renew_before_days:
            return f"renew: {_days(days_left)} (renew_before_days={renew_before_days})"
    return None


def _endpoints_protected(desired: DesiredInstance, ssl: LiveSsl) -> bool:
    """Are the declared endpoints protected now (else: an ``ssl.endpoints`` change), under every reading?

    A cloud certificate protects exactly the one endpoint it reports. A custom certificate protects the
    declared endpoints when it covers them all and the report is consistent with it (names a declared
    endpoint and nothing the certificate does not cover). When the live custom certificate is not the
    declared one, it is replaced anyway; the same test then says whether the protected set also grows
    or moves, so that the plan shows it as its own line.
    """
    declared = desired.ssl.endpoints
    live = ssl.server_cert
    if cloud_endpoint_protected(ssl, declared):
        # The report names exactly the declared endpoints: a certificate that does not cover one of
        # them is the certificate's change (with its reason), not the endpoints'.
        return True
    if (
        isinstance(desired.ssl.certificate, AliyunCertificate)
        or _live_ca_type(ssl) != "custom"
        or live is None
        or live.der is None
    ):
        return False
    return certificate_endpoints_protected(ssl, x509.load_der_x509_certificate(live.der), declared)


def _certificate_changes(
    desired: DesiredInstance, ssl: LiveSsl, now: datetime, warnings: list[str]
) -> list[FieldChange]:
    """Changes of source, endpoints, certificate and key, with the rule each one hits."""
    changes: list[FieldChange] = []
    certificate = desired.ssl.certificate
    endpoints = desired.ssl.endpoints
    turning_on = not ssl.enabled
    want_type, have_type = _desired_ca_type(desired), _live_ca_type(ssl)
    custom_rule = "configure-custom-cert" if turning_on or have_type != "custom" else "modify-custom-cert"

    if turning_on:
        changes.append(
            FieldChange(
                "ssl.enabled",
                "false",
                "true",
                "enable-ssl-cloud-cert" if want_type == "aliyun" else "configure-custom-cert",
            )
        )
    elif want_type != have_type:
        changes.append(
            FieldChange(
                "ssl.certificate.source",
                have_type,
                certificate.source.value if certificate else want_type,
                "switch-to-cloud-cert" if want_type == "aliyun" else "configure-custom-cert",
            )
        )
    if turning_on or not _endpoints_protected(desired, ssl):
        endpoint_rule = "change-cloud-cert-endpoint" if want_type == "aliyun" else custom_rule
        if turning_on:
            endpoint_rule = "enable-ssl-cloud-cert" if want_type == "aliyun" else "configure-custom-cert"
        changes.append(
            FieldChange("ssl.endpoints", ", ".join(reported_names(ssl)) or NONE, ", ".join(endpoints), endpoint_rule)
        )

    match certificate:
        case AliyunCertificate():
            if turning_on or have_type != "aliyun":
                changes.append(
                    FieldChange(
                        "ssl.certificate",
                        _cert_text(ssl.server_cert),
                        f"cloud certificate for {endpoints[0]} (issued by Alibaba Cloud at apply, valid 365 days)",
                        "enable-ssl-cloud-cert" if turning_on else "switch-to-cloud-cert",
                    )
                )
            elif cloud_endpoint_protected(ssl, endpoints):
                reason = _aliyun_reason(ssl, desired.policy.renew_before_days, now)
                if reason:
                    changes.append(
                        FieldChange(
                            "ssl.certificate",
                            _cert_text(ssl.server_cert),
                            f"renewed cloud certificate for {endpoints[0]} (issued at apply, valid 365 days)",
                            "renew-cloud-cert",
                            reason=reason,
                        )
                    )
        case CustomCertificate(cert=cert, key=key):
            live_sha = ssl.server_cert.summary.sha256 if ssl.server_cert and ssl.server_cert.summary else None
            if have_type != "custom" or turning_on or live_sha != cert.summary.sha256:
                changes.append(
                    FieldChange("ssl.certificate", _cert_text(ssl.server_cert), cert.summary.short(), custom_rule)
                )
            elif ssl.server_cert is not None and ssl.server_cert.chain_sha256 not in ((), cert.chain_sha256):
                # Same leaf, other chain (a re-issued intermediate). Compared only when the live
                # certificate carries a chain: whether RDS keeps one is undocumented, and a service that
                # dropped it must not produce a diff that never goes away.
                changes.append(
                    FieldChange(
                        "ssl.certificate.chain",
                        _chain_text(ssl.server_cert.chain_sha256),
                        _chain_text(cert.chain_sha256),
                        custom_rule,
                    )
                )
            # RDS only accepts a key that matches its certificate, so when the live certificate is the
            # declared one its key is too; a live key that is not returned (None) is then no difference.
            same_cert = live_sha == cert.summary.sha256
            live_key = ssl.server_key_public_sha256
            key_differs = live_key != key.summary.public_key_sha256 and not (same_cert and live_key is None)
            if have_type != "custom" or turning_on or key_differs:
                changes.append(
                    FieldChange(
                        "ssl.certificate.key",
                        f"public key sha256 {ssl.server_key_public_sha256}" if ssl.server_key_public_sha256 else NONE,
                        f"{key.ref.describe()}, public key sha256 {key.summary.public_key_sha256}",
                        custom_rule,
                    )
                )
            days_left = cert.summary.days_left(now)
            if days_left < desired.policy.renew_before_days:
                warnings.append(
                    f"the custom certificate {_days(days_left)} (renew_before_days={desired.policy.renew_before_days}): "
                    "supply a new certificate and key in the spec"
                )
        case IssuerCertificate() as issuer:
            reason = None if turning_on else _issuer_reason(issuer, ssl, endpoints, now)
            if turning_on or have_type != "custom":
                reason = reason or "issue: no certificate from this CA is installed yet"
            if reason:
                changes.append(
                    FieldChange(
                        "ssl.certificate",
                        _cert_text(ssl.server_cert),
                        f"new certificate for {', '.join(endpoints)} from {issuer.ca_cert.summary.subject} "
                        f"({issuer.validity_days} days, {issuer.key_type.value}, new key)",
                        custom_rule,
                        reason=reason,
                    )
                )
    return changes


def _client_ca_changes(desired_ca: ClientCa | None, ssl: LiveSsl) -> list[FieldChange]:
    changes: list[FieldChange] = []
    live_ca = ssl.client_ca if ssl.enabled else None
    live_ca_sha = live_ca.summary.sha256 if live_ca and live_ca.summary else None
    if desired_ca is None:
        if live_ca is not None:
            changes.append(FieldChange("ssl.client_ca", _cert_text(live_ca), NONE, "disable-client-ca"))
        return changes
    if live_ca is None:
        changes.append(FieldChange("ssl.client_ca", NONE, desired_ca.cert.summary.short(), "enable-client-ca"))
    elif live_ca_sha != desired_ca.cert.summary.sha256:
        changes.append(
            FieldChange("ssl.client_ca", _cert_text(live_ca), desired_ca.cert.summary.short(), "change-client-ca")
        )
    want_crl = desired_ca.crl.summary.sha256 if desired_ca.crl else None
    have_crl = ssl.crl_sha256 if live_ca is not None else None
    if want_crl != have_crl:
        changes.append(
            FieldChange(
                "ssl.client_ca.crl",
                ssl.crl.short() if ssl.crl and have_crl else (have_crl or NONE),
                desired_ca.crl.summary.short() if desired_ca.crl else NONE,
                "change-crl",
            )
        )
    # An ACL left out of the spec is not managed: the API has no way to clear one short of turning the
    # client CA off, so "unset" would be a diff that can never converge.
    for field, wanted, have, rule_id in (
        ("ssl.client_ca.acl", desired_ca.acl, ssl.acl, "change-acl"),
        ("ssl.client_ca.replication_acl", desired_ca.replication_acl, ssl.replication_acl, "change-replication-acl"),
    ):
        if wanted is not None and wanted != (have if live_ca is not None else None):
            changes.append(FieldChange(field, have or UNSET, wanted, rule_id))
    return changes


def _endpoint_problems(desired: DesiredInstance, live: LiveInstance, now: datetime) -> tuple[list[str], list[str]]:
    """(errors, warnings) about declared endpoints versus the instance's real ones."""
    errors: list[str] = []
    warnings: list[str] = []
    if live.endpoints is None or not desired.ssl.enabled:
        return errors, warnings
    real = {e.host.lower(): e for e in live.endpoints}
    for endpoint in desired.ssl.endpoints:
        found = real.get(endpoint.lower())
        if found is None:
            have = ", ".join(e.host for e in live.endpoints) or "none"
            errors.append(f"declared endpoint {endpoint} is not an endpoint of the instance (it has: {have})")
        elif found.kind == "ReadWriteSplitting":
            errors.append(f"{endpoint} is the read/write splitting endpoint; SSL cannot protect it")
    certificate = desired.ssl.certificate
    if isinstance(certificate, CustomCertificate):
        report = checks.check_server_certificate(
            cert_pem=certificate.cert.pem(),
            key_pem=None,
            endpoints=desired.ssl.endpoints,
            now=now,
            instance_endpoints=tuple(e.host for e in live.endpoints if e.kind != "ReadWriteSplitting"),
        )
        warnings.extend(
            r.message
            for r in report.results
            if r.code == "covers-instance-endpoints" and r.outcome in (checks.Outcome.WARN, checks.Outcome.FAIL)
        )
    return errors, warnings


def plan_instance(
    desired: DesiredInstance, live: LiveInstance, *, now: datetime, allow_restart: frozenset[str] = frozenset()
) -> InstancePlan:
    """The instance's plan; a change also says whether apply runs it now or defers it (its policy at ``now``)."""
    common: dict[str, Any] = {
        "id": desired.id,
        "region": desired.region,
        "description": desired.description,
        "policy": PlannedPolicy(
            mode=desired.policy.mode.value,
            window=desired.policy.window.text if desired.policy.window else None,
            renew_before_days=desired.policy.renew_before_days,
        ),
        "spec_location": f"{desired.location} ({desired.location.path})",
        "desired_digest": desired.digest(),
        "live_fingerprint": live.fingerprint(),
        "live": live_to_json(live),
    }
    if live.outcome is ReadOutcome.NOT_FOUND:
        return InstancePlan(
            status=PlanStatus.NOT_FOUND,
            reasons=(f"no instance {desired.id} in region {desired.region}",),
            **common,
        )
    if live.outcome is ReadOutcome.ERROR or live.facts is None:
        error = live.error
        reason = f"{error.action} failed: {error.code}: {error.message}" if error else "the instance could not be read"
        return InstancePlan(status=PlanStatus.ERROR, reasons=(reason,), error=error, **common)
    blockers = eligibility.blockers(live.facts)
    if blockers:
        return InstancePlan(status=PlanStatus.INELIGIBLE, reasons=blockers, **common)
    ssl = live.ssl
    if ssl is None:
        return InstancePlan(status=PlanStatus.ERROR, reasons=("the SSL configuration was not read",), **common)

    warnings: list[str] = []
    notes: list[str] = []
    endpoint_errors, endpoint_warnings = _endpoint_problems(desired, live, now)
    if endpoint_errors:
        return InstancePlan(status=PlanStatus.ERROR, reasons=tuple(endpoint_errors), **common)
    warnings.extend(endpoint_warnings)
    client_ca = desired.ssl.client_ca
    if client_ca and "verify-full" in (client_ca.acl, client_ca.replication_acl):
        version = eligibility.major_version(live.facts)
        if version is not None and version < eligibility.VERIFY_FULL_MIN_MAJOR_VERSION:
            return InstancePlan(
                status=PlanStatus.ERROR,
                reasons=(
                    f"ACL verify-full needs PostgreSQL 12 or later; the instance runs {live.facts.engine_version}",
                ),
                **common,
            )
    if ssl.last_modify_status == "failed":
        warnings.append(
            f"the last SSL change on this instance failed ({ssl.modify_status_reason or 'no reason given'})"
        )

    changes: list[FieldChange] = []
    if not desired.ssl.enabled:
        if ssl.enabled:
            changes.append(FieldChange("ssl.enabled", "true", "false", "disable-ssl"))
            notes.append("disabling SSL also removes the certificate, client CA, CRL and ACLs")
    else:
        changes.extend(_certificate_changes(desired, ssl, now, warnings))
        changes.extend(_client_ca_changes(client_ca, ssl))

    if not changes:
        reason = "SSL is off, as declared" if not desired.ssl.enabled else _in_sync_reason(desired, ssl, now)
        return InstancePlan(
            status=PlanStatus.IN_SYNC, reasons=(reason,), warnings=tuple(warnings), notes=tuple(notes), **common
        )
    frozen_changes = tuple(changes)
    parameters = build_parameters(desired, live, frozen_changes)
    planned = InstancePlan(
        status=PlanStatus.CHANGE,
        changes=frozen_changes,
        request=planned_request(parameters),
        restart=RestartAssessment.of(frozen_changes),
        warnings=tuple(warnings),
        notes=tuple(notes),
        **common,
    )
    # The policy hook: the plan says what apply will do with the change at this time.
    decision = decide(planned, desired.policy, now=now, allow_restart=allow_restart)
    return replace(planned, action=decision.action, deferral=decision.deferral)


def _in_sync_reason(desired: DesiredInstance, ssl: LiveSsl, now: datetime) -> str:
    source = desired.ssl.certificate.source if desired.ssl.certificate else None
    cert: CertSummary | None = ssl.server_cert.summary if ssl.server_cert else None
    expiry = f", {_days(cert.days_left(now))}" if cert else ""
    endpoints = ", ".join(desired.ssl.endpoints)
    if source is CertificateSource.ALIYUN:
        return f"SSL on with the cloud certificate for {endpoints}{expiry}"
    return f"SSL on with certificate sha256 {cert.sha256[:23] if cert else '?'} for {endpoints}{expiry}"


def make_plan(
    desired: Sequence[DesiredInstance],
    live: Mapping[str, LiveInstance],
    *,
    now: datetime,
    target: dict[str, Any],
    spec_paths: tuple[str, ...] = (),
    spec_warnings: tuple[str, ...] = (),
    allow_restart: Iterable[str] = (),
    planned: Mapping[str, InstancePlan] | None = None,
) -> Plan:
    """The plan for every desired instance, in spec order (``allow_restart``: the ``--allow-restart`` ids).

    ``planned`` holds instances the caller already planned with :func:`plan_instance` from the same
    desired instance, ``live`` state, ``now`` and ``allow_restart`` (plan runs the planner as each read
    completes); they are taken as they are, which changes nothing since the planner is pure. The others
    are planned here.
    """
    allowed = frozenset(allow_restart)
    ready = planned or {}
    instances = []
    for item in desired:
        done = ready.get(item.id)
        if done is not None:
            instances.append(done)
            continue
        state = live.get(item.id) or LiveInstance(instance_id=item.id, region=item.region, outcome=ReadOutcome.ERROR)
        instances.append(plan_instance(item, state, now=now, allow_restart=allowed))
    return Plan(
        instances=tuple(instances),
        target=target,
        generated_at=now,
        spec_paths=spec_paths,
        spec_warnings=spec_warnings,
        allow_restart=tuple(sorted(allowed)),
    )
