"""Retries with jittered exponential backoff around any :class:`~rdsssl_reconcile.cloud.port.CloudClient`.

Reads are retried on every transient error (throttling, 5xx, dropped or timed-out connections, busy
instance). ``ModifyDBInstanceSSL`` passes straight through, never retried here: it is not idempotent,
and even a retry after throttling must first be audited and preceded by a fresh read and re-plan
(another run may have made the change meanwhile). The applier
(:mod:`rdsssl_reconcile.apply.executor`) does that, with :class:`RetryPolicy` for the delays.

The server's ``x-acs-retry-after`` hint (surfaced as ``retry_after``) wins over the computed delay.
Sleep and randomness are injected so tests run without waiting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from rdsssl_reconcile.cloud.port import MAX_PAGE_SIZE, CloudClient, RawBody
from rdsssl_reconcile.errors import TransientCloudError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, error: TransientCloudError, rng: random.Random) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(max, base * 2^attempt)]."""
        if error.retry_after:
            return min(error.retry_after, self.max_retry_after) + rng.uniform(0, self.base_delay / 2)
        return rng.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


def is_throttling(error: TransientCloudError) -> bool:
    return error.code.startswith("Throttling") or error.code == "Rejected.Throttling"


RetryListener = Callable[[TransientCloudError, int, float], None]


class RetryingCloudClient:
    """A CloudClient that retries transient failures of the one it wraps."""

    def __init__(
        self,
        inner: CloudClient,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_retry: RetryListener | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._on_retry = on_retry

    def _with_retries(self, call: Callable[[], T], *, retryable: Callable[[TransientCloudError], bool]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except TransientCloudError as error:
                attempt += 1
                if attempt >= self.policy.attempts or not retryable(error):
                    raise
                delay = self.policy.delay(attempt - 1, error, self._rng)
                if self._on_retry:
                    self._on_retry(error, attempt, delay)
                self._sleep(delay)

    def _read(self, call: Callable[[], T]) -> T:
        return self._with_retries(call, retryable=lambda _error: True)

    def describe_instances_page(
        self,
        region_id: str,
        *,
        instance_ids: Sequence[str] = (),
        engine: str | None = None,
        page_number: int = 1,
        page_size: int = MAX_PAGE_SIZE,
    ) -> RawBody:
        return self._read(
            lambda: self.inner.describe_instances_page(
                region_id, instance_ids=instance_ids, engine=engine, page_number=page_number, page_size=page_size
            )
        )

    def describe_instance(self, region_id: str, instance_id: str) -> RawBody:
        return self._read(lambda: self.inner.describe_instance(region_id, instance_id))

    def describe_net_info(self, region_id: str, instance_id: str) -> RawBody:
        return self._read(lambda: self.inner.describe_net_info(region_id, instance_id))

    def describe_ssl(self, region_id: str, instance_id: str) -> RawBody:
        return self._read(lambda: self.inner.describe_ssl(region_id, instance_id))

    def modify_ssl(self, region_id: str, parameters: Mapping[str, str]) -> str:
        # One attempt: the executor owns every retry of a modify (audit, re-plan, then send).
        return self.inner.modify_ssl(region_id, parameters)
