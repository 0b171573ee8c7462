"""One drift run: the inputs read from disk, then the reads, then the pure report. The command calls this.

Disk inputs (:func:`load_inputs`: the ignore file, the audit log, a saved plan) are read before the target
is opened, so a bad rule or an unreadable plan fails before any cloud call. The cloud is only ever reached
through the read-only client the caller passes (:mod:`rdsssl_reconcile.drift.edge`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rdsssl_reconcile.apply.audit import default_audit_path
from rdsssl_reconcile.cloud.port import ReadOnlyCloudClient
from rdsssl_reconcile.drift import edge
from rdsssl_reconcile.drift.assess import Assessed, assess_instance
from rdsssl_reconcile.drift.baseline import Baseline, load_audit_baseline, load_plan_baseline, merged
from rdsssl_reconcile.drift.ignore import IgnoreRule, find_ignore_file, load_rules
from rdsssl_reconcile.drift.model import Coverage, DriftReport, UnmanagedInstance
from rdsssl_reconcile.drift.report import build_report
from rdsssl_reconcile.live.model import LiveInstance
from rdsssl_reconcile.spec.loader import SpecSet


@dataclass(frozen=True, slots=True)
class DriftInputs:
    rules: tuple[IgnoreRule, ...]
    baseline: Baseline


def load_inputs(spec_paths: Sequence[Path], *, baseline_plan: Path | None, audit_log: Path | None) -> DriftInputs:
    ignore_file = find_ignore_file(spec_paths)
    rules = load_rules(ignore_file) if ignore_file is not None else ()
    baseline = load_audit_baseline(audit_log or default_audit_path(), explicit=audit_log is not None)
    if baseline_plan is not None:
        baseline = merged(baseline, load_plan_baseline(baseline_plan))
    return DriftInputs(rules=rules, baseline=baseline)


def run_drift(
    client: ReadOnlyCloudClient,
    spec_set: SpecSet,
    inputs: DriftInputs,
    *,
    now: datetime,
    target: dict[str, Any],
    spec_paths: tuple[str, ...],
    scan_regions: Sequence[str] = (),
    managed: Sequence[str] | None = None,
    parallelism: int = 8,
) -> DriftReport:
    """``managed``: every declared id (with ``--target`` the spec set is a subset; coverage counts them all)."""
    by_id = {i.id: i for i in spec_set.instances}
    assessed: dict[str, Assessed] = {}

    def assess_as_read(live: LiveInstance) -> None:
        # In the read worker, while other reads are in flight (the pure assessment plans the instance).
        desired = by_id[live.instance_id]
        assessed[live.instance_id] = assess_instance(
            desired, live, now=now, applied=inputs.baseline.of(desired.id), rules=inputs.rules
        )

    read = edge.read_declared(client, spec_set.instances, parallelism=parallelism, on_read=assess_as_read)
    notes = [*read.notes(), *(str(w) for w in spec_set.warnings)]
    unmanaged: tuple[UnmanagedInstance, ...] = ()
    coverage: Coverage | None = None
    if scan_regions:
        declared = managed if managed is not None else [i.id for i in spec_set.instances]
        scan = edge.scan_regions(client, scan_regions, declared, parallelism=parallelism)
        unmanaged, coverage = scan.unmanaged, scan.coverage
        notes += scan.notes
    return build_report(
        spec_set.instances,
        read.instances,
        now=now,
        baseline=inputs.baseline,
        rules=inputs.rules,
        target=target,
        spec_paths=spec_paths,
        unmanaged=unmanaged,
        coverage=coverage,
        notes=notes,
        assessed_already=assessed,
    )
