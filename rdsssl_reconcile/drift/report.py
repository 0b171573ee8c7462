"""The whole drift report from values: desired instances, what was read, the baseline, the rules. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rdsssl_reconcile.drift.assess import Assessed, assess_instance
from rdsssl_reconcile.drift.baseline import Baseline
from rdsssl_reconcile.drift.ignore import IgnoreRule
from rdsssl_reconcile.drift.model import Coverage, DriftReport, ExpiryEntry, InstanceDrift, UnmanagedInstance
from rdsssl_reconcile.live.model import LiveInstance, ReadOutcome
from rdsssl_reconcile.spec.model import DesiredInstance
from rdsssl_reconcile.textsafe import visible


def build_report(
    desired: Sequence[DesiredInstance],
    live: Mapping[str, LiveInstance],
    *,
    now: datetime,
    baseline: Baseline,
    rules: Sequence[IgnoreRule] = (),
    target: dict[str, Any],
    spec_paths: tuple[str, ...] = (),
    unmanaged: tuple[UnmanagedInstance, ...] = (),
    coverage: Coverage | None = None,
    notes: Sequence[str] = (),
    assessed_already: Mapping[str, Assessed] | None = None,
) -> DriftReport:
    """The report, in spec order. ``assessed_already``: instances the caller assessed with
    :func:`assess_instance` from the same live state, ``now``, baseline and rules (drift does it as each
    read completes); taken as they are, which changes nothing since the assessment is pure."""
    instances: list[InstanceDrift] = []
    expiry: list[ExpiryEntry] = []
    expired: list[IgnoreRule] = []
    ready = assessed_already or {}
    for item in desired:
        assessed = ready.get(item.id)
        if assessed is None:
            state = live.get(item.id) or LiveInstance(
                instance_id=item.id, region=item.region, outcome=ReadOutcome.ERROR
            )
            assessed = assess_instance(item, state, now=now, applied=baseline.of(item.id), rules=rules)
        instances.append(assessed.drift)
        expiry.extend(assessed.expiry)
        expired.extend(r for r in assessed.expired_rules if r not in expired)
    all_notes = [*notes, *baseline.notes]
    all_notes += [
        f"ignore rule {visible(r.location)} ({visible(r.instance)} {visible(r.field)}) expired on "
        f"{r.expires:%Y-%m-%d}: its differences count again (reason was: {visible(r.reason)})"
        for r in expired
        if r.expires is not None
    ]
    return DriftReport(
        instances=tuple(instances),
        expiry=tuple(sorted(expiry, key=lambda e: (e.not_after, e.instance_id, e.kind.value))),
        generated_at=now,
        target=target,
        spec_paths=spec_paths,
        unmanaged=unmanaged,
        coverage=coverage,
        baseline=baseline.description,
        notes=tuple(all_notes),
    )
