"""Maintenance windows: when a ``policy.restart: window`` instance may be restarted.

Format (UTC, like RDS's own ``MaintainTime`` "02:00Z-03:00Z"): ``"HH:MM-HH:MM"`` for every day, or
``"DAYS HH:MM-HH:MM"`` where DAYS is a comma list of ``mon``..``sun`` or ranges such as ``mon-fri``.
A window whose end is not after its start crosses midnight and belongs to the day it starts on:
``"sat 23:00-02:00"`` is Saturday 23:00 to Sunday 02:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        start = DAY_NAMES.index(first)
        end = DAY_NAMES.index(last) if last else start
        index = start
        while True:
            days.add(index)
            if index == end:
                break
            index = (index + 1) % 7
    return frozenset(days)


def _parse_time(text: str) -> time:
    hours, minutes = text.strip().rstrip("Zz").split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A weekly schedule of UTC windows. ``text`` is what the user wrote, for messages."""

    text: str
    days: frozenset[int]
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> MaintenanceWindow:
        """Parse a window already checked against the schema's pattern (ValueError otherwise)."""
        parts = text.strip().lower().split()
        if len(parts) == 1:
            days, span = frozenset(range(7)), parts[0]
        elif len(parts) == 2:
            days, span = _parse_days(parts[0]), parts[1]
        else:
            raise ValueError(f"not a maintenance window: {text!r}")
        start_text, _, end_text = span.partition("-")
        return cls(text=text.strip(), days=days, start=_parse_time(start_text), end=_parse_time(end_text))

    @property
    def duration(self) -> timedelta:
        start = timedelta(hours=self.start.hour, minutes=self.start.minute)
        end = timedelta(hours=self.end.hour, minutes=self.end.minute)
        return end - start if end > start else end - start + timedelta(days=1)

    def _openings_around(self, now: datetime) -> list[datetime]:
        base = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        openings = []
        for offset in range(-1, 9):
            day = base + timedelta(days=offset)
            if day.weekday() in self.days:
                openings.append(day.replace(hour=self.start.hour, minute=self.start.minute))
        return openings

    def contains(self, now: datetime) -> bool:
        """True when ``now`` is inside an occurrence of the window."""
        return any(opening <= now < opening + self.duration for opening in self._openings_around(now))

    def closes_at(self, now: datetime) -> datetime | None:
        """When the occurrence containing ``now`` ends (None if ``now`` is outside the window)."""
        for opening in self._openings_around(now):
            if opening <= now < opening + self.duration:
                return opening + self.duration
        return None

    def next_opening(self, now: datetime) -> datetime:
        """The first window start strictly after ``now``."""
        return min(opening for opening in self._openings_around(now) if opening > now)

    def __str__(self) -> str:
        return f"{self.text} UTC"
