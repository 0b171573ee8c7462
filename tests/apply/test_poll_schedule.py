"""The restart wait's poll schedule, the worker pool and the restart expectation: pure functions."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.apply.executor import _CallGate, worker_count
from rdsssl_reconcile.apply.poll_schedule import (
    PollSchedule,
    default_dense,
    learned_expectation,
    restart_scale,
)
from rdsssl_reconcile.cloud.target import EmbeddedEmulatorConfig, Target


def first_poll_at_or_after(schedule: PollSchedule, end: float) -> float:
    return next(t for t in schedule.times(until=10 * end + 600) if t >= end)


@pytest.mark.parametrize("expected", [20.0, 60.0, 180.0, 600.0])
def test_a_restart_that_ends_when_expected_is_seen_within_the_dense_interval(expected: float) -> None:
    schedule = PollSchedule.for_restart(expected)
    for actual in (expected * 0.95, expected, expected * 1.1, expected * 1.2):
        late = first_poll_at_or_after(schedule, actual) - actual
        assert late <= schedule.dense + 1e-9, (actual, late)
    assert schedule.dense == default_dense(expected) <= 0.01 * expected + 0.25


@pytest.mark.parametrize("expected", [20.0, 180.0])
def test_polls_are_sparse_before_the_expected_end(expected: float) -> None:
    schedule = PollSchedule.for_restart(expected)
    start, _ = schedule.window
    early = [t for t in schedule.times(until=start) if t < start]
    dense = [t for t in schedule.times(until=expected) if start <= t <= expected]
    # The first 90% of the restart costs fewer polls than the last 10%, and the gaps grow.
    assert len(early) < len(dense) + 12
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(early)]
    assert gaps == sorted(gaps)
    assert max(gaps) > 5 * schedule.dense


@pytest.mark.parametrize("actual", [1.0, 5.0, 20.0, 60.0])
def test_a_wrong_estimate_costs_at_most_a_quarter_of_the_real_duration(actual: float) -> None:
    # Expected 3 minutes, the restart really took much less (an emulator, a fast instance).
    schedule = PollSchedule.for_restart(180.0)
    late = first_poll_at_or_after(schedule, actual) - actual
    assert late <= max(schedule.growth * actual, schedule.dense) + 1e-9


def test_after_the_window_polls_slow_down_to_the_late_cap() -> None:
    schedule = PollSchedule.for_restart(180.0)
    _, end = schedule.window
    assert schedule.delay(end - 0.01) == schedule.dense
    delays = [schedule.delay(end + d) for d in (0, 10, 60, 600, 6000)]
    assert delays == sorted(delays)
    assert delays[0] == pytest.approx(schedule.dense)
    assert delays[-1] == schedule.late_cap


def test_poll_interval_sets_the_dense_interval_and_the_first_delay() -> None:
    schedule = PollSchedule.for_restart(180.0, dense=0.05)
    assert schedule.delay(0) == 0.05
    assert schedule.delay(170) == 0.05


def test_no_expectation_grows_relative_to_elapsed_time() -> None:
    schedule = PollSchedule.for_restart(0.0, dense=0.5)
    assert schedule.delay(0) == 0.5
    assert schedule.delay(40) == pytest.approx(10)
    assert schedule.delay(4000) == schedule.late_cap


def test_calls_per_three_minute_restart_stay_few() -> None:
    schedule = PollSchedule.for_restart(180.0)
    assert len(schedule.times(until=181)) <= 30


def test_invalid_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid poll schedule"):
        PollSchedule(expected=10, dense=0)
    with pytest.raises(ValueError, match="invalid poll schedule"):
        PollSchedule(expected=-1, dense=1)


def test_learned_expectation_is_the_median_ratio() -> None:
    assert learned_expectation(180, []) == 180
    assert learned_expectation(180, [0.1, 0.12, 5.0]) == pytest.approx(180 * 0.12)
    assert learned_expectation(60, [0.5]) == pytest.approx(30)
    assert learned_expectation(0, [0.5]) == 0


@pytest.mark.parametrize(
    ("parallelism", "max_restarts", "workers"),
    [(8, 1, 8), (8, 20, 20), (1, 4, 4), (32, 4, 32), (1, 1, 1)],
)
def test_the_pool_holds_every_allowed_restart(parallelism: int, max_restarts: int, workers: int) -> None:
    assert worker_count(parallelism, max_restarts) == workers


def test_restart_scale_follows_the_embedded_emulator_only(tmp_path: Path) -> None:
    embedded = EmbeddedEmulatorConfig(config_file=tmp_path / "t", fleet=tmp_path / "f", state=None, restart_seconds=20)
    assert restart_scale(Target(kind="embedded-emulator", endpoint=None, source="x", embedded=embedded)) == 20 / 180
    assert restart_scale(Target(kind="emulator", endpoint="http://127.0.0.1:1", source="x")) == 1.0
    assert restart_scale(Target(kind="alibaba-cloud", endpoint=None, source="x")) == 1.0


class _SlowClient:
    """Counts the calls in flight at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = 0

    def describe_ssl(self, region_id: str, instance_id: str) -> dict[str, Any]:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.05)
        with self.lock:
            self.now -= 1
        return {}


def test_api_calls_keep_to_parallelism_while_more_instances_run() -> None:
    inner = _SlowClient()
    gate = _CallGate(inner, 3)  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=worker_count(3, 10)) as pool:
        list(pool.map(lambda i: gate.describe_ssl("r", f"i{i}"), range(20)))
    assert inner.peak == 3


def test_expected_restart_overrides_every_target() -> None:
    # --expected-restart is how long a certificate restart (a 3-minute row) takes: rows scale with it.
    assert restart_scale(Target(kind="alibaba-cloud", endpoint=None, source="x"), 90.0) == 0.5
