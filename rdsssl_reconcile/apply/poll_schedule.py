"""When to look again while a restart runs: sparse early, dense around the expected end, patient after it.

Why a schedule of its own: a restart takes about as long as its rule says (3 minutes for a certificate,
1 for an ACL), so polls before that are mostly wasted, and the poll that first sees it back decides how
much of the rollout is lost: with ``--max-restarts 1`` every second of overshoot is paid once per
instance. A fixed backoff (2 s growing to 15 s) lost up to 15 s per restart and re-read everything each
time. The schedule is a pure function of the time since the request was accepted and the expectation:

* **Early** (before ``expected x (1 - lead)``): each delay is ``growth x elapsed`` (at least the dense
  interval, at most :attr:`PollSchedule.sparse_cap`), and never jumps past the dense window. So however
  wrong the expectation is (a restart much shorter than expected), the poll that sees it back comes at
  most ``growth`` of its duration late: the schedule degrades, it does not break.
* **Dense** (from ``expected x (1 - lead)`` to ``expected x (1 + trail)``): every ``dense`` seconds; by
  default a hundredth of the expectation, between 0.25 s and 2 s (``--poll-interval`` sets it).
* **Late** (after the window): the restart overran; the delay grows by a tenth of the overrun, up to
  :attr:`PollSchedule.late_cap`, so a stuck instance costs a few calls a minute, not one a second.

Without an expectation (0 or unknown), the early rule applies throughout (relative overshoot bounded by
``growth``), capped like the late phase.

:func:`learned_expectation` lets a run correct the plan's estimate with what it saw: once restarts have
landed, the next ones expect the median observed ratio to their own estimates, so a fleet whose restarts
take 2 minutes, not 3, gets its dense window where they really end.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from rdsssl_reconcile.cloud.target import Target
from rdsssl_reconcile.planning.rules import THREE_MINUTES

#: The densest poll interval by default: this fraction of the expectation, within the bounds below.
DENSE_FRACTION = 0.01
DENSE_MIN = 0.25
DENSE_MAX = 2.0


def default_dense(expected: float) -> float:
    """The dense interval for an expectation: a hundredth of it, 0.25 s to 2 s (1.8 s for a 3-minute restart)."""
    return min(DENSE_MAX, max(DENSE_MIN, expected * DENSE_FRACTION))


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """The delays of one wait; ``expected`` in seconds from acceptance (0: no expectation)."""

    expected: float
    dense: float
    growth: float = 0.25
    lead: float = 0.1
    trail: float = 0.25
    sparse_cap: float = 30.0
    late_cap: float = 15.0

    def __post_init__(self) -> None:
        if not self.dense > 0 or self.expected < 0 or not self.growth > 0:
            raise ValueError(f"invalid poll schedule {self!r}")

    @classmethod
    def for_restart(cls, expected: float, *, dense: float | None = None) -> PollSchedule:
        """The schedule of a restart expected to take ``expected`` seconds (``dense``: --poll-interval)."""
        return cls(expected=max(0.0, expected), dense=dense if dense is not None else default_dense(expected))

    @property
    def window(self) -> tuple[float, float]:
        """Seconds after acceptance between which polls are dense (at least ten dense polls long)."""
        start = self.expected * (1 - self.lead)
        end = max(self.expected * (1 + self.trail), self.expected + 10 * self.dense)
        return start, end

    def delay(self, elapsed: float) -> float:
        """Seconds to wait before the next poll, ``elapsed`` seconds after the request was accepted."""
        elapsed = max(0.0, elapsed)
        if self.expected <= 0:
            return min(self.late_cap, max(self.dense, self.growth * elapsed))
        start, end = self.window
        if elapsed < start:
            early = min(self.sparse_cap, max(self.dense, self.growth * elapsed))
            to_window = start - elapsed
            # Land on the window's start rather than jump over it; a last step shorter than the dense
            # interval is not worth a poll of its own.
            return early if early < to_window else max(self.dense, to_window)
        if elapsed < end:
            return self.dense
        return min(self.late_cap, max(self.dense, self.dense + 0.1 * (elapsed - end)))

    def times(self, until: float) -> list[float]:
        """Every poll time (seconds after acceptance) up to ``until``: for tests and the docs."""
        polls: list[float] = []
        now = 0.0
        while True:
            now += self.delay(now)
            if now > until:
                return polls
            polls.append(now)


def learned_expectation(estimate: float, observed_ratios: Sequence[float]) -> float:
    """The expectation of a restart estimated at ``estimate`` s, given observed/estimated ratios so far.

    The median, so that one odd restart (an instance that was slow for reasons of its own) does not
    move the dense window of every other.
    """
    if not observed_ratios or estimate <= 0:
        return estimate
    return estimate * statistics.median(observed_ratios)


def restart_scale(target: Target, expected_restart: float | None = None) -> float:
    """What the plan's restart estimates (real RDS durations) are multiplied by for ``target``.

    ``expected_restart`` (``apply --expected-restart``): the user knows how long a certificate restart
    (a 3-minute row) takes on this target; every row scales with it. Otherwise 1 for Alibaba Cloud and
    for an emulator at a URL (nothing says how long its restarts take; the run learns it, see
    :func:`learned_expectation`). The embedded emulator was started with its restart duration
    (``_target.yaml``'s ``restart_seconds``, for a certificate change; an ACL change takes a third of
    it, as 1 minute is of 3), so its restarts are expected to take exactly that.
    """
    if expected_restart is not None:
        return expected_restart / THREE_MINUTES
    if target.kind == "embedded-emulator" and target.embedded is not None:
        return target.embedded.restart_seconds / THREE_MINUTES
    return 1.0
