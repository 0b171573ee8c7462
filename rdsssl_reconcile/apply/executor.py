"""Carry out a plan: per instance, re-check, respect policy, one accepted request, wait until landed, prove it.

For each instance with a planned change, in a worker thread:

1. **Policy** (pure, :mod:`.policy`): defer now if the restart is not allowed at this time.
2. **Restart slot**: at most ``max_restarts`` instances are between "submitted" and "back to Running"
   at once; the others wait their turn (and give up their turn on Ctrl-C). The slots do not depend on
   ``parallelism``: the pool runs ``max(parallelism, max_restarts)`` instances at once (a restart's
   wait mostly sleeps), and their API calls share ``parallelism`` permits (:func:`worker_count`).
3. **Re-plan before every send**: re-read the instance and re-plan it right before each attempt,
   including the first. Already in the desired state (another run made the change): ``already_in_sync``,
   nothing is sent. Different from the reviewed plan item (live state, spec, changes, request): refused.
   Busy with a change: wait for it to end, then re-plan.
4. **One request**: ``ModifyDBInstanceSSL`` with every pending field, and only the parameters they need
   (so they cost one restart). Answers that prove the request was refused ("busy", throttling) are waited out
   (throttling honours ``retry_after``) and followed by step 3 again. Every attempt is audited: a
   ``sending`` record before it (no record, no send) and its outcome after it.
5. **No second modify without proof**: after an ambiguous answer (client timeout, dropped connection,
   5xx) nothing more is sent for the instance in this run, because nothing can prove that the first
   request will not still be carried out (the API's gateway accepts a signed request for 15 minutes, and
   nothing bounds its processing after that). The instance is watched instead: once the change is seen
   to start (busy, ``LastModifyStatus setting``, or the desired state reached) it is treated as accepted;
   if it is not seen by the instance's deadline the outcome is ``unknown``.
6. **Landing**: poll until the instance was seen busy (or ``LastModifyStatus`` moved) and is back to
   Running with ``success``, or until the per-instance timeout; a ``failed`` status is a failure, and a
   timeout or a second Ctrl-C while the change is in flight is ``unknown`` with what was last seen.
   Polls are cheap (:func:`~rdsssl_reconcile.live.reader.read_progress`: the status and
   ``LastModifyStatus``, two calls; the endpoints once it is over) and follow :mod:`.poll_schedule`
   around the restart's expected duration (the plan's estimate, scaled by ``--expected-restart`` or for
   an embedded emulator, corrected by what this run has seen).
7. **Proof**: re-plan from the read that showed Running and ``success`` after the restart (a full read:
   facts, SSL, endpoints). Only an instance with nothing left to change is ``applied``; anything else is
   ``not_converged``, an error.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from rdsssl_reconcile.apply.audit import AuditLog
from rdsssl_reconcile.apply.poll_schedule import PollSchedule, learned_expectation
from rdsssl_reconcile.apply.waiting import Backoff, Judgement, Verdict, WaitOutcome, mmss, poll_until
from rdsssl_reconcile.clock import Clock
from rdsssl_reconcile.cloud.port import BUSY_CODES, MAX_PAGE_SIZE, CloudClient, RawBody
from rdsssl_reconcile.cloud.retry import RetryPolicy, is_throttling
from rdsssl_reconcile.errors import CloudError, PermanentCloudError, TransientCloudError, UserError
from rdsssl_reconcile.live.model import LiveInstance, ReadOutcome
from rdsssl_reconcile.live.reader import InstanceRef, read_one, read_progress
from rdsssl_reconcile.pki.authority import IssuedCertificate
from rdsssl_reconcile.pki.summary import summarize_certificate
from rdsssl_reconcile.planning.compare import instance_moves
from rdsssl_reconcile.planning.eligibility import can_carry_ssl
from rdsssl_reconcile.planning.model import Action, InstancePlan, PlanStatus
from rdsssl_reconcile.planning.planner import plan_instance
from rdsssl_reconcile.planning.policy import PolicyDecision, decide
from rdsssl_reconcile.planning.request import (
    ParameterValue,
    build_parameters,
    needs_issued_certificate,
    planned_request,
    wire_parameters,
)
from rdsssl_reconcile.secretfiles import ensure_directory, write_public_file, write_secret_file
from rdsssl_reconcile.spec.model import DesiredInstance

SslParameters = tuple[tuple[str, ParameterValue], ...]

#: The advice every ``unknown`` outcome ends with: the live state will tell, once it has settled.
RUN_PLAN_AGAIN = "Run 'plan' again in a few minutes to see where it ended"


#: Transport failures that happen before any byte of the request leaves: the modify was certainly not
#: received (a refused TCP connection, a host name that does not resolve). Everything else that is not
#: a refusal from the API (a timeout, a dropped connection, a 5xx) may hide an accepted request.
NOT_SENT_CODES = frozenset({"ConnectionRefused", "NameResolution"})


class Outcome(Enum):
    APPLIED = "applied"
    ALREADY_IN_SYNC = "already_in_sync"
    DEFERRED = "deferred"
    FAILED = "failed"
    NOT_CONVERGED = "not_converged"
    UNKNOWN = "unknown"
    #: Planned without a change (in sync, ineligible): nothing to send.
    NOTHING_TO_DO = "nothing_to_do"
    #: A change that was never sent: interrupted before its turn, or every restart slot stayed held.
    NOT_SUBMITTED = "not_submitted"


class Sent(Enum):
    """What became of this run's modify for an instance; the summary's restart count is ACCEPTED + UNCONFIRMED."""

    NOTHING = "none"  # nothing sent, or every attempt was refused (busy, throttled, rejected)
    ACCEPTED = "accepted"  # a RequestId came back, or the change was seen to start after an ambiguous answer
    UNCONFIRMED = "unconfirmed"  # sent, answered ambiguously, and not seen to start: it may still land


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
    still_busy: bool = False  # timed out while the instance was (or may be) still restarting
    sent: Sent = Sent.NOTHING
    #: The live state (``live_to_json``) that proved the instance in sync, for the audit log's result
    #: record: drift tells a spec not yet applied from live drift by it. Not part of the JSON outcome.
    proven_live: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "modify": self.sent.value,
            "request_id": self.request_id,
            "restart_seconds": round(self.restart_seconds, 1),
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "next_window": self.next_window.strftime("%Y-%m-%dT%H:%M:%SZ") if self.next_window else None,
            "remaining_changes": list(self.remaining),
        }


class Reporter(Protocol):
    """Where progress goes: a live display on a terminal, timestamped lines otherwise."""

    def phase(self, instance_id: str, phase: str, detail: str = "", *, expected_seconds: float | None = None) -> None:
        """The instance entered (or is still in) ``phase``; ``expected_seconds``: how long it should take."""

    def message(self, text: str) -> None: ...

    def finished(self, result: InstanceResult) -> None: ...


@dataclass(frozen=True, slots=True)
class ApplySettings:
    parallelism: int = 8
    max_restarts: int = 1
    allow_restart: frozenset[str] = frozenset()
    instance_timeout: float = 1200.0
    backoff: Backoff = field(default_factory=Backoff)
    #: Delays between throttled modify attempts (``retry_after`` from the server wins).
    throttling: RetryPolicy = field(default_factory=RetryPolicy)
    export_dir: Path | None = None
    force_export: bool = False
    #: The densest poll interval of a restart's wait (``--poll-interval``); None: from its expectation.
    dense_poll: float | None = None
    #: Restart estimates are multiplied by this (an embedded emulator's restarts are scaled down).
    restart_scale: float = 1.0


def worker_count(parallelism: int, max_restarts: int) -> int:
    """Instances worked on at once: enough for ``max_restarts`` restarts whatever ``parallelism`` is.

    A restarting instance holds its worker while it waits, so a pool of ``parallelism`` workers would
    cap the restarts in flight at ``parallelism`` (``--max-restarts 20 --parallelism 8`` ran 8). API
    calls stay bounded by ``parallelism`` through :class:`_CallGate`.
    """
    return max(1, parallelism, max_restarts)


def _status_of(live: LiveInstance) -> tuple[str, str]:
    status = live.facts.status if live.facts else "unknown"
    modify = (live.ssl.last_modify_status if live.ssl else None) or "-"
    return status, modify


def _is_busy(live: LiveInstance) -> bool:
    status, modify = _status_of(live)
    return status != "Running" or modify == "setting"


def _unreadable(live: LiveInstance) -> str:
    return live.error.message if live.error else live.outcome.value


class _CallGate:
    """The client, with at most ``permits`` calls in flight at once (``--parallelism``).

    A permit is held only for the call itself: an instance waiting for its restart holds none, so
    ``max_restarts`` restarts can be in flight while reads and re-plans keep to ``parallelism``.
    """

    def __init__(self, client: CloudClient, permits: int) -> None:
        self._client = client
        self._permits = threading.BoundedSemaphore(max(1, permits))

    def describe_instances_page(
        self,
        region_id: str,
        *,
        instance_ids: Sequence[str] = (),
        engine: str | None = None,
        page_number: int = 1,
        page_size: int = MAX_PAGE_SIZE,
    ) -> RawBody:
        with self._permits:
            return self._client.describe_instances_page(
                region_id, instance_ids=instance_ids, engine=engine, page_number=page_number, page_size=page_size
            )

    def describe_instance(self, region_id: str, instance_id: str) -> RawBody:
        with self._permits:
            return self._client.describe_instance(region_id, instance_id)

    def describe_net_info(self, region_id: str, instance_id: str) -> RawBody:
        with self._permits:
            return self._client.describe_net_info(region_id, instance_id)

    def describe_ssl(self, region_id: str, instance_id: str) -> RawBody:
        with self._permits:
            return self._client.describe_ssl(region_id, instance_id)

    def modify_ssl(self, region_id: str, parameters: Mapping[str, str]) -> str:
        with self._permits:
            return self._client.modify_ssl(region_id, parameters)


class _Interrupted(Exception):
    """Raised inside a worker when the run was interrupted before it submitted anything."""


class _NoSlot(Exception):
    """Raised to queued instances when every restart slot is held by an instance that timed out busy."""


@dataclass(frozen=True, slots=True)
class _Ready:
    """A fresh read and re-plan that still match the reviewed plan item: what may be sent now."""

    live: LiveInstance
    current: InstancePlan
    parameters: SslParameters


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
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self._calls: CloudClient = _CallGate(client, settings.parallelism)
        self.clock = clock
        self.settings = settings
        self.audit = audit
        self.reporter = reporter
        self.target = target
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._slots = threading.BoundedSemaphore(max(1, settings.max_restarts))
        # Slots of instances that timed out while still restarting are kept, not released: releasing
        # them would start more restarts at once than --max-restarts allows.
        self._held_by_timeouts: list[str] = []
        self._held_lock = threading.Lock()
        self._attempted: set[str] = set()
        #: Observed / expected duration of each restart that landed in this run (for the next ones' waits).
        self._restart_ratios: list[float] = []
        #: Audit writes that failed after the run started (the CLI exits non-zero when any did).
        self.stop_submitting = threading.Event()
        self.abandon_waits = threading.Event()

    # -- fleet ----------------------------------------------------------------------------------------

    def run(self, items: Sequence[tuple[InstancePlan, DesiredInstance]]) -> tuple[list[InstanceResult], bool]:
        """Apply every item; returns the results (plan order) and whether the run was interrupted.

        Ctrl-C once: no new change is submitted; changes in flight are waited for and reported.
        Ctrl-C twice: in-flight waits stop too, and those instances are reported ``unknown`` with what
        was last seen.
        """
        interrupted = False
        results: dict[str, InstanceResult] = {}
        with ThreadPoolExecutor(
            max_workers=worker_count(self.settings.parallelism, self.settings.max_restarts),
            thread_name_prefix="rdsssl-apply",
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
                id=item.id, outcome=Outcome.NOT_SUBMITTED, detail="interrupted before submitting: not changed"
            )
        except _NoSlot as exc:
            result = InstanceResult(id=item.id, outcome=Outcome.NOT_SUBMITTED, detail=str(exc))
        except CloudError as exc:
            result = InstanceResult(
                id=item.id, outcome=Outcome.FAILED, detail=f"{exc.action} failed: {exc.code}: {exc.message}"
            )
        except UserError as exc:
            result = InstanceResult(id=item.id, outcome=Outcome.FAILED, detail=str(exc))
        except Exception as exc:  # noqa: BLE001 - one instance's bug must not abandon the others unreported
            result = InstanceResult(
                id=item.id,
                outcome=Outcome.UNKNOWN if item.id in self._attempted else Outcome.FAILED,
                detail=f"internal error ({type(exc).__name__}); run 'plan' to see the instance's state",
                sent=Sent.UNCONFIRMED if item.id in self._attempted else Sent.NOTHING,
            )
        result = replace(result, elapsed_seconds=self.clock.monotonic() - started)
        if item.id in self._attempted or result.outcome is Outcome.ALREADY_IN_SYNC:
            # In sync and proved: the applied state (spec digest and live read) is drift's baseline.
            applied = (
                {"region": item.region, "desired_digest": desired.digest(), "live": result.proven_live}
                if result.proven_live is not None
                else {}
            )
            self._audit(
                "result",
                instance=item.id,
                outcome=result.outcome.value,
                modify=result.sent.value,
                detail=result.detail,
                **applied,
            )
        self.reporter.finished(result)
        return result

    def _audit(self, kind: str, **fields: Any) -> bool:
        """Write one audit record; False if it could not be written (the log keeps the failure for the end of the run)."""
        try:
            self.audit.record(kind, time=self.clock.now(), **fields)
        except UserError:
            return False
        return True

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
                id=item.id, outcome=Outcome.NOTHING_TO_DO, detail=f"{item.status.value.replace('_', ' ')}: {reason}"
            )
        now = self.clock.now()
        decision = decide(item, desired.policy, now=now, allow_restart=self.settings.allow_restart)
        # No phase line for a deferral: the finished line says "deferred" with the reason (once, not twice).
        if item.action is Action.DEFERRED:
            return _deferred_as_planned(item, decision)
        if not decision.allowed:
            return _deferred_at_send(item, decision, now, waited=None)
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
        """The full read that re-planning needs (before every send)."""
        return read_one(self._calls, InstanceRef(instance_id=desired.id, region=desired.region), can_carry_ssl)

    def _watch(self, desired: DesiredInstance) -> LiveInstance:
        """A poll while waiting: partial (status only) while busy, full once it may be over."""
        return read_progress(self._calls, InstanceRef(instance_id=desired.id, region=desired.region), can_carry_ssl)

    def _replan(
        self, item: InstancePlan, desired: DesiredInstance, deadline: float, *, waited: str | None
    ) -> _Ready | InstanceResult:
        """A fresh read and re-plan before a send: what may be sent, or why nothing will be.

        ``waited`` says what the previous attempt answered (None before the first attempt): a deferral
        after refused attempts says "not submitted", as nothing this run sent was accepted.
        """
        while True:
            self._check_interrupted()
            self.reporter.phase(item.id, "checking", "re-reading the live state and re-planning")
            live = self._reread(desired)
            if live.outcome is not ReadOutcome.FOUND:
                return InstanceResult(
                    id=item.id, outcome=Outcome.FAILED, detail=f"could not re-read the instance: {_unreadable(live)}"
                )
            if not _is_busy(live):
                break
            # Busy with a change nobody in this run sent (another run's, or the console's): wait it out,
            # then plan again from what it left.
            if not self._wait_until_idle(item, desired, deadline):
                self._check_interrupted()
                status, modify = _status_of(live)
                return InstanceResult(
                    id=item.id,
                    outcome=Outcome.FAILED,
                    detail=f"not submitted: the instance stayed busy with another change ({status}, "
                    f"LastModifyStatus {modify}) until the timeout of {mmss(self.settings.instance_timeout)}",
                )
        now = self.clock.now()
        current = plan_instance(desired, live, now=now, allow_restart=self.settings.allow_restart)
        if current.status is PlanStatus.IN_SYNC:
            return InstanceResult(
                id=item.id,
                outcome=Outcome.ALREADY_IN_SYNC,
                detail="already in the desired state (another run or someone else made the change); nothing sent"
                + (f" after {waited}" if waited else ""),
                proven_live=current.live,
            )
        moved = instance_moves(item.to_json(), current.to_json())
        if moved:
            return InstanceResult(
                id=item.id, outcome=Outcome.FAILED, detail=f"refused: changed since the plan ({'; '.join(moved)})"
            )
        decision = decide(current, desired.policy, now=now, allow_restart=self.settings.allow_restart)
        if not decision.allowed:
            return _deferred_at_send(item, decision, now, waited=waited)
        parameters = build_parameters(desired, live, current.changes)
        assert item.request is not None
        if planned_request(parameters).digest != item.request.digest:
            return InstanceResult(
                id=item.id, outcome=Outcome.FAILED, detail="refused: the request differs from the plan"
            )
        return _Ready(live=live, current=current, parameters=parameters)

    def _apply_in_slot(self, item: InstancePlan, desired: DesiredInstance) -> InstanceResult:
        self._check_interrupted()
        # One deadline for the whole instance: waiting to submit and waiting to land share it.
        deadline = self.clock.monotonic() + self.settings.instance_timeout
        issued: IssuedCertificate | None = None
        issued_yet = False
        waited: str | None = None
        throttled = 0
        next_delay = self.settings.backoff.delays()
        while True:
            ready = self._replan(item, desired, deadline, waited=waited)
            if isinstance(ready, InstanceResult):
                return ready
            if not issued_yet:
                issued = self._issue(desired, ready.parameters)  # once: a re-send carries the same certificate
                issued_yet = True
            self._check_interrupted()
            if waited is not None and self.clock.monotonic() >= deadline:
                return InstanceResult(
                    id=item.id,
                    outcome=Outcome.FAILED,
                    detail=f"not submitted: ModifyDBInstanceSSL answered {waited} until the timeout of "
                    f"{mmss(self.settings.instance_timeout)}",
                )
            self._attempted.add(item.id)
            if not self._audit_call(item, "sending", None, issued):
                return InstanceResult(
                    id=item.id, outcome=Outcome.FAILED, detail="not sent: the audit log could not be written"
                )
            self.reporter.phase(item.id, "submitting", "ModifyDBInstanceSSL")
            wire = wire_parameters(ready.parameters, issued)
            started = time.monotonic()
            submitted_at = self.clock.monotonic()
            try:
                request_id = self._calls.modify_ssl(desired.region, wire)
            except PermanentCloudError as exc:
                self._audit_call(item, f"refused:{exc.code}", started, issued, request_id=exc.request_id)
                raise
            except TransientCloudError as exc:
                if exc.code in BUSY_CODES:
                    self._audit_call(item, f"busy:{exc.code}", started, issued, request_id=exc.request_id)
                    waited = f"busy:{exc.code}"
                    self._wait_until_idle(item, desired, deadline)
                    self._pause(next_delay(), deadline)
                    continue
                if exc.code in NOT_SENT_CODES:
                    # No connection was made, so the request cannot land: a proven refusal, like
                    # throttling, and the next attempt re-plans first like every other.
                    self._audit_call(item, f"not_sent:{exc.code}", started, issued, request_id=exc.request_id)
                    waited = f"not_sent:{exc.code}"
                    self.reporter.phase(item.id, "waiting", f"not sent ({exc.code}); retrying")
                    self._pause(next_delay(), deadline)
                    continue
                if is_throttling(exc):
                    self._audit_call(item, f"throttled:{exc.code}", started, issued, request_id=exc.request_id)
                    waited = f"throttled:{exc.code}"
                    delay = self.settings.throttling.delay(throttled, exc, self._rng)
                    throttled += 1
                    self.reporter.phase(item.id, "waiting", f"throttled ({exc.code}); retrying in {delay:.1f}s")
                    self._pause(delay, deadline)
                    continue
                self._audit_call(item, f"uncertain:{exc.code}", started, issued, request_id=exc.request_id)
                return self._after_ambiguous(item, desired, ready.live, exc, submitted_at, deadline)
            finally:
                wire.clear()  # drop the secret values as soon as they are no longer needed
            self._audit_call(item, "accepted", started, issued, request_id=request_id)
            self.reporter.phase(item.id, "submitted", f"request id {request_id}")
            return self._land(item, desired, ready.live, request_id, submitted_at, deadline)

    def _pause(self, seconds: float, deadline: float) -> None:
        self.clock.sleep(max(0.0, min(seconds, deadline - self.clock.monotonic())))

    def _issue(self, desired: DesiredInstance, parameters: SslParameters) -> IssuedCertificate | None:
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
            write_public_file(cert_file, issued.cert_pem(), force=self.settings.force_export, option="--force-export")
            write_secret_file(key_file, issued.key_pem(), force=self.settings.force_export, option="--force-export")
        return issued

    # -- submit ------------------------------------------------------------------------------------------

    def _audit_call(
        self,
        item: InstancePlan,
        outcome: str,
        started: float | None,
        issued: IssuedCertificate | None,
        **extra: Any,
    ) -> bool:
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
        duration = {} if started is None else {"duration_ms": round((time.monotonic() - started) * 1000)}
        return self._audit(
            "call",
            target=self.target.get("description"),
            instance=item.id,
            region=item.region,
            action="ModifyDBInstanceSSL",
            fields_changed=[c.field for c in item.changes],
            certificates=fingerprints,
            outcome=outcome,
            **duration,
            **extra,
        )

    def _poll(
        self,
        desired: DesiredInstance,
        judge: Callable[[LiveInstance], Judgement],
        deadline: float,
        on_observation: Callable[[LiveInstance, Judgement], None] | None = None,
        next_delay: Callable[[], float] | None = None,
        cheap: bool = False,
    ) -> WaitOutcome[LiveInstance]:
        """Re-read the instance until ``judge`` decides, the instance's deadline, or a second Ctrl-C.

        ``cheap``: polls are :meth:`_watch` reads (a landing wait), and a judge still sees a full read
        whenever the instance is not busy. Otherwise every poll is a full read (the rare waits for a
        change nobody in this run sent, or for signs of an ambiguous one, keep the fullest evidence).
        """
        return poll_until(
            (lambda: self._watch(desired)) if cheap else (lambda: self._reread(desired)),
            judge,
            timeout=max(0.0, deadline - self.clock.monotonic()),
            clock=self.clock,
            backoff=self.settings.backoff,
            next_delay=next_delay,
            interrupted=self.abandon_waits,
            on_observation=on_observation,
        )

    def _expected_restart(self, item: InstancePlan) -> float:
        """How long this instance's restart should take: its rule's estimate, scaled, corrected by this run."""
        estimate = item.restart.estimated_seconds * self.settings.restart_scale
        with self._held_lock:
            ratios = list(self._restart_ratios)
        return learned_expectation(estimate, ratios)

    def _after_ambiguous(
        self,
        item: InstancePlan,
        desired: DesiredInstance,
        before: LiveInstance,
        error: TransientCloudError,
        submitted_at: float,
        deadline: float,
    ) -> InstanceResult:
        """The modify may or may not have been accepted: never send it again; watch for it to start.

        Seen to start (busy, ``setting``, or already the desired state): accepted, request id unknown,
        and on to the landing wait and the proof. Not seen by the deadline (or a second Ctrl-C): ``unknown``,
        and its restart slot stays held, since the request may still land.
        """

        def judge(live: LiveInstance) -> Judgement:
            if live.outcome is not ReadOutcome.FOUND or live.facts is None:
                return Judgement(Verdict.CONTINUE, f"the instance could not be re-read ({_unreadable(live)})")
            status, modify = _status_of(live)
            if _is_busy(live):
                return Judgement(Verdict.DONE, f"the change started ({status}, LastModifyStatus {modify})")
            if plan_instance(desired, live, now=self.clock.now()).status is PlanStatus.IN_SYNC:
                return Judgement(Verdict.DONE, "already in the desired state")
            return Judgement(Verdict.CONTINUE, f"{status}, LastModifyStatus {modify}: no sign of the change")

        self.reporter.phase(
            item.id, "checking", f"ModifyDBInstanceSSL answered {error.code}; watching whether it was accepted"
        )
        outcome = self._poll(desired, judge, deadline)
        if outcome.verdict is Verdict.DONE:
            self.reporter.phase(item.id, "submitted", f"accepted despite {error.code}: {outcome.explanation}")
            return self._land(item, desired, before, None, submitted_at, deadline)
        when = (
            "until interrupted"
            if self.abandon_waits.is_set()
            else f"by the timeout of {mmss(self.settings.instance_timeout)}"
        )
        return InstanceResult(
            id=item.id,
            outcome=Outcome.UNKNOWN,
            detail=(
                f"ModifyDBInstanceSSL answered {error.code} ({error.message}): it may still be carried out, so it "
                f"was not sent again; no sign of the change {when}; last seen: {outcome.explanation}. {RUN_PLAN_AGAIN}"
            ),
            still_busy=True,
            sent=Sent.UNCONFIRMED,
        )

    def _wait_until_idle(self, item: InstancePlan, desired: DesiredInstance, deadline: float) -> bool:
        """Wait until the instance is Running and not ``setting``; False if it was not by the deadline."""

        def judge(live: LiveInstance) -> Judgement:
            if live.outcome is ReadOutcome.FOUND and not _is_busy(live):
                return Judgement(Verdict.DONE, "idle")
            status, modify = _status_of(live)
            return Judgement(Verdict.CONTINUE, f"instance busy ({status}, LastModifyStatus {modify})")

        self.reporter.phase(item.id, "waiting", "instance busy with another change")
        return self._poll(desired, judge, deadline).verdict is Verdict.DONE

    # -- landing -----------------------------------------------------------------------------------------

    def _land(
        self,
        item: InstancePlan,
        desired: DesiredInstance,
        before: LiveInstance,
        request_id: str | None,
        submitted_at: float,
        deadline: float,
    ) -> InstanceResult:
        """The modify was accepted: wait for it to land, then prove it by re-planning."""
        landed = self._wait_landed(item, desired, before, submitted_at, deadline)
        restart_seconds = self.clock.monotonic() - submitted_at
        if isinstance(landed, InstanceResult):
            return replace(landed, request_id=request_id, restart_seconds=restart_seconds, sent=Sent.ACCEPTED)
        # Proof: re-plan from the read that showed the change had landed (taken after the restart ended).
        self.reporter.phase(item.id, "verifying", "re-planning from the state read after the restart")
        proof = plan_instance(desired, landed, now=self.clock.now())
        if proof.status is PlanStatus.IN_SYNC:
            return InstanceResult(
                id=item.id,
                outcome=Outcome.APPLIED,
                detail=f"converged: {proof.reasons[0] if proof.reasons else 'in sync'}",
                request_id=request_id,
                restart_seconds=restart_seconds,
                sent=Sent.ACCEPTED,
                proven_live=proof.live,
            )
        remaining = tuple(f"{c.field}: {c.before} -> {c.after}" for c in proof.changes) or proof.reasons
        return InstanceResult(
            id=item.id,
            outcome=Outcome.NOT_CONVERGED,
            detail=(
                f"the instance reported success, but re-reading it shows {proof.status.value.replace('_', ' ')}: "
                + "; ".join(remaining)
            ),
            request_id=request_id,
            restart_seconds=restart_seconds,
            remaining=remaining,
            sent=Sent.ACCEPTED,
        )

    def _wait_landed(
        self,
        item: InstancePlan,
        desired: DesiredInstance,
        before: LiveInstance,
        submitted_at: float,
        deadline: float,
    ) -> LiveInstance | InstanceResult:
        """Wait until the change has landed: the state read then, or the failure (or unknown) to report.

        The polls follow the restart's :class:`PollSchedule`; once it has landed, how long it took
        (halfway between the last busy poll and the first that saw it back) corrects the expectation
        of the restarts that follow.
        """
        before_modify = _status_of(before)[1]
        seen_busy = [False]
        last_busy = [submitted_at]
        estimate = item.restart.estimated_seconds * self.settings.restart_scale
        expected = self._expected_restart(item)
        schedule = PollSchedule.for_restart(expected, dense=self.settings.dense_poll)

        def judge(live: LiveInstance) -> Judgement:
            if live.outcome is not ReadOutcome.FOUND:
                return Judgement(Verdict.CONTINUE, f"instance not readable ({live.outcome.value})")
            status, modify = _status_of(live)
            if _is_busy(live):
                seen_busy[0] = True
                last_busy[0] = self.clock.monotonic()
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
            # The reporter shows the elapsed time against the plan's estimate (and beats between polls);
            # the schedule's expectation, scaled and learned, stays internal.
            estimate_shown = item.restart.estimated_seconds
            self.reporter.phase(item.id, "restarting", judgement.explanation, expected_seconds=estimate_shown or None)

        outcome = self._poll(
            desired,
            judge,
            deadline,
            on_observation=observe,
            next_delay=lambda: schedule.delay(self.clock.monotonic() - submitted_at),
            cheap=True,
        )
        if outcome.verdict is Verdict.DONE and outcome.last is not None:
            if seen_busy[0] and estimate > 0:
                took = (last_busy[0] + self.clock.monotonic()) / 2 - submitted_at
                with self._held_lock:
                    self._restart_ratios.append(max(0.0, took) / estimate)
            return outcome.last
        if outcome.verdict is Verdict.FAILED:
            return InstanceResult(id=item.id, outcome=Outcome.FAILED, detail=outcome.explanation)
        # The change was accepted and has not been seen to end: where it ends is unknown, not a failure.
        if self.abandon_waits.is_set():
            detail = f"interrupted while the change was in flight; last seen: {outcome.explanation}. {RUN_PLAN_AGAIN}"
        else:
            detail = (
                f"timed out after {mmss(self.settings.instance_timeout)} with the change in flight; "
                f"last seen: {outcome.explanation}. {RUN_PLAN_AGAIN}"
            )
        last = outcome.last
        still_busy = last is None or last.outcome is not ReadOutcome.FOUND or _is_busy(last)
        return InstanceResult(id=item.id, outcome=Outcome.UNKNOWN, detail=detail, still_busy=still_busy)


def _deferred_as_planned(item: InstancePlan, decision: PolicyDecision) -> InstanceResult:
    """The reviewed plan deferred the restart: it is never run by this apply, even if policy allows it now."""
    deferral = item.deferral
    detail = deferral.sentence(item.id) if deferral else decision.reason
    if decision.allowed:
        detail += "; the policy allows it now, but the reviewed plan deferred it: plan again to apply it"
    return InstanceResult(
        id=item.id, outcome=Outcome.DEFERRED, detail=detail, next_window=deferral.next_opening if deferral else None
    )


def _deferred_at_send(
    item: InstancePlan, decision: PolicyDecision, now: datetime, *, waited: str | None
) -> InstanceResult:
    """The policy defers the restart at the moment of sending: never sent later, never dropped silently.

    When the reviewed plan said it runs now (the window closed meanwhile), the detail says so in plain words.
    """
    if item.action is Action.NOW:
        detail = (
            f"not submitted: {decision.reason} (the plan shown restarts it now, but at {now:%Y-%m-%d %H:%M} UTC "
            "the policy defers it; plan again)"
        )
    else:
        detail = f"not submitted: {decision.reason}" if waited else decision.reason
    return InstanceResult(id=item.id, outcome=Outcome.DEFERRED, detail=detail, next_window=decision.next_window)


def export_files(export_dir: Path, instance_id: str) -> tuple[Path, Path]:
    """Where ``apply --export-dir`` writes an issued certificate and its key (0600)."""
    return export_dir / instance_id / "server.crt", export_dir / instance_id / "server.key"
