"""The executor's safety rules under a controlled clock, through the official SDK against the emulator."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.apply.audit import AuditLog, AuditWriteError
from rdsssl_reconcile.apply.executor import ApplySettings, Executor, InstanceResult, Outcome
from rdsssl_reconcile.apply.progress import PlainReporter
from rdsssl_reconcile.apply.waiting import Backoff
from rdsssl_reconcile.cli.runner import plan_specs
from rdsssl_reconcile.clock import Clock, SystemClock
from rdsssl_reconcile.cloud.session import Connection, connect
from rdsssl_reconcile.cloud.target import resolve_target
from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
from rdsssl_reconcile.errors import TransientCloudError
from rdsssl_reconcile.spec.loader import load_specs


class ManualClock:
    """Time moves only when the executor sleeps: minutes of retries pass instantly and exactly."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.elapsed = 0.0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.elapsed += seconds


SPEC = """\
instances:
  - id: pgm-a
    region: cn-hangzhou
    ssl: {{enabled: true, endpoints: [pgm-a.pg.rds.aliyuncs.com], certificate: {{source: aliyun}}}}
    policy: {policy}
"""


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with run_emulator({"instances": [{"id": "pgm-a", "region": "cn-hangzhou"}]}, restart_seconds=0.2) as running:
        yield running


def run_apply(
    emulator: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    policy: str,
    clock: Clock,
    on_modify: Any = None,
    audit: AuditLog | None = None,
    backoff: Backoff | None = None,
    executors: list[Executor] | None = None,
) -> tuple[InstanceResult, list[datetime]]:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    (tmp_path / "spec.yaml").write_text(SPEC.format(policy=policy), encoding="utf-8")
    specs = load_specs([tmp_path], now=clock.now())
    target = resolve_target(endpoint_option=emulator.endpoint, spec_paths=[tmp_path], environ={})
    attempts: list[datetime] = []
    with connect(target) as connection:
        plan = plan_specs(specs, connection, spec_paths=[tmp_path], parallelism=1, now=clock.now())
        executor = Executor(
            _Spy(connection, attempts, clock, lambda p: on_modify(executor, p) if on_modify else None),
            clock=clock,
            settings=ApplySettings(backoff=backoff or Backoff(initial=10.0, factor=1.0, maximum=10.0)),
            audit=audit or AuditLog(None),
            reporter=PlainReporter(),
            target={},
        )
        if executors is not None:
            executors.append(executor)
        (result,), _ = executor.run([(plan.instances[0], specs.instances[0])])
    return result, attempts


class _Spy:
    """The real SDK client, noting when each modify is sent."""

    def __init__(self, connection: Connection, attempts: list[datetime], clock: Clock, hook: Any) -> None:
        self._client = connection.client
        self._attempts = attempts
        self._clock = clock
        self._hook = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def modify_ssl(self, region_id: str, parameters: Mapping[str, str]) -> str:
        self._attempts.append(self._clock.now())
        self._hook(parameters)
        return self._client.modify_ssl(region_id, parameters)


def busy_forever(emulator: RunningEmulator) -> None:
    emulator.admin.add_fault(
        kind="error", action="ModifyDBInstanceSSL", status=403, code="IncorrectDBInstanceState", count=1000
    )


def test_window_is_checked_again_before_every_retry(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Busy" answers for a long time: the window 02:00-02:10 must not be overrun by a late acceptance.
    busy_forever(emulator)
    clock = ManualClock(datetime(2027, 1, 5, 2, 0, tzinfo=UTC))
    result, attempts = run_apply(
        emulator, tmp_path, monkeypatch, policy='{restart: window, window: "02:00-02:10"}', clock=clock
    )
    assert result.outcome is Outcome.DEFERRED, result
    assert "not submitted: maintenance window 02:00-02:10 UTC closes at 02:10 UTC" in result.detail
    # Every attempt left a full restart inside the window; none was accepted.
    assert attempts
    assert all(sent <= datetime(2027, 1, 5, 2, 7, tzinfo=UTC) for sent in attempts), attempts
    assert emulator.admin.modifications() == []


def test_interrupt_stops_retrying_a_refused_submission(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_forever(emulator)

    def interrupt_on_second_attempt(executor: Executor, _parameters: Any) -> None:
        if len(attempts) == 2:
            executor.stop_submitting.set()

    attempts: list[datetime] = []
    clock = ManualClock(datetime(2027, 1, 5, 2, 0, tzinfo=UTC))
    result, attempts_seen = run_apply(
        emulator,
        tmp_path,
        monkeypatch,
        policy="{restart: allowed}",
        clock=clock,
        on_modify=lambda executor, parameters: (
            attempts.append(clock.now()),
            interrupt_on_second_attempt(executor, parameters),
        ),
    )
    assert len(attempts_seen) == 2
    assert result.outcome is Outcome.NOT_SUBMITTED
    assert result.detail == "interrupted before submitting: not changed"
    assert emulator.admin.modifications() == []


class RecordingAudit(AuditLog):
    """An audit log in memory; ``fail_on`` outcomes raise as a full disk would (AuditWriteError is a UserError)."""

    def __init__(self, fail_on: frozenset[str] = frozenset()) -> None:
        super().__init__(None)
        self.records: list[dict[str, Any]] = []
        self.fail_on = fail_on

    def record(self, kind: str, *, time: datetime, **fields: Any) -> None:
        if fields.get("outcome") in self.fail_on:
            self.failures.append(f"the {kind} record of {fields.get('instance')} (outcome {fields.get('outcome')})")
            raise AuditWriteError("the audit log could not be written: No space left on device")
        self.records.append({"kind": kind, **fields})


def test_nothing_is_sent_when_the_sending_record_cannot_be_written(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = RecordingAudit(fail_on=frozenset({"sending"}))
    clock = ManualClock(datetime(2027, 1, 5, 2, 0, tzinfo=UTC))
    result, attempts = run_apply(emulator, tmp_path, monkeypatch, policy="{restart: allowed}", clock=clock, audit=audit)
    assert result.outcome is Outcome.FAILED
    assert result.detail == "not sent: the audit log could not be written"
    assert attempts == []
    assert emulator.admin.calls(action="ModifyDBInstanceSSL") == []


def test_a_failed_record_after_sending_does_not_abandon_the_change(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = RecordingAudit(fail_on=frozenset({"accepted"}))
    executors: list[Executor] = []
    result, _ = run_apply(
        emulator,
        tmp_path,
        monkeypatch,
        policy="{restart: allowed}",
        clock=SystemClock(),
        audit=audit,
        backoff=Backoff(initial=0.05, factor=1.0, maximum=0.05),
        executors=executors,
    )
    assert result.outcome is Outcome.APPLIED, result
    assert [r["outcome"] for r in audit.records] == ["sending", "applied"]
    assert audit.failures == ["the call record of pgm-a (outcome accepted)"]


def test_throttling_honours_retry_after_and_re_plans_before_each_attempt(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.admin.settings(restart_seconds=0)  # lands at once: the manual clock need not wait for it
    emulator.admin.add_fault(kind="throttle", action="ModifyDBInstanceSSL", count=2, retry_after_ms=7000)
    audit = RecordingAudit()
    clock = ManualClock(datetime(2027, 1, 5, 2, 0, tzinfo=UTC))
    emulator.admin.clear_calls()
    result, attempts = run_apply(emulator, tmp_path, monkeypatch, policy="{restart: allowed}", clock=clock, audit=audit)
    assert result.outcome is Outcome.APPLIED, result
    assert len(attempts) == 3
    for before, after in itertools.pairwise(attempts):
        assert (after - before).total_seconds() >= 7.0  # the server's hint, not the 10 s poll or less
    calls = [r["outcome"] for r in audit.records if r["kind"] == "call"]
    assert calls == ["sending", "throttled:Throttling.User"] * 2 + ["sending", "accepted"]
    actions = [c["action"] for c in emulator.admin.calls()]
    modifies = [i for i, action in enumerate(actions) if action == "ModifyDBInstanceSSL"]
    for before, after in itertools.pairwise(modifies):
        assert "DescribeDBInstances" in actions[before + 1 : after]  # a fresh read and re-plan in between


def test_a_change_made_by_another_run_meanwhile_is_reported_already_in_sync(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Right before our first attempt, another run (another machine) sends the same change. Ours is
    # answered "busy"; after the restart the re-plan finds nothing left to do, and nothing more is sent.
    audit = RecordingAudit()
    other: list[str] = []
    # The other run's restart must still be going on when ours is sent, even on a loaded machine.
    emulator.admin.settings(restart_seconds=2.0)

    def other_run_first(executor: Executor, parameters: Any) -> None:
        if not other:
            other.append(executor.client._client.modify_ssl("cn-hangzhou", dict(parameters)))  # type: ignore[attr-defined]

    result, attempts = run_apply(
        emulator,
        tmp_path,
        monkeypatch,
        policy="{restart: allowed}",
        clock=SystemClock(),
        audit=audit,
        backoff=Backoff(initial=0.05, factor=1.0, maximum=0.05),
        on_modify=other_run_first,
    )
    assert result.outcome is Outcome.ALREADY_IN_SYNC, result
    assert "nothing sent after busy:IncorrectDBSslStatus" in result.detail
    assert len(attempts) == 1
    assert [m["request_id"] for m in emulator.admin.modifications()] == other
    assert [r["outcome"] for r in audit.records] == ["sending", "busy:IncorrectDBSslStatus", "already_in_sync"]


def test_a_refused_connection_is_retried_after_a_re_plan_not_watched_as_maybe_accepted(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A refused TCP connection never carried the request: it is retried (once the instance was re-read
    # and re-planned), not watched for up to the instance timeout as a change that might still land.
    audit = RecordingAudit()
    refused: list[str] = []

    def refuse_once(executor: Executor, parameters: Any) -> None:
        if not refused:
            refused.append("x")
            raise TransientCloudError(
                "the connection was refused", code="ConnectionRefused", action="ModifyDBInstanceSSL"
            )

    result, attempts = run_apply(
        emulator,
        tmp_path,
        monkeypatch,
        policy="{restart: allowed}",
        clock=SystemClock(),
        audit=audit,
        backoff=Backoff(initial=0.05, factor=1.0, maximum=0.05),
        on_modify=refuse_once,
    )
    assert result.outcome is Outcome.APPLIED, result
    assert len(attempts) == 2
    assert len(emulator.admin.modifications()) == 1
    assert [r["outcome"] for r in audit.records] == [
        "sending",
        "not_sent:ConnectionRefused",
        "sending",
        "accepted",
        "applied",
    ]
