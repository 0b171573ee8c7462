"""Time as a dependency: the planner takes ``now``, waits take a clock, tests bring their own.

``--now`` (``RDSSSL_NOW``) starts the tool's clock at a given instant and lets it run from there, so a
plan can be previewed "as of" a future date, and tests can line the tool up with an emulator whose
clock they advanced to age certificates.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

#: The earliest and latest ``--now``: a certificate issued at either still has representable X.509 times
#: (``not_valid_before`` is back-dated 5 minutes and cannot precede 1950; ``not_valid_after`` may be up to
#: :data:`MAX_VALIDITY_DAYS` later and cannot pass 9999-12-31). Beyond them ``datetime`` arithmetic
#: overflows, or the issuer refuses the dates.
MAX_VALIDITY_DAYS = 3650
EARLIEST_NOW = datetime(1950, 1, 1, 0, 10, tzinfo=UTC)
LATEST_NOW = datetime(9999, 12, 31, tzinfo=UTC) - timedelta(days=MAX_VALIDITY_DAYS + 1)


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
    # An offset (+05:00) is converted, so bounds and arithmetic compare instants, not wall-clock readings.
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
