"""Merge the JSON plans (or drift reports) of several CI shards into one, as if one run had made it.

Why: a fleet sharded across CI matrix jobs (one per region or account) gives one plan artifact per job,
and the people who approve need one summary with one verdict. Pure: parsed documents in, one
:class:`MergedPlan` or :class:`~rdsssl_reconcile.drift.model.DriftReport` out, or a :class:`MergeError`
in plain words. Reading the files is the command's job (``cli/merge_cmd.py``).

Rules (docs/plan-format.md, "Merging shards"):

* every input is the same kind: plans (``plan --format json``, saved plans, merged plans) or drift
  reports (``drift --format json``); mixing them is refused;
* an instance in two inputs must be the same in both (the same JSON, request ids aside): a shard that
  overlaps another and disagrees with it is refused, naming the instance and the files; an identical
  repeat is kept once;
* the merged plan lists its instances in spec order (file, line: as one plan of the same specs does),
  with the earliest ``generated_at``, every spec path and warning;
  its summary is recounted from its instances, so it is exactly the summary one plan of the same
  instances would have;
* drift: unmanaged instances another shard manages are dropped, and coverage is recounted over the
  regions scanned (a region scanned by two shards is refused: the counts would be double).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from rdsssl_reconcile.drift.model import DRIFT_FORMAT_VERSION, Coverage, DriftReport, report_from_json
from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.planning.compare import without_volatile
from rdsssl_reconcile.planning.model import InstancePlan, Plan

MERGED_KIND = "rdsssl-reconcile/merged-plan"
SAVED_KIND = "rdsssl-reconcile/saved-plan"
DRIFT_KIND = "drift"


class MergeError(UserError):
    """The inputs cannot be merged into one document (kinds, overlaps, malformed drift reports)."""


@dataclass(frozen=True, slots=True)
class Source:
    """One input: its name as given (for messages) and its parsed JSON document."""

    name: str
    document: Mapping[str, Any]

    @property
    def kind(self) -> str:
        kind = self.document.get("kind")
        if kind == DRIFT_KIND:
            return DRIFT_KIND
        return "plan"


@dataclass(frozen=True, slots=True)
class MergedPlan:
    plan: Plan
    #: Instance id -> whether its spec declares SSL on, where an input says (saved and merged plans do).
    declared: dict[str, bool]
    #: The ``desired`` sections of the inputs that have one, merged (kept so a merged plan merges again).
    desired: dict[str, Any]
    #: Ids whose input does not say what the spec declares (a ``plan --format json`` document).
    undeclared: tuple[str, ...]
    sources: tuple[dict[str, Any], ...]


def kind_of(sources: Sequence[Source]) -> str:
    """``plan`` or ``drift``, the one kind of every input; a :class:`MergeError` when they differ."""
    kinds = {s.kind for s in sources}
    if len(kinds) > 1:
        listed = "; ".join(f"{s.name} is a {'drift report' if s.kind == DRIFT_KIND else 'plan'}" for s in sources)
        raise MergeError(f"cannot merge plans with drift reports ({listed}); merge each kind on its own")
    return kinds.pop()


def _comparable(item: Mapping[str, Any]) -> str:
    """An instance's JSON for the overlap check: a read error's request id names one call, not the state."""
    copy = dict(item)
    error = copy.get("error")
    if isinstance(error, Mapping):
        copy["error"] = {k: v for k, v in error.items() if k != "request_id"}
    return json.dumps(copy, sort_keys=True)


def _first_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    for key in ("status", "changes", "reasons", "region", "restart", "request", "live_fingerprint", "desired_digest"):
        if json.dumps(a.get(key), sort_keys=True) != json.dumps(b.get(key), sort_keys=True):
            shown_a = json.dumps(a.get(key))[:80]
            shown_b = json.dumps(b.get(key))[:80]
            return f"{key} {shown_a} vs {shown_b}"
    return "other fields differ"


def _check_overlaps(sources: Sequence[Source], items_of: Any) -> dict[str, tuple[str, Mapping[str, Any]]]:
    seen: dict[str, tuple[str, Mapping[str, Any]]] = {}
    problems: list[str] = []
    for source in sources:
        for item in items_of(source):
            instance_id = str(item.get("id"))
            if instance_id in seen:
                first_name, first = seen[instance_id]
                if _comparable(first) != _comparable(item):
                    problems.append(
                        f"{instance_id}: in {first_name} and {source.name} with different content "
                        f"({_first_difference(first, item)})"
                    )
                continue
            seen[instance_id] = (source.name, item)
    if problems:
        raise MergeError(
            "cannot merge: an instance is in more than one input and they disagree (shards must not overlap, or must "
            "be plans of the same moment):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return seen


def _target(targets: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The inputs' one target; several are named. Two plans of the same target may name it differently
    (an embedded emulator's port is new each run), so they are compared as ``apply PLANFILE`` compares them."""
    same = {json.dumps(without_volatile({"target": t})["target"], sort_keys=True) for t in targets}
    if len(same) == 1:
        return dict(targets[0])
    descriptions = list(dict.fromkeys(str(t.get("description", t.get("kind"))) for t in targets))
    return {"kind": "several", "description": f"{len(descriptions)} targets: {'; '.join(descriptions)}"}


def merge_plans(sources: Sequence[Source], plans: Sequence[Plan]) -> MergedPlan:
    """One plan of every input's instances (``plans[i]`` is ``sources[i]`` rebuilt and proven exact)."""
    _check_overlaps(sources, lambda s: s.document.get("instances") or [])
    instances = []
    seen: set[str] = set()
    for plan in plans:
        for item in plan.instances:
            if item.id not in seen:  # a repeat is identical (checked above): kept once
                instances.append(item)
                seen.add(item.id)
    instances = _in_spec_order(instances)
    declared: dict[str, bool] = {}
    desired: dict[str, Any] = {}
    undeclared: list[str] = []
    for source in sources:
        section = source.document.get("desired")
        if isinstance(section, Mapping):
            desired.update({k: v for k, v in section.items() if k not in desired})
    for item in instances:
        ssl = (desired.get(item.id) or {}).get("ssl") if isinstance(desired.get(item.id), Mapping) else None
        if isinstance(ssl, Mapping):
            # Only an explicit "enabled: false" counts as off (the strict reading, as show PLANFILE does).
            declared[item.id] = ssl.get("enabled") is not False
        else:
            undeclared.append(item.id)
    merged = Plan(
        instances=tuple(instances),
        target=_target([p.target for p in plans]),
        generated_at=min(p.generated_at for p in plans),
        spec_paths=tuple(dict.fromkeys(path for p in plans for path in p.spec_paths)),
        spec_warnings=tuple(dict.fromkeys(w for p in plans for w in p.spec_warnings)),
        allow_restart=tuple(sorted({i for p in plans for i in p.allow_restart})),
    )
    return MergedPlan(
        plan=merged,
        declared=declared,
        desired=desired,
        undeclared=tuple(undeclared),
        sources=tuple(
            {
                "file": s.name,
                "generated_at": p.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "target": p.target.get("description", p.target.get("kind")),
                "instances": len(p.instances),
            }
            for s, p in zip(sources, plans, strict=True)
        ),
    )


_SPEC_LOCATION = re.compile(r"^(?P<file>.+?):(?P<line>\d+) \(")


def _in_spec_order(instances: list[InstancePlan]) -> list[InstancePlan]:
    """Instances in the order one plan of the same specs lists them: spec file (depth first, by name), line.

    When an instance does not say where its spec is, the inputs' order is kept.
    """
    keys = []
    for item in instances:
        match = _SPEC_LOCATION.match(item.spec_location)
        if match is None:
            return instances
        keys.append((PurePosixPath(match["file"]).parts, int(match["line"])))
    order = sorted(range(len(instances)), key=lambda index: keys[index])
    return [instances[index] for index in order]


def read_drift(source: Source) -> DriftReport:
    """A drift report document as values; a located :class:`MergeError` when it is not one."""
    document = dict(source.document)
    version = document.get("format_version")
    if not isinstance(version, str) or version.split(".")[0] != DRIFT_FORMAT_VERSION.split(".")[0]:
        raise MergeError(
            f"{source.name}: format_version {json.dumps(version)} is not a drift report format this version reads "
            f"(expects {DRIFT_FORMAT_VERSION})"
        )
    try:
        return report_from_json(document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MergeError(
            f"{source.name}: not a valid drift report ({type(exc).__name__}: {str(exc)[:80]}); "
            "expected the output of 'drift --format json'"
        ) from None


def merge_drift(sources: Sequence[Source]) -> DriftReport:
    """One drift report of every input's instances, expiry entries, unmanaged instances and coverage."""
    reports = [read_drift(s) for s in sources]
    _check_overlaps(sources, lambda s: s.document.get("instances") or [])
    instances = []
    seen: set[str] = set()
    for report in reports:
        for item in report.instances:
            if item.id not in seen:
                instances.append(item)
                seen.add(item.id)
    expiry = list(dict.fromkeys(e for r in reports for e in r.expiry))
    unmanaged = []
    unmanaged_seen: set[str] = set()
    for report in reports:
        for entry in report.unmanaged:
            if entry.id not in seen and entry.id not in unmanaged_seen:
                unmanaged.append(entry)
                unmanaged_seen.add(entry.id)
    coverage = _coverage(sources, reports, seen, len(unmanaged))
    return DriftReport(
        instances=tuple(instances),
        expiry=tuple(expiry),
        generated_at=min(r.generated_at for r in reports),
        target=_target([r.target for r in reports]),
        spec_paths=tuple(dict.fromkeys(p for r in reports for p in r.spec_paths)),
        unmanaged=tuple(unmanaged),
        coverage=coverage,
        # Each shard's baseline and notes are kept (once each): a reader of the merged report must still
        # see which shard had no applied record to compare with.
        baseline="; ".join(dict.fromkeys(r.baseline for r in reports if r.baseline)),
        notes=tuple(dict.fromkeys(n for r in reports for n in r.notes)),
    )


def _coverage(
    sources: Sequence[Source], reports: Sequence[DriftReport], managed_ids: set[str], unmanaged: int
) -> Coverage | None:
    scanned_by: dict[str, str] = {}
    scanned = 0
    for source, report in zip(sources, reports, strict=True):
        if report.coverage is None:
            continue
        for region in report.coverage.regions:
            if region in scanned_by:
                raise MergeError(
                    f"cannot merge coverage: region {region} was scanned by both {scanned_by[region]} and "
                    f"{source.name} (its instances would count twice); scan each region in one shard"
                )
            scanned_by[region] = source.name
        scanned += report.coverage.scanned
    if not scanned_by:
        return None
    # Unmanaged ones another shard manages were dropped above, so managed is what the scans found less
    # what no shard manages.
    return Coverage(regions=tuple(sorted(scanned_by)), managed=max(0, scanned - unmanaged), scanned=scanned)
