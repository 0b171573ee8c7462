"""The emulator's business clock: real time plus an offset that tests can move.

Certificates age, restarts end and ``RequireUpdate`` flips by *business* time, so a test can jump a year
ahead without waiting. The signature gateway deliberately does not use this clock: the SDK stamps
``x-acs-date`` with the real time, and a clock advanced by a year must not make every request stale.

Real time keeps flowing under the offset, so a 0.2 s restart still ends 0.2 s later without anyone
touching the clock; advancing it ends restarts early.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC)


class BusinessClock:
    """``now()`` = ``real()`` + offset. Thread-safe; ``advance`` and ``set`` only move the offset."""

    def __init__(self, *, offset_seconds: float = 0.0, real: Callable[[], datetime] = utc_now) -> None:
        self._real = real
        self._offset = timedelta(seconds=offset_seconds)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._real() + self._offset

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()

    def advance(self, seconds: float) -> datetime:
        """Move business time forward (or back, with a negative value) and return the new now."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Make business time read ``when`` now; it keeps flowing from there."""
        if when.tzinfo is None:
            raise ValueError("the business clock needs a timezone-aware datetime (UTC)")
        with self._lock:
            self._offset = when - self._real()
        return self.now()

    def reset(self, offset_seconds: float = 0.0) -> None:
        with self._lock:
            self._offset = timedelta(seconds=offset_seconds)
