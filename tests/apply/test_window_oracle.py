"""Maintenance windows against an oracle written here, minute by minute, from the documented format.

The documented rules (``spec/window.py``, ``docs/spec-format.md``): times are UTC; ``DAYS`` is a comma
list of ``mon``..``sun`` or ranges, and a range runs forward through the week (``fri-mon`` is Friday,
Saturday, Sunday, Monday); no ``DAYS`` means every day; a window whose end is not after its start
crosses midnight and belongs to the day it STARTS on; the end is exclusive.

The oracle shares no code with the implementation: it finds the day set by modular arithmetic and
finds an occurrence by walking minute by minute from the instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdsssl_reconcile.spec.window import MaintenanceWindow

NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MINUTE = timedelta(minutes=1)
#: A Monday: 2026-11-30 + n days is the weekday NAMES[n % 7].
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


def on(day: str, hhmm: str, *, week: int = 0, seconds: float = 0) -> datetime:
    """The instant ``hhmm`` of ``day`` in the week of MONDAY (+ ``week`` weeks)."""
    hours, minutes = map(int, hhmm.split(":"))
    return MONDAY + timedelta(days=NAMES.index(day) + 7 * week, hours=hours, minutes=minutes, seconds=seconds)


# -- the oracle ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Oracle:
    days: frozenset[int]
    start_minute: int  # minutes after midnight
    length: int  # minutes, 1..1440

    @classmethod
    def of(cls, days: str | None, start: str, end: str) -> Oracle:
        if days is None:
            chosen = frozenset(range(7))
        else:
            picked: set[int] = set()
            for part in days.split(","):
                first, _, last = part.partition("-")
                a = NAMES.index(first)
                b = NAMES.index(last or first)
                # Forward through the week from a to b: d is in it when it is no further from a than b.
                picked.update(d for d in range(7) if (d - a) % 7 <= (b - a) % 7)
            chosen = frozenset(picked)
        s = int(start[:2]) * 60 + int(start[3:5])
        e = int(end[:2]) * 60 + int(end[3:5])
        length = (e - s) % 1440 or 1440
        return cls(days=chosen, start_minute=s, length=length)

    def _is_opening(self, minute: datetime) -> bool:
        return minute.weekday() in self.days and minute.hour * 60 + minute.minute == self.start_minute

    def opening_of(self, instant: datetime) -> datetime | None:
        """The opening of the occurrence containing ``instant``: walk back minute by minute."""
        floor = instant.replace(second=0, microsecond=0)
        for back in range(self.length):
            candidate = floor - back * MINUTE
            if self._is_opening(candidate):
                return candidate
        return None

    def contains(self, instant: datetime) -> bool:
        return self.opening_of(instant) is not None

    def closes_at(self, instant: datetime) -> datetime | None:
        opening = self.opening_of(instant)
        return None if opening is None else opening + self.length * MINUTE

    def next_opening(self, instant: datetime) -> datetime:
        candidate = instant.replace(second=0, microsecond=0)
        for _ in range(8 * 1440):
            if candidate > instant and self._is_opening(candidate):
                return candidate
            candidate += MINUTE
        raise AssertionError("no opening within 8 days")


# -- every weekday, every range form --------------------------------------------------------------------


@pytest.mark.parametrize("day", NAMES)
def test_a_one_day_window_is_open_on_that_weekday_only(day: str) -> None:
    window = MaintenanceWindow.parse(f"{day} 10:00-11:00")
    for other in NAMES:
        assert window.contains(on(other, "10:30")) is (other == day), (day, other)
        assert window.contains(on(other, "10:30", week=1)) is (other == day), (day, other)


@pytest.mark.parametrize(
    ("days", "open_on"),
    [
        ("mon-fri", {"mon", "tue", "wed", "thu", "fri"}),
        ("tue-thu", {"tue", "wed", "thu"}),
        ("sat,sun", {"sat", "sun"}),
        ("mon,wed,fri", {"mon", "wed", "fri"}),
        ("fri-mon", {"fri", "sat", "sun", "mon"}),  # wraps through the weekend
        ("sun-tue", {"sun", "mon", "tue"}),
        ("sat-fri", set(NAMES)),
        ("wed-wed", {"wed"}),
        ("mon,wed-fri,sun", {"mon", "wed", "thu", "fri", "sun"}),
        ("thu-sat,mon", {"thu", "fri", "sat", "mon"}),
    ],
)
def test_day_lists_and_ranges(days: str, open_on: set[str]) -> None:
    window = MaintenanceWindow.parse(f"{days} 10:00-11:00")
    assert {NAMES[d] for d in window.days} == open_on
    assert {day for day in NAMES if window.contains(on(day, "10:00"))} == open_on
    assert {day for day in NAMES if window.contains(on(day, "11:00"))} == set()


def test_no_days_means_every_day() -> None:
    window = MaintenanceWindow.parse("02:00-04:00")
    assert window.days == frozenset(range(7))
    assert all(window.contains(on(day, "03:00", week=w)) for day in NAMES for w in (0, 1))
    assert not any(window.contains(on(day, "04:00")) for day in NAMES)


def test_days_and_times_ignore_case_and_the_z_suffix() -> None:
    assert MaintenanceWindow.parse("Sat,SUN 02:00Z-03:00Z") == MaintenanceWindow(
        text="Sat,SUN 02:00Z-03:00Z",
        days=frozenset({5, 6}),
        start=on("mon", "02:00").time(),
        end=on("mon", "03:00").time(),
    )


# -- overnight windows belong to the day they start on ---------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (on("fri", "21:59"), False),
        (on("fri", "22:00"), True),
        (on("fri", "23:59", seconds=59.5), True),
        (on("sat", "00:00"), True),
        (on("sat", "01:59", seconds=59.999), True),
        (on("sat", "02:00"), False),  # the end is exclusive
        (on("fri", "01:00"), False),  # Thursday night: no window started on Thursday
        (on("sat", "22:30"), False),  # Saturday's own night: not a window day
        (on("sun", "01:00"), False),
    ],
)
def test_an_overnight_window_runs_from_its_day_into_the_next(moment: datetime, inside: bool) -> None:
    assert MaintenanceWindow.parse("fri 22:00-02:00").contains(moment) is inside


def test_an_overnight_window_on_sunday_ends_on_monday() -> None:
    window = MaintenanceWindow.parse("sun 23:30-00:30")
    assert window.contains(on("sun", "23:30"))
    assert window.contains(on("mon", "00:10", week=1))  # Sunday's window, across the end of the week
    assert not window.contains(on("sun", "00:10"))  # that would be Saturday's
    assert not window.contains(on("mon", "23:45"))
    assert window.closes_at(on("mon", "00:10", week=1)) == on("mon", "00:30", week=1)
    assert window.next_opening(on("mon", "00:10", week=1)) == on("sun", "23:30", week=1)


def test_an_overnight_weekday_range_opens_on_its_start_days_only() -> None:
    window = MaintenanceWindow.parse("mon-fri 22:00-02:00")
    nights_from = {day for day in NAMES if window.contains(on(day, "23:00"))}
    early_mornings = {day for day in NAMES if window.contains(on(day, "01:00"))}
    assert nights_from == {"mon", "tue", "wed", "thu", "fri"}
    assert early_mornings == {"tue", "wed", "thu", "fri", "sat"}


def test_a_window_whose_end_equals_its_start_lasts_a_day() -> None:
    window = MaintenanceWindow.parse("wed 06:00-06:00")
    assert window.duration == timedelta(days=1)
    assert window.contains(on("wed", "06:00"))
    assert window.contains(on("thu", "05:59"))
    assert not window.contains(on("thu", "06:00"))
    assert not window.contains(on("wed", "05:59"))


# -- the exact boundaries ---------------------------------------------------------------------------------


def test_opening_is_inclusive_and_closing_exclusive() -> None:
    window = MaintenanceWindow.parse("tue 02:00-04:00")
    assert not window.contains(on("tue", "01:59", seconds=59.999999))
    assert window.contains(on("tue", "02:00"))
    assert window.contains(on("tue", "03:59", seconds=59.999999))
    assert not window.contains(on("tue", "04:00"))
    assert window.closes_at(on("tue", "02:00")) == on("tue", "04:00")
    assert window.closes_at(on("tue", "03:59", seconds=59)) == on("tue", "04:00")
    assert window.closes_at(on("tue", "04:00")) is None
    # "strictly after": at the opening itself, the next opening is a week later.
    assert window.next_opening(on("tue", "02:00")) == on("tue", "02:00", week=1)
    assert window.next_opening(on("tue", "01:59", seconds=59)) == on("tue", "02:00")


def test_an_instant_in_another_time_zone_is_compared_in_utc() -> None:
    window = MaintenanceWindow.parse("fri 22:00-02:00")
    shanghai = on("sat", "01:00").astimezone(ZoneInfo("Asia/Shanghai"))  # Saturday 09:00 local
    assert window.contains(shanghai)
    assert window.closes_at(shanghai) == on("sat", "02:00")


# -- property: the implementation agrees with the oracle ------------------------------------------------


@st.composite
def day_lists(draw: st.DrawFn) -> str | None:
    if draw(st.booleans()):
        return None
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        first = draw(st.sampled_from(NAMES))
        parts.append(f"{first}-{draw(st.sampled_from(NAMES))}" if draw(st.booleans()) else first)
    return ",".join(parts)


@st.composite
def windows(draw: st.DrawFn) -> tuple[str, Oracle]:
    days = draw(day_lists())
    start = f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 1, 15, 30, 59])):02d}"
    end = f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 1, 15, 30, 59])):02d}"
    z = draw(st.sampled_from(["", "Z"]))
    text = f"{start}{z}-{end}{z}" if days is None else f"{days} {start}{z}-{end}{z}"
    return text, Oracle.of(days, start, end)


@st.composite
def instants(draw: st.DrawFn, oracle: Oracle) -> datetime:
    """Anywhere in two weeks, often exactly at (or a hair from) an opening or a closing."""
    day = MONDAY + timedelta(days=draw(st.integers(0, 13)))
    anchor = draw(
        st.sampled_from(
            [
                None,
                oracle.start_minute,
                oracle.start_minute + oracle.length,
            ]
        )
    )
    minute = draw(st.integers(0, 1439)) if anchor is None else anchor + draw(st.sampled_from([-1, 0, 0, 1]))
    seconds = draw(st.sampled_from([0.0, 0.0, 0.000001, 1.0, 59.0, 59.999999]))
    return day + timedelta(minutes=minute, seconds=seconds)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_contains_closes_at_and_next_opening_agree_with_the_oracle(data: st.DataObject) -> None:
    text, oracle = data.draw(windows())
    window = MaintenanceWindow.parse(text)
    instant = data.draw(instants(oracle))
    assert window.contains(instant) is oracle.contains(instant), (text, instant)
    assert window.closes_at(instant) == oracle.closes_at(instant), (text, instant)
    assert window.next_opening(instant) == oracle.next_opening(instant), (text, instant)
