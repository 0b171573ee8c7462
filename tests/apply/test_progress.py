"""Apply progress: heartbeats on a steady schedule, timestamps on every line, JSON lines, the live table.

The line reporters are driven with a fake clock and :meth:`tick` (what the timer thread calls), so a
minute of restart takes no time; one test runs the real timer thread to show that heartbeats need no
poll, and that ``close`` stops them.
"""

from __future__ import annotations

import io
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from rdsssl_reconcile.apply.executor import InstanceResult, Outcome
from rdsssl_reconcile.apply.progress import (
    HEARTBEAT_SECONDS,
    JsonReporter,
    LiveReporter,
    PlainReporter,
    approximate,
    choose_mode,
    duration,
    open_reporter,
)
from rdsssl_reconcile.cli.runner import report_retry
from rdsssl_reconcile.errors import PermanentCloudError, TransientCloudError, UserError

START = datetime(2026, 12, 1, 21, 39, 0, tzinfo=UTC)
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")
HOSTILE = "evil\x1b[2A\n\u202escript"


class FakeClock:
    """Wall clock and monotonic clock moving together, only when told."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> datetime:
        return START + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += seconds


def run_for(reporter: PlainReporter | JsonReporter, clock: FakeClock, seconds: int, step: float = 1.0) -> None:
    """Let ``seconds`` pass, with the timer's tick after every ``step``."""
    for _ in range(int(seconds / step)):
        clock.sleep(step)
        reporter.tick()


def lines_of(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


# -- the heartbeat --------------------------------------------------------------------------------------


def test_a_sixty_second_restart_beats_every_interval_with_the_plans_estimate() -> None:
    clock, stream = FakeClock(), io.StringIO()
    reporter = PlainReporter(stream, clock=clock, heartbeat=False)
    reporter.phase("pgm-x", "restarting", "SSLModifying, LastModifyStatus setting", expected_seconds=180)
    run_for(reporter, clock, 60, step=0.5)
    reporter.finished(InstanceResult(id="pgm-x", outcome=Outcome.APPLIED, detail="converged"))
    run_for(reporter, clock, 30)  # nothing after the result
    lines = lines_of(stream)
    assert lines[0] == "2026-12-01T21:39:00Z pgm-x: restarting: SSLModifying, LastModifyStatus setting"
    beats = [line for line in lines if "still" in line]
    assert beats == [
        f"2026-12-01T21:39:{s:02d}Z pgm-x: still restarting... [{s}s elapsed, ~3m expected]" for s in (10, 20, 30)
    ] + [f"2026-12-01T21:39:{s:02d}Z pgm-x: still restarting... [{s}s elapsed, ~3m expected]" for s in (40, 50)] + [
        "2026-12-01T21:40:00Z pgm-x: still restarting... [1m0s elapsed, ~3m expected]"
    ]
    assert lines[-1] == "2026-12-01T21:40:00Z pgm-x: applied: converged"
    assert all(STAMP.match(line) for line in lines)


def test_the_expected_duration_is_the_plan_items_not_a_constant() -> None:
    clock, stream = FakeClock(), io.StringIO()
    reporter = PlainReporter(stream, clock=clock, heartbeat=False)
    reporter.phase("pgm-acl", "restarting", "busy", expected_seconds=60)
    reporter.phase("pgm-odd", "restarting", "busy", expected_seconds=95)
    reporter.phase("pgm-none", "restarting", "busy")  # a change without a restart estimate
    run_for(reporter, clock, 10)
    beats = lines_of(stream)[3:]
    assert beats == [
        "2026-12-01T21:39:10Z pgm-acl: still restarting... [10s elapsed, ~1m expected]",
        "2026-12-01T21:39:10Z pgm-odd: still restarting... [10s elapsed, ~1m35s expected]",
        "2026-12-01T21:39:10Z pgm-none: still restarting... [10s elapsed]",
    ]


@pytest.mark.parametrize("interval", [HEARTBEAT_SECONDS, 15.0, 4.0])
def test_acceptance_a_heartbeat_at_least_every_15_seconds_between_sparse_polls(interval: float) -> None:
    """Polls back off to 15 s and may be sparser; the heartbeat does not wait for them."""
    clock, stream = FakeClock(), io.StringIO()
    reporter = PlainReporter(stream, clock=clock, interval=interval, heartbeat=False)
    poll_at = {0.0, 2.0, 5.0, 9.5, 16.25, 26.375, 41.5, 56.5}  # the default backoff: 2 s growing 1.5x
    for tenth in range(601):
        now = tenth / 10
        clock.offset = now
        if now in poll_at:
            reporter.phase("pgm-x", "restarting", f"SSLModifying (poll at {now})", expected_seconds=180)
        reporter.tick()
    seconds = [_seconds(line) for line in lines_of(stream) if "still restarting" in line]
    gaps = [b - a for a, b in zip([0, *seconds], seconds, strict=False)]
    assert seconds
    assert max(gaps) <= 15, seconds
    assert 60 - seconds[-1] <= 15, seconds


def _seconds(line: str) -> int:
    stamp = datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return round((stamp - START).total_seconds())


def test_a_new_phase_restarts_the_schedule_and_repeated_polls_print_once() -> None:
    clock, stream = FakeClock(), io.StringIO()
    reporter = PlainReporter(stream, clock=clock, heartbeat=False)
    reporter.phase("pgm-x", "queued", "waiting for a restart slot")
    run_for(reporter, clock, 14)
    reporter.phase("pgm-x", "waiting", "instance busy with another change")
    for _ in range(5):
        reporter.phase("pgm-x", "waiting", "instance busy with another change")  # polls saying nothing new
    run_for(reporter, clock, 9)
    reporter.phase("pgm-x", "waiting", "throttled (Throttling.User); retrying in 1.3s")  # news: printed
    run_for(reporter, clock, 1)
    texts = [line.split(" ", 1)[1] for line in lines_of(stream)]
    assert texts == [
        "pgm-x: queued: waiting for a restart slot",
        "pgm-x: still queued... [10s elapsed]",
        "pgm-x: waiting: instance busy with another change",
        "pgm-x: waiting: throttled (Throttling.User); retrying in 1.3s",
        "pgm-x: still waiting... [10s elapsed]",  # the detail changed, the phase did not: same schedule
    ]


def test_the_timer_thread_beats_without_polls_and_close_stops_it() -> None:
    stream = io.StringIO()
    reporter = PlainReporter(stream, interval=0.05)
    reporter.start(["pgm-x"])
    reporter.phase("pgm-x", "restarting", "SSLModifying", expected_seconds=180)
    deadline = time.monotonic() + 10
    while stream.getvalue().count("still restarting") < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    reporter.close()
    after_close = stream.getvalue()
    time.sleep(0.2)
    assert after_close.count("still restarting") >= 3
    assert stream.getvalue() == after_close
    assert all(STAMP.match(line) for line in after_close.splitlines())


def test_heartbeat_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval must be > 0"):
        PlainReporter(io.StringIO(), interval=0)


@pytest.mark.parametrize(
    ("seconds", "elapsed", "estimate"),
    [(0, "0s", "0s"), (45.9, "45s", "46s"), (60, "1m0s", "1m"), (90, "1m30s", "1m30s"), (180, "3m0s", "3m"),
     (3723, "1h2m3s", "1h2m3s"), (3600, "1h0m0s", "1h")],
)  # fmt: skip
def test_durations_read_like_terraforms(seconds: float, elapsed: str, estimate: str) -> None:
    assert duration(seconds) == elapsed
    assert approximate(seconds) == estimate


# -- timestamps, retries, escaping ------------------------------------------------------------------------


def test_retry_lines_carry_a_timestamp(capsys: pytest.CaptureFixture[str]) -> None:
    error = TransientCloudError("503", code="ServiceUnavailable", action="DescribeDBInstances")
    report_retry(error, 1, 1.5)  # plan and every other command
    clock, stream = FakeClock(), io.StringIO()
    PlainReporter(stream, clock=clock, heartbeat=False).retry(error, 1, 1.5)  # apply
    expected = "retrying DescribeDBInstances after ServiceUnavailable (attempt 2, in 1.5s)"
    printed = capsys.readouterr().err.rstrip("\n")
    assert STAMP.match(printed), printed
    assert printed.endswith(" " + expected), printed
    assert stream.getvalue() == f"2026-12-01T21:39:00Z {expected}\n"


def test_plain_lines_escape_ids_and_details() -> None:
    clock, stream = FakeClock(), io.StringIO()
    reporter = PlainReporter(stream, clock=clock, heartbeat=False)
    reporter.phase(HOSTILE, HOSTILE, HOSTILE, expected_seconds=180)
    run_for(reporter, clock, 10)
    reporter.message(HOSTILE, instance_id=HOSTILE)
    reporter.finished(InstanceResult(id=HOSTILE, outcome=Outcome.FAILED, detail=HOSTILE))
    reporter.retry(TransientCloudError(HOSTILE, code=HOSTILE, action=HOSTILE), 0, 1)
    text = stream.getvalue()
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert len(text.splitlines()) == 5  # the newline inside each value forged no line
    assert "evil\\x1b[2A\\n\\u202escript: still evil\\x1b[2A\\n\\u202escript... [10s elapsed" in text


# -- JSON lines ---------------------------------------------------------------------------------------------

INSTANCE_KEYS = {"time", "event", "instance", "phase", "detail", "elapsed_seconds", "expected_seconds", "outcome"}


def test_json_progress_parses_line_by_line_with_the_documented_fields() -> None:
    clock, stream = FakeClock(), io.StringIO()
    reporter = JsonReporter(stream, clock=clock, heartbeat=False)
    reporter.retry(TransientCloudError("503", code="ServiceUnavailable", action="DescribeDBInstances"), 1, 1.25)
    reporter.message("Interrupted.", instance_id=None)
    reporter.phase("pgm-x", "submitting", "ModifyDBInstanceSSL")
    clock.sleep(0.4)
    reporter.phase("pgm-x", "restarting", HOSTILE, expected_seconds=60)
    run_for(reporter, clock, 20)
    reporter.finished(InstanceResult(id="pgm-x", outcome=Outcome.APPLIED, detail="converged", elapsed_seconds=20.44))
    reporter.error(UserError("--target pgm-y: not declared"))
    reporter.error(PermanentCloudError("denied", code="Forbidden.RAM", action="ModifyDBInstanceSSL", request_id="R-1"))
    text = stream.getvalue()
    assert text.isascii()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert [r["event"] for r in records] == [
        "retry", "message", "phase", "phase", "heartbeat", "heartbeat", "finished", "error", "error",
    ]  # fmt: skip
    assert all(r["time"] == (START + timedelta(seconds=0)).strftime("%Y-%m-%dT%H:%M:%SZ") for r in records[:3])
    assert records[0] == {
        "time": "2026-12-01T21:39:00Z",
        "event": "retry",
        "action": "DescribeDBInstances",
        "code": "ServiceUnavailable",
        "attempt": 2,
        "delay_seconds": 1.2,
        "message": "retrying DescribeDBInstances after ServiceUnavailable (attempt 2, in 1.2s)",
    }
    assert records[1] == {
        "time": "2026-12-01T21:39:00Z",
        "event": "message",
        "instance": None,
        "message": "Interrupted.",
    }
    for record in records[2:7]:
        assert set(record) == INSTANCE_KEYS
    restarting, beat = records[3], records[5]
    assert restarting["detail"] == HOSTILE  # exact, escaped only by json.dumps
    assert (restarting["phase"], restarting["elapsed_seconds"], restarting["expected_seconds"]) == ("restarting", 0, 60)
    assert (beat["time"], beat["elapsed_seconds"], beat["expected_seconds"]) == ("2026-12-01T21:39:20Z", 20.0, 60)
    assert records[6] == {
        "time": "2026-12-01T21:39:20Z",
        "event": "finished",
        "instance": "pgm-x",
        "phase": "finished",
        "detail": "converged",
        "elapsed_seconds": 20.4,
        "expected_seconds": 60,
        "outcome": "applied",
    }
    assert records[7]["message"] == "--target pgm-y: not declared"
    assert records[8] | {"time": None} == {
        "time": None,
        "event": "error",
        "message": "ModifyDBInstanceSSL failed: Forbidden.RAM: denied",
        "action": "ModifyDBInstanceSSL",
        "code": "Forbidden.RAM",
        "request_id": "R-1",
    }


# -- choosing, and the live table ----------------------------------------------------------------------------


def test_auto_is_live_on_a_terminal_and_plain_otherwise() -> None:
    assert choose_mode("auto", terminal=True) == "live"
    assert choose_mode("auto", terminal=False) == "plain"
    for explicit in ("plain", "live", "json"):
        assert choose_mode(explicit, terminal=True) == choose_mode(explicit, terminal=False) == explicit
    clock = FakeClock()
    assert isinstance(open_reporter("json", clock=clock), JsonReporter)
    assert isinstance(open_reporter("plain", clock=clock), PlainReporter)
    assert isinstance(open_reporter("live", clock=clock), LiveReporter)


def _live_output(monkeypatch: pytest.MonkeyPatch, no_color: str | None) -> str:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    output = io.StringIO()
    clock = FakeClock()
    reporter = LiveReporter(Console(file=output, force_terminal=True, width=200), clock=clock)
    reporter.start(["pgm-a", "pgm-b"])
    reporter.phase("pgm-a", "restarting", "SSLModifying", expected_seconds=180)
    clock.sleep(65)
    reporter._live.refresh()  # type: ignore[union-attr]  # what the refresh thread does 4 times a second
    reporter.finished(InstanceResult(id="pgm-b", outcome=Outcome.FAILED, detail="refused"))
    reporter.close()
    return output.getvalue()


COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-9]|9[0-7]|38;)[0-9;]*m")


def test_live_table_ticks_between_polls_and_colours_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    output = _live_output(monkeypatch, None)
    assert "1:05 / ~3:00" in output  # the elapsed time moved without a phase call
    assert COLOUR.search(output), "the failed outcome should be red"


def test_live_table_has_no_colour_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    output = _live_output(monkeypatch, "1")
    assert "1:05 / ~3:00" in output
    assert "refused" in output
    assert not COLOUR.search(output)
    monkeypatch.setenv("NO_COLOR", "1")
    assert LiveReporter().console.no_color  # the console the CLI gets honours NO_COLOR too
    assert LiveReporter(color=False).console.no_color


def test_a_closed_stream_ends_the_timer_quietly() -> None:
    stream = io.StringIO()
    reporter = PlainReporter(stream, interval=0.02)
    reporter.start(["pgm-x"])
    reporter.phase("pgm-x", "restarting", "SSLModifying")
    stream.close()  # stderr gone (a closed pipe): the next heartbeat cannot be written
    thread = reporter._thread
    assert thread is not None
    thread.join(timeout=5)
    assert not thread.is_alive()
    reporter.close()
