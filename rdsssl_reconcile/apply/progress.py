"""Progress of an apply, on stderr: a live table, timestamped lines, or one JSON object per line.

All three write to stderr so ``apply --format json`` keeps stdout machine-readable. ``--progress``
chooses (:func:`choose_mode`): ``live`` (a table refreshed in place, terminals only), ``plain``
(timestamped lines, for CI logs and pipes), ``json`` (JSON lines, for a pipeline), ``auto`` (live on a
terminal, plain otherwise).

Why a heartbeat: a restart takes minutes and, without a terminal, a phase change is the only thing
worth a line, so a CI log used to go silent between "submitted" and "applied" (Terraform prints
``Still modifying... [1m0s elapsed]``). The line reporters therefore print, for every instance still in
progress, a heartbeat every :data:`HEARTBEAT_SECONDS` of its current phase, from a timer thread of their
own: polls back off to 15 s and may be sparser (a slow API, a long ``--timeout``), so the heartbeat
must not wait for them. A restarting instance's heartbeat compares the elapsed time with the plan
item's restart estimate (``restart.estimated_seconds``), which the executor passes along.

Every line carries a UTC timestamp from the tool's clock (the one the audit log uses, so ``--now``
moves both). Nothing here ever sees key material: reporters receive phases and sentences only. Ids and
details (which quote API answers and certificate subjects) are shown through
:func:`~rdsssl_reconcile.textsafe.visible` in text; JSON keeps them exact with ``json.dumps``'s ASCII
escaping. rich drops only a few control characters (BEL, BS, CR) and lets ESC through, so the live table
escapes too.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from rdsssl_reconcile.apply.executor import InstanceResult, Outcome
from rdsssl_reconcile.apply.waiting import mmss
from rdsssl_reconcile.clock import Clock, SystemClock
from rdsssl_reconcile.errors import CloudError, TransientCloudError, UserError
from rdsssl_reconcile.textsafe import visible

#: Seconds between two heartbeats of an instance in one phase (Terraform's "Still ..." interval).
HEARTBEAT_SECONDS = 10.0

#: The ``--progress`` choices; ``auto`` is resolved by :func:`choose_mode`.
MODES = ("auto", "plain", "live", "json")


def choose_mode(requested: str, *, terminal: bool) -> str:
    """``auto`` is the live table on a terminal and plain lines otherwise; an explicit choice is kept."""
    if requested == "auto":
        return "live" if terminal else "plain"
    return requested


def stamp(clock: Clock) -> str:
    """The timestamp every progress line starts with: UTC, to the second (``2026-12-01T21:40:00Z``)."""
    return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float) -> str:
    """Elapsed time the way Terraform shows it: ``45s``, ``1m0s``, ``1h2m3s`` (whole seconds, rounded down)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def approximate(seconds: float) -> str:
    """An estimate without its zero parts: ``3m``, ``1m30s``, ``45s``, ``1h``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if value]
    return "".join(parts) or "0s"


@dataclass(slots=True)
class _Progress:
    """Where one instance is: its phase, since when (monotonic), and when its next heartbeat is due."""

    phase: str
    detail: str
    since: float
    expected: float | None
    next_heartbeat: float


class _LineReporter:
    """What the plain and JSON reporters share: per-instance state and the heartbeat timer.

    :meth:`start` starts the timer thread unless ``heartbeat=False``: tests pass that with a fake clock
    and call :meth:`tick` themselves, so a minute of restart takes no time. Before :meth:`start` (while
    the plan is made: retries, lock waits) there is nothing to beat for.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        clock: Clock | None = None,
        interval: float = HEARTBEAT_SECONDS,
        heartbeat: bool = True,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be > 0 (got {interval!r})")
        self.stream = stream or sys.stderr
        self.clock = clock or SystemClock()
        self.interval = interval
        self._lock = threading.RLock()
        self._active: dict[str, _Progress] = {}
        self._last: dict[str, tuple[str, str]] = {}
        self._stopped = threading.Event()
        self._heartbeat = heartbeat
        self._thread: threading.Thread | None = None

    # -- what the executor and the CLI call ---------------------------------------------------------------

    def start(self, instance_ids: list[str]) -> None:
        """The run starts: from now on, instances in progress get their heartbeat."""
        if self._heartbeat and self._thread is None and not self._stopped.is_set():
            self._thread = threading.Thread(target=self._beat, name="rdsssl-progress", daemon=True)
            self._thread.start()

    def phase(self, instance_id: str, phase: str, detail: str = "", *, expected_seconds: float | None = None) -> None:
        now = self.clock.monotonic()
        with self._lock:
            current = self._active.get(instance_id)
            if current is None or current.phase != phase:
                current = _Progress(phase, detail, now, expected_seconds, now + self.interval)
                self._active[instance_id] = current
            else:
                current.detail = detail
                current.expected = expected_seconds if expected_seconds is not None else current.expected
            # Polls repeat the same phase every few seconds: a line when it says something new (a
            # parenthesised tail, such as a retry delay, is not news); the heartbeat covers the rest.
            key = (phase, detail.split(" (")[0])
            if self._last.get(instance_id) == key:
                return
            self._last[instance_id] = key
            self._phase_line(instance_id, current, now - current.since)

    def finished(self, result: InstanceResult) -> None:
        with self._lock:
            progress = self._active.pop(result.id, None)
            self._last.pop(result.id, None)
            self._finished_line(result, progress.expected if progress else None)

    def message(self, text: str, *, instance_id: str | None = None) -> None:
        with self._lock:
            self._message_line(text, instance_id)

    def retry(self, error: TransientCloudError, attempt: int, delay: float) -> None:
        """An API call is retried (the SDK layer's ``on_retry``): ``attempt`` calls have failed so far."""
        with self._lock:
            self._retry_line(error, attempt + 1, delay)

    def tick(self) -> None:
        """Write every heartbeat that is due now (the timer thread calls this; tests too)."""
        now = self.clock.monotonic()
        with self._lock:
            for instance_id, progress in self._active.items():
                if now >= progress.next_heartbeat:
                    self._heartbeat_line(instance_id, progress, now - progress.since)
                    while progress.next_heartbeat <= now:
                        progress.next_heartbeat += self.interval

    def close(self) -> None:
        """Stop the timer; nothing is written after this returns."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the timer ----------------------------------------------------------------------------------------

    def _beat(self) -> None:
        while True:
            with self._lock:
                dues = [p.next_heartbeat for p in self._active.values()]
            wait = min(dues, default=self.clock.monotonic() + self.interval) - self.clock.monotonic()
            # Never longer than one interval: a phase that starts meanwhile is due one interval after it.
            if self._stopped.wait(min(max(wait, 0.0), self.interval)):
                return
            try:
                self.tick()
            except (OSError, ValueError):  # stderr closed or a broken pipe: nobody is reading heartbeats
                return

    # -- formats (subclasses) ---------------------------------------------------------------------------------

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def _phase_line(self, instance_id: str, progress: _Progress, elapsed: float) -> None:
        raise NotImplementedError

    def _heartbeat_line(self, instance_id: str, progress: _Progress, elapsed: float) -> None:
        raise NotImplementedError

    def _finished_line(self, result: InstanceResult, expected: float | None) -> None:
        raise NotImplementedError

    def _message_line(self, text: str, instance_id: str | None) -> None:
        raise NotImplementedError

    def _retry_line(self, error: TransientCloudError, attempt: int, delay: float) -> None:
        raise NotImplementedError


def retry_text(error: TransientCloudError, attempt: int, delay: float) -> str:
    """``retrying DescribeDBInstances after ServiceUnavailable (attempt 2, in 1.0s)``: the attempt about to be made."""
    return f"retrying {visible(error.action)} after {visible(error.code)} (attempt {attempt}, in {delay:.1f}s)"


class PlainReporter(_LineReporter):
    """Timestamped lines: one per phase change, a heartbeat per instance in progress, one per result.

    ``2026-12-01T21:40:00Z pgm-x: still restarting... [1m0s elapsed, ~3m expected]``
    """

    def _line(self, text: str) -> None:
        self._write(f"{stamp(self.clock)} {text}")

    def _phase_line(self, instance_id: str, progress: _Progress, elapsed: float) -> None:
        detail = f": {visible(progress.detail)}" if progress.detail else ""
        self._line(f"{visible(instance_id)}: {visible(progress.phase)}{detail}")

    def _heartbeat_line(self, instance_id: str, progress: _Progress, elapsed: float) -> None:
        expected = f", ~{approximate(progress.expected)} expected" if progress.expected else ""
        self._line(
            f"{visible(instance_id)}: still {visible(progress.phase)}... [{duration(elapsed)} elapsed{expected}]"
        )

    def _finished_line(self, result: InstanceResult, expected: float | None) -> None:
        self._line(f"{visible(result.id)}: {result.outcome.value}: {visible(result.detail)}")

    def _message_line(self, text: str, instance_id: str | None) -> None:
        self._line(f"{visible(instance_id)}: {visible(text)}" if instance_id else visible(text))

    def _retry_line(self, error: TransientCloudError, attempt: int, delay: float) -> None:
        self._line(retry_text(error, attempt, delay))


class JsonReporter(_LineReporter):
    """One JSON object per line (``--progress json``), every one with the same keys for its ``event``.

    ``phase``, ``heartbeat`` and ``finished`` lines: ``time``, ``event``, ``instance``, ``phase``,
    ``detail``, ``elapsed_seconds`` (in the current phase; for ``finished``, the instance's whole run),
    ``expected_seconds`` (the plan's restart estimate while restarting, else null), ``outcome`` (null but
    on ``finished``). ``message`` lines: ``time``, ``event``, ``instance`` (or null), ``message``.
    ``retry`` lines: ``time``, ``event``, ``action``, ``code``, ``attempt`` (the attempt about to be made:
    the first retry is 2), ``delay_seconds``,
    ``message``. ``error`` lines (the error that ends the command, exit 1): ``time``, ``event``,
    ``message``, and for an API error ``action``, ``code``, ``request_id``. Strings are exact; ``json.dumps`` writes control and non-ASCII characters as ``\\uXXXX``.
    """

    def _emit(self, event: str, **fields: Any) -> None:
        self._write(json.dumps({"time": stamp(self.clock), "event": event, **fields}))

    def _instance(self, event: str, instance_id: str, progress: _Progress, elapsed: float) -> None:
        self._emit(
            event,
            instance=instance_id,
            phase=progress.phase,
            detail=progress.detail,
            elapsed_seconds=round(elapsed, 1),
            expected_seconds=progress.expected,
            outcome=None,
        )

    def _phase_line(self, instance_id: str, progress: _Progress, elapsed: float) -> None:
        self._instance("phase", instance_id, progress, elapsed)

    def _heartbeat_line(self, instance_id: str, progress: _Progress, elapsed: float) -> None:
        self._instance("heartbeat", instance_id, progress, elapsed)

    def _finished_line(self, result: InstanceResult, expected: float | None) -> None:
        self._emit(
            "finished",
            instance=result.id,
            phase="finished",
            detail=result.detail,
            elapsed_seconds=round(result.elapsed_seconds, 1),
            expected_seconds=expected,
            outcome=result.outcome.value,
        )

    def _message_line(self, text: str, instance_id: str | None) -> None:
        self._emit("message", instance=instance_id, message=text)

    def error(self, error: UserError | CloudError) -> None:
        """The error that ends the command: ``message`` as the text output says it, API errors with their fields."""
        if isinstance(error, CloudError):
            fields = {"action": error.action, "code": error.code, "request_id": error.request_id}
            text = f"{error.action} failed: {error.code}: {error.message}"
            with self._lock:
                self._emit("error", message=text, **fields)
            return
        with self._lock:
            self._emit("error", message=str(error))

    def _retry_line(self, error: TransientCloudError, attempt: int, delay: float) -> None:
        self._emit(
            "retry",
            action=error.action,
            code=error.code,
            attempt=attempt,
            delay_seconds=round(delay, 1),
            message=f"retrying {error.action} after {error.code} (attempt {attempt}, in {delay:.1f}s)",
        )


_OUTCOME_STYLE = {
    Outcome.APPLIED: "green",
    Outcome.ALREADY_IN_SYNC: "green",
    Outcome.UNKNOWN: "yellow",
    Outcome.DEFERRED: "yellow",
    Outcome.FAILED: "red",
    Outcome.NOT_CONVERGED: "red",
    Outcome.NOTHING_TO_DO: "dim",
    Outcome.NOT_SUBMITTED: "yellow",
}


@dataclass(slots=True)
class _Row:
    phase: str
    detail: str
    since: float | None = None  # monotonic start of the phase; None once finished
    expected: float | None = None
    style: str = ""


class LiveReporter:
    """A table refreshed in place while the apply runs (terminals only).

    The table is drawn from :meth:`start` (after the confirmation prompt) to :meth:`close`; each row's
    elapsed time ticks with every refresh, so no heartbeat line is needed. Colour follows the console:
    rich honours ``NO_COLOR``, and ``color=False`` turns it off explicitly.
    """

    def __init__(
        self, console: Console | None = None, *, clock: Clock | None = None, color: bool | None = None
    ) -> None:
        self.console = console or Console(stderr=True, no_color=None if color is None else not color)
        self.clock = clock or SystemClock()
        self._rows: dict[str, _Row] = {}
        self._lock = threading.RLock()
        self._live: Live | None = None

    def start(self, instance_ids: list[str]) -> None:
        with self._lock:
            self._rows = {i: _Row("pending", "") for i in instance_ids}
        self._live = Live(console=self.console, get_renderable=self._render, refresh_per_second=4, transient=False)
        self._live.start()

    def _render(self) -> Table:
        table = Table(title="rdsssl-reconcile apply", expand=False)
        table.add_column("Instance", no_wrap=True)
        table.add_column("Phase", no_wrap=True)
        table.add_column("Elapsed", no_wrap=True)
        table.add_column("Detail")
        now = self.clock.monotonic()
        with self._lock:
            rows = [(i, _Row(r.phase, r.detail, r.since, r.expected, r.style)) for i, r in self._rows.items()]
        for instance_id, row in rows:
            elapsed = ""
            if row.since is not None:
                elapsed = mmss(now - row.since) + (f" / ~{mmss(row.expected)}" if row.expected else "")
            # Details are plain text (they may contain brackets); only our own outcome gets a style.
            table.add_row(
                Text(visible(instance_id)),
                Text(visible(row.phase), style=row.style),
                Text(elapsed),
                Text(visible(row.detail)),
            )
        return table

    def phase(self, instance_id: str, phase: str, detail: str = "", *, expected_seconds: float | None = None) -> None:
        now = self.clock.monotonic()
        with self._lock:
            row = self._rows.get(instance_id)
            if row is None or row.phase != phase or row.since is None:
                self._rows[instance_id] = _Row(phase, detail, now, expected_seconds)
            else:
                row.detail = detail
                row.expected = expected_seconds if expected_seconds is not None else row.expected
        self._refresh()

    def finished(self, result: InstanceResult) -> None:
        with self._lock:
            self._rows[result.id] = _Row(result.outcome.value, result.detail, style=_OUTCOME_STYLE[result.outcome])
        self._refresh()

    def message(self, text: str, *, instance_id: str | None = None) -> None:
        shown = f"{visible(instance_id)}: {visible(text)}" if instance_id else visible(text)
        self.console.print(Text(f"{stamp(self.clock)} {shown}"))

    def retry(self, error: TransientCloudError, attempt: int, delay: float) -> None:
        self.console.print(Text(f"{stamp(self.clock)} {retry_text(error, attempt + 1, delay)}"))

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


Reporter = PlainReporter | JsonReporter | LiveReporter


def open_reporter(
    mode: str, *, clock: Clock, interval: float = HEARTBEAT_SECONDS, color: bool | None = None
) -> Reporter:
    """The reporter for a resolved ``--progress`` mode (see :func:`choose_mode`)."""
    if mode == "json":
        return JsonReporter(clock=clock, interval=interval)
    if mode == "live":
        return LiveReporter(clock=clock, color=color)
    return PlainReporter(clock=clock, interval=interval)
