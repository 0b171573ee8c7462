"""One instance's drift: the planner's field changes, read against the last applied state. Pure.

One diff, many views: the differences are :func:`~rdsssl_reconcile.planning.planner.plan_instance`'s field
changes (``expected`` is the change's ``after``, ``live`` its ``before``), never a comparison of our own.
What drift adds is a reading of them:

- **Time-driven renewals are not drift.** A change the planner makes only because a certificate entered
  its renewal window (or the API says ``RequireUpdate``) is the expiry section's news, not a difference.
- **Pending or drifted.** With an applied state (:mod:`rdsssl_reconcile.drift.baseline`): the spec
  unchanged since then means live moved: ``drifted``. The spec changed and live still is what was applied
  (its SSL part, leaving aside a cloud certificate Alibaba Cloud renewed): ``pending``. Both moved:
  ``drifted``, with both causes. Without an applied state the differences are ``drifted``, and the report
  says the evidence is missing.
- **Causes, each with its evidence**: Alibaba Cloud renewed the cloud certificate (same CA type and
  endpoints as applied, later expiry, new fingerprint); changed outside the tool (no apply record after the
  applied state explains the live values); a change in progress (busy status or ``LastModifyStatus``); the
  spec changed since the last apply.
- **A busy instance is compared as if settled**: the planner calls a non-Running instance ineligible (apply
  cannot act on it now), but drift only reads, so it compares what was read and says a change is in progress.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rdsssl_reconcile.drift.baseline import AppliedState
from rdsssl_reconcile.drift.ignore import IgnoreRule, apply_rules
from rdsssl_reconcile.drift.model import (
    Cause,
    CauseKind,
    CertificateKind,
    DriftStatus,
    ExpiryEntry,
    FieldDrift,
    InstanceDrift,
)
from rdsssl_reconcile.live.model import LiveInstance, ReadOutcome, live_to_json
from rdsssl_reconcile.planning.model import FieldChange, InstancePlan, PlanStatus
from rdsssl_reconcile.planning.planner import plan_instance
from rdsssl_reconcile.spec.model import DesiredInstance, IssuerCertificate
from rdsssl_reconcile.textsafe import visible

NO_EVIDENCE = "spec (no applied record found)"
#: Rules the planner uses only for a certificate that is due (time, or RequireUpdate), not for a difference.
RENEWAL_RULES = frozenset({"renew-cloud-cert"})


@dataclass(frozen=True, slots=True)
class Assessed:
    """An instance's drift, its expiry entries and the expired ignore rules that matched it."""

    drift: InstanceDrift
    expiry: tuple[ExpiryEntry, ...]
    expired_rules: tuple[IgnoreRule, ...]


def _busy(live: LiveInstance) -> str | None:
    """The evidence that a change is in progress, or None."""
    facts, ssl = live.facts, live.ssl
    parts = []
    if facts is not None and facts.status and facts.status != "Running":
        parts.append(f"DBInstanceStatus is {facts.status}")
    if ssl is not None and ssl.last_modify_status == "setting":
        parts.append("LastModifyStatus is setting")
    return ", ".join(parts) or None


def _as_settled(live: LiveInstance) -> LiveInstance:
    """The same read with the instance Running: the planner's only objection to a busy instance goes."""
    if live.facts is None or live.facts.status == "Running":
        return live
    return replace(live, facts=replace(live.facts, status="Running"))


def _time_driven(change: FieldChange) -> bool:
    return change.rule_id in RENEWAL_RULES or (change.reason or "").startswith("renew:")


def _ssl_json(live: Mapping[str, Any] | None) -> dict[str, Any] | None:
    ssl = live.get("ssl") if live is not None else None
    return dict(ssl) if isinstance(ssl, Mapping) else None


def _without_cloud_certificate(ssl: dict[str, Any]) -> dict[str, Any]:
    """The SSL state minus what Alibaba Cloud changes on its own when it renews a cloud certificate."""
    if (ssl.get("ca_type") or "aliyun") != "aliyun":
        return ssl
    return {k: v for k, v in ssl.items() if k not in ("server_cert", "server_cert_chain", "server_key_public_sha256")}


def renewal_cause(applied: AppliedState | None, live: LiveInstance) -> Cause | None:
    """Alibaba Cloud renewed the cloud certificate since the applied state: the evidence, or None."""
    before = _ssl_json(applied.live if applied else None)
    now = _ssl_json(live_to_json(live)) if live.ssl is not None else None
    if applied is None or before is None or now is None or not now.get("enabled"):
        return None
    if (before.get("ca_type") or "aliyun") != "aliyun" or (now.get("ca_type") or "aliyun") != "aliyun":
        return None
    old, new = before.get("server_cert"), now.get("server_cert")
    if not isinstance(old, Mapping) or not isinstance(new, Mapping) or old.get("sha256") == new.get("sha256"):
        return None
    if before.get("endpoints") != now.get("endpoints") or not str(new.get("not_after")) > str(old.get("not_after")):
        return None
    endpoints = ", ".join(visible(str(e)) for e in now.get("endpoints") or ()) or "(none)"
    return Cause(
        CauseKind.CLOUD_RENEWAL,
        "Alibaba Cloud renewed the cloud certificate",
        f"same CA type (aliyun) and endpoints ({endpoints}) as at the {applied.source}; expiry "
        f"{str(old.get('not_after'))[:10]} -> {str(new.get('not_after'))[:10]}; fingerprint sha256 "
        f"{str(old.get('sha256'))[:23]} -> {str(new.get('sha256'))[:23]}; no apply record after it",
    )


def live_unchanged(applied: AppliedState, live: LiveInstance) -> bool | None:
    """Is live's SSL state what was applied (a cloud renewal aside)? None when the applied state is unknown."""
    before = _ssl_json(applied.live)
    if before is None:
        return None
    now = _ssl_json(live_to_json(live))
    if now is None:
        return False
    return _without_cloud_certificate(before) == _without_cloud_certificate(now)


def _expiry(desired: DesiredInstance, live: LiveInstance, now: datetime) -> tuple[ExpiryEntry, ...]:
    ssl = live.ssl
    if ssl is None or not ssl.enabled:
        return ()
    window = desired.policy.renew_before_days
    entries: list[ExpiryEntry] = []

    def add(
        kind: CertificateKind, subject: str, fingerprint: str | None, not_after: datetime, days: int, update: bool
    ) -> None:
        left = math.floor((not_after - now).total_seconds() / 86400)
        entries.append(
            ExpiryEntry(
                instance_id=desired.id,
                region=desired.region,
                kind=kind,
                subject=subject,
                fingerprint=fingerprint,
                not_after=not_after,
                days_left=left,
                in_renewal_window=left < days,
                require_update=update,
            )
        )

    summary = ssl.server_cert.summary if ssl.server_cert else None
    not_after = ssl.expire_time or (summary.not_after if summary else None)
    if not_after is not None:
        certificate = desired.ssl.certificate
        if (ssl.ca_type or "aliyun") == "aliyun":
            kind = CertificateKind.SERVER_CLOUD
        elif isinstance(certificate, IssuerCertificate):
            kind = CertificateKind.SERVER_ISSUED
        else:
            kind = CertificateKind.SERVER_CUSTOM
        days = certificate.renew_before_days if isinstance(certificate, IssuerCertificate) else window
        subject = summary.subject if summary else ", ".join(ssl.endpoints)
        add(kind, subject, summary.sha256 if summary else None, not_after, days, ssl.require_update)
    client = ssl.client_ca.summary if ssl.client_ca else None
    if client is not None:
        add(CertificateKind.CLIENT_CA, client.subject, client.sha256, client.not_after, window, False)
    if ssl.crl is not None and ssl.crl.next_update is not None and ssl.client_ca is not None:
        add(CertificateKind.CRL, ssl.crl.issuer, ssl.crl.sha256, ssl.crl.next_update, window, False)
    return tuple(entries)


def _baseline_text(applied: AppliedState | None) -> str:
    return applied.source if applied else NO_EVIDENCE


def assess_instance(
    desired: DesiredInstance,
    live: LiveInstance,
    *,
    now: datetime,
    applied: AppliedState | None,
    rules: Sequence[IgnoreRule] = (),
) -> Assessed:
    """The drift of one declared instance (see the module docstring for the rules)."""
    busy = _busy(live)
    item = plan_instance(desired, _as_settled(live), now=now)
    common: dict[str, Any] = {
        "id": desired.id,
        "region": desired.region,
        "description": desired.description,
        "spec_location": item.spec_location,
        "baseline": _baseline_text(applied),
    }
    causes: list[Cause] = []
    if busy:
        causes.append(Cause(CauseKind.IN_PROGRESS, "a change is in progress on the instance", busy))
    if item.status is PlanStatus.NOT_FOUND or live.outcome is ReadOutcome.NOT_FOUND:
        return Assessed(InstanceDrift(status=DriftStatus.MISSING, reasons=item.reasons, **common), (), ())
    if item.status is PlanStatus.ERROR:
        return Assessed(
            InstanceDrift(status=DriftStatus.ERROR, reasons=item.reasons, error="; ".join(item.reasons), **common),
            (),
            (),
        )
    if item.status is PlanStatus.INELIGIBLE:
        return Assessed(
            InstanceDrift(status=DriftStatus.INELIGIBLE, reasons=item.reasons, causes=tuple(causes), **common), (), ()
        )
    expiry = _expiry(desired, live, now)
    renewal = renewal_cause(applied, live)
    if renewal is not None:
        causes.append(renewal)
    due = [c for c in item.changes if _time_driven(c)]
    reasons = [*item.reasons, *(f"renewal due: {c.reason}" for c in due if c.reason)]
    if renewal is not None:
        reasons.append("the cloud certificate changed since the last apply: renewed by Alibaba Cloud, as declared")
    changes = [c for c in item.changes if not _time_driven(c)]
    marked = apply_rules(
        desired.id, [FieldDrift(field=c.field, expected=c.after, live=c.before) for c in changes], rules, now=now
    )
    fields = marked.fields
    counted = [f for f in fields if not f.ignored]
    if not counted:
        if not reasons:
            reasons.append("every difference is ignored by a rule" if fields else "in sync")
        drift = InstanceDrift(
            status=DriftStatus.IN_SYNC, fields=fields, causes=tuple(causes), reasons=tuple(reasons), **common
        )
        return Assessed(drift, expiry, marked.expired)
    status, more_causes, more_reasons = _classify(desired, live, applied, item)
    drift = InstanceDrift(
        status=status,
        fields=fields,
        causes=(*causes, *more_causes),
        reasons=(*more_reasons, *reasons),
        **common,
    )
    return Assessed(drift, expiry, marked.expired)


def _classify(
    desired: DesiredInstance, live: LiveInstance, applied: AppliedState | None, item: InstancePlan
) -> tuple[DriftStatus, list[Cause], list[str]]:
    """Pending or drifted, with the causes the evidence supports."""
    if applied is None:
        return (
            DriftStatus.DRIFTED,
            [],
            [
                "no applied record for this instance (audit log or --baseline-plan): the differences are "
                "taken as drift; they may also be a spec change not applied yet"
            ],
        )
    digest = desired.digest()
    spec_changed = applied.desired_digest != digest
    spec_cause = Cause(
        CauseKind.SPEC_CHANGED,
        "the spec changed since the last apply",
        f"desired digest {applied.desired_digest[:12]} at the {applied.source}, {digest[:12]} now",
    )
    outside = Cause(
        CauseKind.OUTSIDE_CHANGE,
        "changed outside the tool",
        f"the live SSL state differs from the state recorded at the {applied.source}, and no later apply "
        "record explains it (a console or API change, or another tool)",
    )
    if not spec_changed:
        evidence = f"the spec is the one applied at the {applied.source} (desired digest {digest[:12]})"
        return DriftStatus.DRIFTED, [replace(outside, evidence=f"{evidence}; live differs from it")], []
    unchanged = live_unchanged(applied, live)
    if unchanged is None:
        return (
            DriftStatus.PENDING,
            [spec_cause],
            [
                "the live state after that apply is not recorded (a saved plan holds the state before it): taken as pending"
            ],
        )
    if unchanged:
        return DriftStatus.PENDING, [replace(spec_cause, evidence=f"{spec_cause.evidence}; live is as applied")], []
    return (
        DriftStatus.DRIFTED,
        [outside, spec_cause],
        ["the spec also changed since the last apply: the expected values are the current spec's"],
    )
