"""The executor's safety rules under a controlled clock, through the official SDK against the emulator."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.apply.audit import AuditLog
from rdsssl_reconcile.apply.executor import ApplySettings, Executor, InstanceResult, Outcome
from rdsssl_reconcile.apply.progress import PlainReporter
from rdsssl_reconcile.apply.waiting import Backoff
from rdsssl_reconcile.cli.runner import plan_specs
from rdsssl_reconcile.cloud.session import Connection, connect
from rdsssl_reconcile.cloud.target import resolve_target
from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
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
    clock: ManualClock,
    on_modify: Any = None,
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
            _Spy(connection, attempts, clock, lambda: on_modify(executor) if on_modify else None),
            clock=clock,
            settings=ApplySettings(backoff=Backoff(initial=10.0, factor=1.0, maximum=10.0)),
            audit=AuditLog(None),
            reporter=PlainReporter(),
            target={},
        )
        (result,), _ = executor.run([(plan.instances[0], specs.instances[0])])
    return result, attempts


class _Spy:
    """The real SDK client, noting when each modify is sent."""

    def __init__(self, connection: Connection, attempts: list[datetime], clock: ManualClock, hook: Any) -> None:
        self._client = connection.client
        self._attempts = attempts
        self._clock = clock
        self._hook = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def modify_ssl(self, region_id: str, parameters: Mapping[str, str]) -> str:
        self._attempts.append(self._clock.now())
        self._hook()
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

    def interrupt_on_second_attempt(executor: Executor) -> None:
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
        on_modify=lambda executor: (attempts.append(clock.now()), interrupt_on_second_attempt(executor)),
    )
    assert len(attempts_seen) == 2
    assert result.outcome is Outcome.SKIPPED
    assert result.detail == "interrupted before submitting: not changed"
    assert emulator.admin.modifications() == []
