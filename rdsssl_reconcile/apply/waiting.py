"""Polling with a deadline, a backoff and an acceptor that explains itself (botocore's waiter shape).

The acceptor sees each observation and answers DONE, CONTINUE or FAILED with a sentence, so a timeout
or a failure can say what was last seen instead of "timed out". Clock and sleep are injected; a stop
event lets an interrupted run stop waiting where that is safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from rdsssl_reconcile.clock import Clock

T = TypeVar("T")


class Verdict(Enum):
    DONE = "done"
    CONTINUE = "continue"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    explanation: str


@dataclass(frozen=True, slots=True)
class Backoff:
    """Poll every ``initial`` seconds, growing by ``factor`` up to ``maximum``."""

    initial: float = 2.0
    factor: float = 1.5
    maximum: float = 15.0

    def delays(self) -> Callable[[], float]:
        current = [self.initial]

        def next_delay() -> float:
            delay = current[0]
            current[0] = min(self.maximum, current[0] * self.factor)
            return delay

        return next_delay


@dataclass(frozen=True, slots=True)
class WaitOutcome(Generic[T]):
    verdict: Verdict | None  # None: timed out
    explanation: str
    last: T | None
    waited_seconds: float


def poll_until(
    probe: Callable[[], T],
    judge: Callable[[T], Judgement],
    *,
    timeout: float,
    clock: Clock,
    backoff: Backoff | None = None,
    next_delay: Callable[[], float] | None = None,
    interrupted: threading.Event | None = None,
    on_observation: Callable[[T, Judgement], None] | None = None,
) -> WaitOutcome[T]:
    """Probe until the judge says DONE or FAILED, the timeout passes, or ``interrupted`` is set.

    The delays come from ``next_delay`` (a restart's :class:`~.poll_schedule.PollSchedule`) or else
    from ``backoff``.
    """
    start = clock.monotonic()
    if next_delay is None:
        next_delay = (backoff or Backoff()).delays()
    last: T | None = None
    explanation = "nothing observed yet"
    while True:
        last = probe()
        judgement = judge(last)
        explanation = judgement.explanation
        if on_observation:
            on_observation(last, judgement)
        elapsed = clock.monotonic() - start
        if judgement.verdict is not Verdict.CONTINUE:
            return WaitOutcome(verdict=judgement.verdict, explanation=explanation, last=last, waited_seconds=elapsed)
        remaining = timeout - elapsed
        if remaining <= 0:
            return WaitOutcome(verdict=None, explanation=explanation, last=last, waited_seconds=elapsed)
        delay = min(next_delay(), remaining)
        if interrupted is not None and interrupted.wait(0):
            # The caller knows it set the event; the explanation stays what was last seen.
            return WaitOutcome(verdict=None, explanation=explanation, last=last, waited_seconds=elapsed)
        clock.sleep(delay)


def mmss(seconds: float) -> str:
    """``3:05`` for 185 seconds: how waits and restarts are shown."""
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"
