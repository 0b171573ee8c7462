"""Carry out a plan: per instance, re-check, respect policy, one request, wait until landed, prove it.

For each instance with a planned change, in a worker thread:

1. **Policy** (pure, :mod:`.policy`): defer now if the restart is not allowed at this time.
2. **Restart slot**: at most ``max_restarts`` instances are between "submitted" and "back to Running"
   at once; the others wait their turn (and give up their turn on Ctrl-C).
3. **Re-check**: re-read the instance and re-plan it. If its live fingerprint, desired digest, changed
   fields or request digest differ from the reviewed plan, refuse it: the plan no longer describes it.
4. **One request**: ``ModifyDBInstanceSSL`` with the whole desired configuration (so every pending field
   costs one restart). "Instance busy" answers wait for Running and retry; a 5xx or a dropped connection
   is ambiguous for a non-idempotent call, so the instance is re-read to see whether the change started
   before anything is sent again.
5. **Landing**: poll until the instance was seen busy (or ``LastModifyStatus`` moved) and is back to
   Running with ``success``, or until the per-instance timeout; a ``failed`` status is a failure.
6. **Proof**: re-plan from the read that showed Running and ``success`` after the restart (a full read: facts, SSL, endpoints). Only an instance with nothing left to change is ``applied``;
   anything else is ``not_converged``, an error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from rdsssl_reconcile.apply.audit import AuditLog
from rdsssl_reconcile.apply.policy import PolicyDecision, decide
from rdsssl_reconcile.apply.waiting import Backoff, Judgement, Verdict, WaitOutcome, mmss, poll_until
from rdsssl_reconcile.clock import Clock
from rdsssl_reconcile.cloud.port import BUSY_CODES, CloudClient
from rdsssl_reconcile.errors import CloudError, PermanentCloudError, TransientCloudError, UserError
from rdsssl_reconcile.live.model import LiveInstance, ReadOutcome
from rdsssl_reconcile.live.reader import InstanceRef, read_one
from rdsssl_reconcile.pki.authority import IssuedCertificate
from rdsssl_reconcile.pki.summary import summarize_certificate
from rdsssl_reconcile.planning.eligibility import can_carry_ssl
from rdsssl_reconcile.planning.model import InstancePlan, PlanStatus
from rdsssl_reconcile.planning.planner import plan_instance
from rdsssl_reconcile.planning.request import (
    build_parameters,
    needs_issued_certificate,
    planned_request,
    wire_parameters,
)
from rdsssl_reconcile.secretfiles import ensure_directory, write_public_file, write_secret_file
from rdsssl_reconcile.spec.model import DesiredInstance


class Outcome(Enum):
    APPLIED = "applied"
    DEFERRED = "deferred"
    FAILED = "failed"
    NOT_CONVERGED = "not_converged"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class InstanceResult:
    id: str
    outcome: Outcome
    detail: str
    request_id: str | None = None
    restart_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    next_window: datetime | None = None
    remaining: tuple[str, ...] = ()
    still_busy: bool = False  # timed out while the instance was still restarting

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "request_id": self.request_id,
            "restart_seconds": round(self.restart_seconds, 1),
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "next_window": self.next_window.strftime("%Y-%m-%dT%H:%M:%SZ") if self.next_window else None,
            "remaining_changes": list(self.remaining),
        }


class Reporter(Protocol):
    """Where progress goes: a live display on a terminal, timestamped lines otherwise."""

    def phase(self, instance_id: str, phase: str, detail: str = "") -> None: ...

    def message(self, text: str) -> None: ...

    def finished(self, result: InstanceResult) -> None: ...


@dataclass(frozen=True, slots=True)
class ApplySettings:
    parallelism: int = 8
    max_restarts: int = 1
    allow_restart: frozenset[str] = frozenset()
    instance_timeout: float = 1200.0
    backoff: Backoff = field(default_factory=Backoff)
    export_dir: Path | None = None
    force_export: bool = False


def _status_of(live: LiveInstance) -> tuple[str, str]:
    status = live.facts.status if live.facts else "unknown"
    modify = (live.ssl.last_modify_status if live.ssl else None) or "-"
    return status, modify


def _is_busy(live: LiveInstance) -> bool:
    status, modify = _status_of(live)
    return status != "Running" or modify == "setting"


class _Interrupted(Exception):
    """Raised inside a worker when the run was interrupted before it submitted anything."""


class _DeferredNow(Exception):
    """Raised when, while retrying a refused submission, the policy stopped allowing the restart."""

    def __init__(self, decision: PolicyDecision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


class _Uncertain(Exception):
    """Raised when it cannot be told whether an ambiguously failed modify was carried out."""


class _NoSlot(Exception):
    """Raised to queued instances when every restart slot is held by an instance that timed out busy."""


class Executor:
    """Runs the instances of a plan; one instance's failure never stops the others."""

    def __init__(
        self,
        client: CloudClient,
        *,
        clock: Clock,
        settings: ApplySettings,
        audit: AuditLog,
        reporter: Reporter,
        target: dict[str, Any],
    ) -> None:
        self.client = client
        self.clock = clock
        self.settings = settings
        self.audit = audit
        self.reporter = reporter
        self.target = target
        self._slots = threading.BoundedSemaphore(max(1, settings.max_restarts))
        # Slots of instances that timed out while still restarting are kept, not released: releasing
        # them would start more restarts at once than --max-restarts allows.
        self._held_by_timeouts: list[str] = []
        self._held_lock = threading.Lock()
        self.stop_submitting = threading.Event()
        self.abandon_waits = threading.Event()

    # -- fleet ----------------------------------------------------------------------------------------

    def run(self, items: Sequence[tuple[InstancePlan, DesiredInstance]]) -> tuple[list[InstanceResult], bool]:
        """Apply every item; returns the results (plan order) and whether the run was interrupted.

        Ctrl-C once: no new change is submitted; changes in flight are waited for and reported.
        Ctrl-C twice: in-flight waits stop too, and those instances are reported with what was last seen.
        """
        interrupted = False
        results: dict[str, InstanceResult] = {}
        with ThreadPoolExecutor(
            max_workers=max(1, self.settings.parallelism), thread_name_prefix="rdsssl-apply"
        ) as pool:
            futures: dict[Future[InstanceResult], str] = {
                pool.submit(self._run_one, item, desired): item.id for item, desired in items
            }
            pending = set(futures)
            while pending:
                try:
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:
                    if not interrupted:
                        interrupted = True
                        self.stop_submitting.set()
                        self.reporter.message(
                            "Interrupted: no new change will be submitted; waiting for changes in flight "
                            "(Ctrl-C again to stop waiting)."
                        )
                    else:
                        self.abandon_waits.set()
                        self.reporter.message("Interrupted again: reporting in-flight changes as last seen.")
                    continue
                for future in done:
                    result = future.result()
                    results[result.id] = result
        return [results[item.id] for item, _ in items], interrupted

    def _run_one(self, item: InstancePlan, desired: DesiredInstance) -> InstanceResult:
        started = self.clock.monotonic()
        try:
            result = self._apply(item, desired)
        except _Interrupted:
            result = InstanceResult(
                id=item.id, outcome=Outcome.SKIPPED, detail="interrupted before submitting: not changed"
            )
        except _NoSlot as exc:
            result = InstanceResult(id=item.id, outcome=Outcome.SKIPPED, detail=str(exc))
        except _DeferredNow as exc:
            result = InstanceResult(
                id=item.id,
                outcome=Outcome.DEFERRED,
                detail=f"not submitted: {exc.decision.reason}",
                next_window=exc.decision.next_window,
            )
        except _Uncertain as exc:
            result = InstanceResult(id=item.id, outcome=Outcome.FAILED, detail=str(exc))
        except CloudError as exc:
            result = InstanceResult(
                id=item.id, outcome=Outcome.FAILED, detail=f"{exc.action} failed: {exc.code}: {exc.message}"
            )
        except UserError as exc:
            result = InstanceResult(id=item.id, outcome=Outcome.FAILED, detail=str(exc))
        except Exception as exc:  # noqa: BLE001 - one instance's bug must not abandon the others unreported
            result = InstanceResult(
                id=item.id,
                outcome=Outcome.FAILED,
                detail=f"internal error ({type(exc).__name__}); run 'plan' to see the instance's state",
            )
        result = replace(result, elapsed_seconds=self.clock.monotonic() - started)
        self.reporter.finished(result)
        return result

    # -- one instance ----------------------------------------------------------------------------------

    def _check_interrupted(self) -> None:
        if self.stop_submitting.is_set():
            raise _Interrupted

    def _acquire_slot(self, instance_id: str) -> None:
        self.reporter.phase(instance_id, "queued", "waiting for a restart slot")
        while not self._slots.acquire(timeout=0.2):
            self._check_interrupted()
            with self._held_lock:
                held = list(self._held_by_timeouts)
            if len(held) >= max(1, self.settings.max_restarts):
                raise _NoSlot(
                    f"not submitted: {', '.join(held)} still restarting after the timeout "
                    f"{'holds' if len(held) == 1 else 'hold'} every restart slot (--max-restarts "
                    f"{self.settings.max_restarts}); run 'plan' once it has settled"
                )

    def _apply(self, item: InstancePlan, desired: DesiredInstance) -> InstanceResult:
        if item.status in (PlanStatus.ERROR, PlanStatus.NOT_FOUND):
            # Declared but unreadable or missing: the spec cannot be converged, which is a failure.
            return InstanceResult(
                id=item.id,
                outcome=Outcome.FAILED,
                detail=f"could not be planned ({item.status.value.replace('_', ' ')}): {'; '.join(item.reasons)}",
            )
        if item.status is not PlanStatus.CHANGE or item.request is None:
            reason = "; ".join(item.reasons)
            return InstanceResult(
                id=item.id, outcome=Outcome.SKIPPED, detail=f"{item.status.value.replace('_', ' ')}: {reason}"
            )
        decision = decide(item, desired.policy, now=self.clock.now(), allow_restart=self.settings.allow_restart)
        if not decision.allowed:
            self.reporter.phase(item.id, "deferred", decision.reason)
            return InstanceResult(
                id=item.id, outcome=Outcome.DEFERRED, detail=decision.reason, next_window=decision.next_window
            )
        self._check_interrupted()
        restarts = item.restart.restart.counts_as_restart
        if restarts:
            self._acquire_slot(item.id)
        result: InstanceResult | None = None
        try:
            result = self._apply_in_slot(item, desired)
            return result
        finally:
            if restarts:
                if result is not None and result.still_busy:
                    with self._held_lock:
                        self._held_by_timeouts.append(item.id)
                else:
                    self._slots.release()

    def _reread(self, desired: DesiredInstance) -> LiveInstance:
        return read_one(self.client, InstanceRef(instance_id=desired.id, region=desired.region), can_carry_ssl)

    def _apply_in_slot(self, item: InstancePlan, desired: DesiredInstance) -> InstanceResult:
        self._check_interrupted()
        # One deadline for the whole instance: waiting to submit and waiting to land share it.
        deadline = self.clock.monotonic() + self.settings.instance_timeout
        self.reporter.phase(item.id, "checking", "re-reading the live state")
        live = self._reread(desired)
        if live.outcome is not ReadOutcome.FOUND:
            reason = live.error.message if live.error else live.outcome.value
            return InstanceResult(
                id=item.id, outcome=Outcome.FAILED, detail=f"could not re-read the instance: {reason}"
            )
        now = self.clock.now()
        current = plan_instance(desired, live, now=now)
        moved = describe_drift(item.to_json(), current.to_json())
        if moved:
            return InstanceResult(
                id=item.id, outcome=Outcome.FAILED, detail=f"refused: changed since the plan ({'; '.join(moved)})"
            )
        decision = decide(current, desired.policy, now=now, allow_restart=self.settings.allow_restart)
        if not decision.allowed:
            return InstanceResult(
                id=item.id, outcome=Outcome.DEFERRED, detail=decision.reason, next_window=decision.next_window
            )
        parameters = build_parameters(desired, live)
        if planned_request(parameters).digest != item.request.digest:  # type: ignore[union-attr]
            return InstanceResult(
                id=item.id, outcome=Outcome.FAILED, detail="refused: the request differs from the plan"
            )
        issued = self._issue(desired, parameters)
        self._check_interrupted()
        submitted_at = self.clock.monotonic()
        request_id = self._submit(item, current, desired, wire_parameters(parameters, issued), issued, deadline)
        landed = self._wait_landed(item, desired, live, deadline)
        restart_seconds = self.clock.monotonic() - submitted_at
        if isinstance(landed, InstanceResult):
            self.audit.note(
                "result", time=self.clock.now(), instance=item.id, outcome=landed.outcome.value, detail=landed.detail
            )
            return replace(landed, request_id=request_id, restart_seconds=restart_seconds)
        # Proof: re-plan from the read that showed the change had landed (taken after the restart ended).
        self.reporter.phase(item.id, "verifying", "re-planning from the state read after the restart")
        proof = plan_instance(desired, landed, now=self.clock.now())
        if proof.status is PlanStatus.IN_SYNC:
            result = InstanceResult(
                id=item.id,
                outcome=Outcome.APPLIED,
                detail=f"converged: {proof.reasons[0] if proof.reasons else 'in sync'}",
                request_id=request_id,
                restart_seconds=restart_seconds,
            )
        else:
            remaining = tuple(f"{c.field}: {c.before} -> {c.after}" for c in proof.changes) or proof.reasons
            result = InstanceResult(
                id=item.id,
                outcome=Outcome.NOT_CONVERGED,
                detail=(
                    f"the instance reported success, but re-reading it shows {proof.status.value.replace('_', ' ')}: "
                    + "; ".join(remaining)
                ),
                request_id=request_id,
                restart_seconds=restart_seconds,
                remaining=remaining,
            )
        self.audit.note(
            "result", time=self.clock.now(), instance=item.id, outcome=result.outcome.value, detail=result.detail
        )
        return result

    def _issue(self, desired: DesiredInstance, parameters: Any) -> IssuedCertificate | None:
        issuer = needs_issued_certificate(parameters)
        if issuer is None:
            return None
        self.reporter.phase(
            desired.id, "issuing", f"new {issuer.key_type.value} certificate from {issuer.ca_cert.summary.subject}"
        )
        issued = issuer.authority().issue_server_certificate(
            desired.ssl.endpoints, now=self.clock.now(), days=issuer.validity_days, key_type=issuer.key_type
        )
        if self.settings.export_dir is not None:
            cert_file, key_file = export_files(self.settings.export_dir, desired.id)
            ensure_directory(cert_file.parent)
            write_public_file(cert_file, issued.cert_pem(), force=self.settings.force_export)
            write_secret_file(key_file, issued.key_pem(), force=self.settings.force_export)
        return issued

    # -- submit ------------------------------------------------------------------------------------------

    def _audit_call(
        self, item: InstancePlan, outcome: str, started: float, issued: IssuedCertificate | None, **extra: Any
    ) -> None:
        fingerprints: dict[str, str] = {}
        assert item.request is not None
        for parameter in item.request.parameters:
            if (
                parameter.name in ("ServerCert", "ClientCACert", "ClientCertRevocationList")
                and "sha256" in parameter.display
            ):
                fingerprints[parameter.name] = parameter.display
        if issued is not None:
            fingerprints["ServerCert"] = f"issued certificate sha256 {summarize_certificate(issued.certificate).sha256}"
        self.audit.note(
            "call",
            time=self.clock.now(),
            target=self.target.get("description"),
            instance=item.id,
            region=item.region,
            action="ModifyDBInstanceSSL",
            fields_changed=[c.field for c in item.changes],
            certificates=fingerprints,
            outcome=outcome,
            duration_ms=round((time.monotonic() - started) * 1000),
            **extra,
        )

    def _submit(
        self,
        item: InstancePlan,
        current: InstancePlan,
        desired: DesiredInstance,
        wire: dict[str, str],
        issued: IssuedCertificate | None,
        deadline: float,
    ) -> str | None:
        """Send the request until it is accepted; returns the RequestId (None if only inferred).

        Before every retry the run must still be uninterrupted and the policy must still allow the
        restart at that moment: "busy" answers can go on long enough for a maintenance window to close.
        """
        next_delay = self.settings.backoff.delays()
        try:
            while True:
                self._check_interrupted()
                decision = decide(
                    current, desired.policy, now=self.clock.now(), allow_restart=self.settings.allow_restart
                )
                if not decision.allowed:
                    raise _DeferredNow(decision)
                self.reporter.phase(item.id, "submitting", "ModifyDBInstanceSSL")
                started = time.monotonic()
                try:
                    request_id = self.client.modify_ssl(desired.region, wire)
                except PermanentCloudError as exc:
                    self._audit_call(item, f"refused:{exc.code}", started, issued, request_id=exc.request_id)
                    raise
                except TransientCloudError as exc:
                    if exc.code in BUSY_CODES:
                        self._audit_call(item, f"busy:{exc.code}", started, issued, request_id=exc.request_id)
                        self._wait_until_idle(item, desired, deadline)
                    else:
                        self._audit_call(item, f"uncertain:{exc.code}", started, issued, request_id=exc.request_id)
                        if self._change_started(item, desired, exc.code, deadline):
                            self.reporter.phase(
                                item.id, "submitted", f"accepted despite {exc.code} (the instance is busy)"
                            )
                            return None
                    if self.clock.monotonic() >= deadline:
                        raise
                    self.clock.sleep(next_delay())
                    continue
                self._audit_call(item, "accepted", started, issued, request_id=request_id)
                self.reporter.phase(item.id, "submitted", f"request id {request_id}")
                return request_id
        finally:
            wire.clear()  # drop the secret values as soon as they are no longer needed

    def _poll(
        self,
        desired: DesiredInstance,
        judge: Callable[[LiveInstance], Judgement],
        deadline: float,
        on_observation: Callable[[LiveInstance, Judgement], None] | None = None,
    ) -> WaitOutcome[LiveInstance]:
        """Re-read the instance until ``judge`` decides, the instance's deadline, or a second Ctrl-C."""
        return poll_until(
            lambda: self._reread(desired),
            judge,
            timeout=max(0.0, deadline - self.clock.monotonic()),
            clock=self.clock,
            backoff=self.settings.backoff,
            interrupted=self.abandon_waits,
            on_observation=on_observation,
        )

    def _change_started(self, item: InstancePlan, desired: DesiredInstance, code: str, deadline: float) -> bool:
        """After an ambiguous failure: did the modify start anyway? (busy now, or setting).

        Only a successful read answers; an unreadable instance is re-read until the deadline, and if it
        never answers the outcome is reported as unknown rather than guessed either way.
        """

        def judge(live: LiveInstance) -> Judgement:
            if live.outcome is ReadOutcome.FOUND and live.facts is not None:
                return Judgement(Verdict.DONE, "read")
            reason = live.error.message if live.error else live.outcome.value
            return Judgement(Verdict.CONTINUE, f"the instance could not be re-read ({reason})")

        self.reporter.phase(item.id, "checking", f"ModifyDBInstanceSSL answered {code}; did it start anyway?")
        outcome = self._poll(desired, judge, deadline)
        if outcome.verdict is not Verdict.DONE or outcome.last is None:
            raise _Uncertain(
                f"ModifyDBInstanceSSL answered {code} and then {outcome.explanation}: it is unknown whether the "
                "change was accepted. Run 'plan' to see the instance's state"
            )
        return _is_busy(outcome.last)

    def _wait_until_idle(self, item: InstancePlan, desired: DesiredInstance, deadline: float) -> None:
        def judge(live: LiveInstance) -> Judgement:
            if not _is_busy(live):
                return Judgement(Verdict.DONE, "idle")
            status, modify = _status_of(live)
            return Judgement(Verdict.CONTINUE, f"instance busy ({status}, LastModifyStatus {modify})")

        self.reporter.phase(item.id, "waiting", "instance busy with another change")
        self._poll(desired, judge, deadline)

    # -- landing -----------------------------------------------------------------------------------------

    def _wait_landed(
        self, item: InstancePlan, desired: DesiredInstance, before: LiveInstance, deadline: float
    ) -> LiveInstance | InstanceResult:
        """Wait until the change has landed: the state read then, or the failure to report."""
        before_modify = _status_of(before)[1]
        seen_busy = [False]
        started = self.clock.monotonic()

        def judge(live: LiveInstance) -> Judgement:
            if live.outcome is not ReadOutcome.FOUND:
                return Judgement(Verdict.CONTINUE, f"instance not readable ({live.outcome.value})")
            status, modify = _status_of(live)
            if _is_busy(live):
                seen_busy[0] = True
                return Judgement(Verdict.CONTINUE, f"{status}, LastModifyStatus {modify}")
            if modify == "failed" and (seen_busy[0] or before_modify != "failed"):
                reason = live.ssl.modify_status_reason if live.ssl else None
                return Judgement(
                    Verdict.FAILED, f"the change failed (LastModifyStatus failed: {reason or 'no reason given'})"
                )
            if seen_busy[0]:
                return Judgement(Verdict.DONE, f"back to {status}, LastModifyStatus {modify}")
            if plan_instance(desired, live, now=self.clock.now()).status is PlanStatus.IN_SYNC:
                return Judgement(Verdict.DONE, "already in the desired state")
            return Judgement(Verdict.CONTINUE, f"{status}, LastModifyStatus {modify}: the change has not started yet")

        def observe(live: LiveInstance, judgement: Judgement) -> None:
            elapsed = self.clock.monotonic() - started
            estimate = item.restart.estimated_seconds
            self.reporter.phase(item.id, "restarting", f"{judgement.explanation} ({mmss(elapsed)} / ~{mmss(estimate)})")

        outcome = self._poll(desired, judge, deadline, on_observation=observe)
        if outcome.verdict is Verdict.DONE and outcome.last is not None:
            return outcome.last
        if outcome.verdict is Verdict.FAILED:
            return InstanceResult(id=item.id, outcome=Outcome.FAILED, detail=outcome.explanation)
        if self.abandon_waits.is_set():
            detail = f"interrupted while the change was in flight; last seen: {outcome.explanation}. Run 'plan' to see where it ended"
        else:
            detail = f"timed out after {mmss(self.settings.instance_timeout)}; last seen: {outcome.explanation}"
        last = outcome.last
        still_busy = last is None or last.outcome is not ReadOutcome.FOUND or _is_busy(last)
        return InstanceResult(id=item.id, outcome=Outcome.FAILED, detail=detail, still_busy=still_busy)


def export_files(export_dir: Path, instance_id: str) -> tuple[Path, Path]:
    """Where ``apply --export-dir`` writes an issued certificate and its key (0600)."""
    return export_dir / instance_id / "server.crt", export_dir / instance_id / "server.key"


def describe_drift(
    planned: dict[str, Any],
    current: dict[str, Any],
    *,
    desired_then: dict[str, Any] | None = None,
    desired_now: dict[str, Any] | None = None,
) -> list[str]:
    """What moved between the reviewed plan of an instance and a fresh one (both as plan JSON).

    Empty when nothing did. JSON on both sides because a saved plan is JSON: the same check serves
    ``apply PLANFILE`` (before anything runs) and every instance right before its request. Given the
    desired states as well (a saved plan keeps them), a spec change is named field by field.
    """
    moved: list[str] = []
    if current["desired_digest"] != planned["desired_digest"]:
        spec_moves = field_differences(desired_then, desired_now) if desired_then and desired_now else []
        moved.extend([f"spec {m}" for m in spec_moves] or ["the spec changed"])
    if current["live_fingerprint"] != planned["live_fingerprint"]:
        moved.extend(field_differences(planned.get("live"), current.get("live")) or ["the live state changed"])
    fields_now = [c["field"] for c in current["changes"]]
    fields_then = [c["field"] for c in planned["changes"]]
    if current["status"] != planned["status"]:
        moved.append(f"status is now {current['status']} ({'; '.join(current['reasons'])})")
    elif fields_now != fields_then:
        moved.append(f"changes are now {', '.join(fields_now) or 'none'} (planned: {', '.join(fields_then)})")
    elif (current.get("request") or {}).get("digest") != (planned.get("request") or {}).get("digest"):
        moved.append("the request differs")
    else:
        # Same inputs, so the same plan, unless what the reviewer read was edited (or another version
        # made it): what was shown must be what is done, restarts first of all.
        if current.get("restart") != planned.get("restart"):
            moved.append(
                f"the plan shows restart {planned.get('restart')!r}, apply would restart: {current.get('restart')!r}"
            )
        shown = [_reviewed(c) for c in planned["changes"]]
        for then, now in zip(shown, (_reviewed(c) for c in current["changes"]), strict=True):
            if then != now:
                moved.append(f"{now['field']}: the plan shows {_brief(then)}, apply would do {_brief(now)}")
    return moved


def _reviewed(change: dict[str, Any]) -> dict[str, Any]:
    """What a reviewer reads about a change and that cannot differ for the same inputs (not the reason)."""
    return {key: change.get(key) for key in ("field", "before", "after", "restart", "rule")}


def _brief(change: dict[str, Any]) -> str:
    return f"{change['before']} -> {change['after']} (restart {change['restart']})"


def field_differences(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """Field-level differences of two JSON snapshots, live or desired (``ssl.acl: 'verify-ca' -> 'cert'``)."""
    from deepdiff import DeepDiff

    diff = DeepDiff(before or {}, after or {}, ignore_order=True, verbose_level=2)
    lines = []
    for kind in ("values_changed", "type_changes"):
        for path, change in diff.get(kind, {}).items():
            lines.append(f"{_path(path)}: {change.get('old_value')!r} -> {change.get('new_value')!r}")
    for kind, word in (("dictionary_item_added", "added"), ("dictionary_item_removed", "removed")):
        for path in diff.get(kind, {}):
            lines.append(f"{_path(path)} {word}")
    for kind, word in (("iterable_item_added", "added"), ("iterable_item_removed", "removed")):
        for path, value in diff.get(kind, {}).items():
            lines.append(f"{_path(path)} {word} {value!r}")
    return lines


def _path(deepdiff_path: str) -> str:
    return deepdiff_path.removeprefix("root").replace("']['", ".").replace("['", "").replace("']", "").strip(".")
