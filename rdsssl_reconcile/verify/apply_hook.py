"""``apply --verify``: a client's view as part of the proof, after the API's view has proven the change.

The executor proves an instance by re-reading and re-planning it; that proves what the API says. With
``--verify``, every instance the run ends ``applied`` or ``already_in_sync`` is then verified (its
endpoints probed as ``verify`` does), and an instance whose verify finds a mismatch or cannot connect
has not been proven: its outcome becomes ``not_converged`` (the executor's word for "the proof failed";
exit 3 under the one exit-code table, like any instance that does not end in the desired state), with
the first problem in its detail. Instances that end otherwise are not probed: nothing was proven to probe.

Kept out of the executor on purpose (a hook called by ``apply`` after it runs): the executor knows the
API, this knows sockets; the verify report of each instance goes into apply's JSON as ``verify``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from rdsssl_reconcile.apply.executor import InstanceResult, Outcome
from rdsssl_reconcile.cloud.port import ReadOnlyCloudClient
from rdsssl_reconcile.spec.model import DesiredInstance
from rdsssl_reconcile.verify.model import InstanceReport
from rdsssl_reconcile.verify.run import ConnectSettings, verify_instances

PROVEN = (Outcome.APPLIED, Outcome.ALREADY_IN_SYNC)


class Messages(Protocol):
    def message(self, text: str, *, instance_id: str | None = None) -> None: ...


def _summary(report: InstanceReport) -> str:
    problems = [p for e in report.endpoints for p in e.problems()]
    if report.problem is not None:
        problems.insert(0, report.problem)
    endpoints = len(report.endpoints)
    if not problems:
        return f"verify: ok ({endpoints} endpoint{'s' if endpoints != 1 else ''} as declared)"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"verify: {report.status}: {problems[0].code}: {problems[0].message}{more}"


def verify_applied(
    results: Sequence[InstanceResult],
    desired: Mapping[str, DesiredInstance],
    client: ReadOnlyCloudClient,
    settings: ConnectSettings,
    *,
    target: dict[str, Any],
    now: Callable[[], datetime],
    reporter: Messages,
) -> tuple[list[InstanceResult], dict[str, InstanceReport]]:
    """Verify the proven instances; returns the results (failed proofs now ``not_converged``) and reports."""
    proven = [desired[r.id] for r in results if r.outcome in PROVEN and r.id in desired]
    if not proven:
        return list(results), {}
    report = verify_instances(
        client,
        proven,
        target=target,
        now=now,
        resolves=settings.resolves,
        bundle=settings.bundle,
        bundle_from=settings.bundle_from,
        timeout=settings.timeout,
        parallelism=settings.parallelism,
    )
    by_id = {i.instance_id: i for i in report.instances}
    updated: list[InstanceResult] = []
    for result in results:
        verified = by_id.get(result.id)
        if verified is None:
            updated.append(result)
            continue
        summary = _summary(verified)
        reporter.message(summary, instance_id=result.id)
        if verified.status == "ok":
            updated.append(replace(result, detail=f"{result.detail}; {summary}" if result.detail else summary))
        else:
            updated.append(replace(result, outcome=Outcome.NOT_CONVERGED, detail=f"proof failed: {summary}"))
    return updated, by_id


def with_verify(document: dict[str, Any], verified: Mapping[str, InstanceReport]) -> dict[str, Any]:
    """apply's JSON document with each verified instance's report under ``verify`` (null: not verified)."""
    if not verified:
        return document
    instances = [
        item | {"verify": verified[item["id"]].to_json() if item.get("id") in verified else None}
        for item in document.get("instances", [])
    ]
    return document | {"instances": instances}
