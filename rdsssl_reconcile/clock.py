"""Time as a dependency: the planner takes ``now``, waits take a clock, tests bring their own.

``--now`` (``RDSSSL_NOW``) starts the tool's clock at a given instant and lets it run from there, so a
plan can be previewed "as of" a future date, and tests can line the tool up with an emulator whose
clock they advanced to age certificates.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock, optionally shifted so that "now" starts at ``start``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = timedelta(0) if start is None else start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


def parse_instant(text: str) -> datetime:
    """ISO 8601 (``2027-01-31T02:30:00Z``, ``2027-01-31``); naive values are UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
