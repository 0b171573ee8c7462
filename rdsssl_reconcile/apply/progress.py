"""Progress of an apply: a live table on a terminal, timestamped lines everywhere else.

Both write to stderr so ``apply --format json`` keeps stdout machine-readable. The live display shows,
per instance, its phase and how long the current restart has run against the ~3 minute estimate.
Nothing here ever sees key material: reporters receive phases and sentences only. Ids and details
(which quote API answers and certificate subjects) are shown through
:func:`~rdsssl_reconcile.textsafe.visible`; rich drops only a few control characters (BEL, BS, CR) and
lets ESC through.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from rdsssl_reconcile.apply.executor import InstanceResult, Outcome
from rdsssl_reconcile.textsafe import visible


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PlainReporter:
    """One timestamped line per phase change, for CI logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, str]] = {}

    def _write(self, text: str) -> None:
        with self._lock:
            self.stream.write(f"{_stamp()} {text}\n")
            self.stream.flush()

    def phase(self, instance_id: str, phase: str, detail: str = "") -> None:
        # Polls repeat the same phase every few seconds; print when it says something new.
        key = (phase, detail.split(" (")[0])
        if self._last.get(instance_id) == key:
            return
        self._last[instance_id] = key
        self._write(f"{visible(instance_id)}: {visible(phase)}{': ' + visible(detail) if detail else ''}")

    def message(self, text: str) -> None:
        self._write(visible(text))

    def finished(self, result: InstanceResult) -> None:
        self._write(f"{visible(result.id)}: {result.outcome.value}: {visible(result.detail)}")

    def close(self) -> None:
        return None


_OUTCOME_STYLE = {
    Outcome.APPLIED: "green",
    Outcome.ALREADY_IN_SYNC: "green",
    Outcome.UNKNOWN: "yellow",
    Outcome.DEFERRED: "yellow",
    Outcome.FAILED: "red",
    Outcome.NOT_CONVERGED: "red",
    Outcome.SKIPPED: "dim",
}


class LiveReporter:
    """A table refreshed in place while the apply runs (terminals only)."""

    def __init__(self, instance_ids: list[str], console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._rows: dict[str, tuple[str, str]] = dict.fromkeys(instance_ids, ("pending", ""))
        self._lock = threading.Lock()
        self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
        self._live.start()

    def _render(self) -> Table:
        table = Table(title="rdsssl-reconcile apply", expand=False)
        table.add_column("Instance", no_wrap=True)
        table.add_column("Phase", no_wrap=True)
        table.add_column("Detail")
        for instance_id, (phase, detail) in self._rows.items():
            # Details are plain text (they may contain brackets); only our own phase styling is markup.
            table.add_row(Text(visible(instance_id)), Text.from_markup(phase), Text(visible(detail)))
        return table

    def phase(self, instance_id: str, phase: str, detail: str = "") -> None:
        with self._lock:
            self._rows[instance_id] = (phase, detail)
            self._live.update(self._render())

    def message(self, text: str) -> None:
        self.console.print(Text(visible(text)))

    def finished(self, result: InstanceResult) -> None:
        style = _OUTCOME_STYLE[result.outcome]
        with self._lock:
            self._rows[result.id] = (f"[{style}]{result.outcome.value}[/{style}]", result.detail)
            self._live.update(self._render())

    def close(self) -> None:
        self._live.stop()
