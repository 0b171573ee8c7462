"""Retries: reads retry every transient error; the non-idempotent modify passes straight through."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from rdsssl_reconcile.cloud.retry import RetryingCloudClient, RetryPolicy
from rdsssl_reconcile.errors import PermanentCloudError, TransientCloudError


class Scripted:
    """A CloudClient whose calls fail with the scripted errors, then succeed."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def _next(self) -> dict[str, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": True}

    def describe_instances_page(
        self,
        region_id: str,
        *,
        instance_ids: Sequence[str] = (),
        engine: str | None = None,
        page_number: int = 1,
        page_size: int = 100,
    ) -> dict[str, Any]:
        return self._next()

    def describe_instance(self, region_id: str, instance_id: str) -> dict[str, Any]:
        return self._next()

    def describe_net_info(self, region_id: str, instance_id: str) -> dict[str, Any]:
        return self._next()

    def describe_ssl(self, region_id: str, instance_id: str) -> dict[str, Any]:
        return self._next()

    def modify_ssl(self, region_id: str, parameters: Mapping[str, str]) -> str:
        self._next()
        return "REQ"


def transient(code: str, retry_after: float | None = None) -> TransientCloudError:
    return TransientCloudError("m", code=code, action="A", retry_after=retry_after)


def client(inner: Scripted, sleeps: list[float], attempts: int = 6) -> RetryingCloudClient:
    return RetryingCloudClient(inner, RetryPolicy(attempts=attempts), sleep=sleeps.append, rng=random.Random(1))


def test_reads_retry_throttling_5xx_and_drops_with_bounded_jitter() -> None:
    sleeps: list[float] = []
    inner = Scripted(transient("Throttling.User"), transient("ServiceUnavailable"), transient("ConnectionDropped"))
    assert client(inner, sleeps).describe_ssl("r", "i") == {"ok": True}
    assert inner.calls == 4
    assert len(sleeps) == 3
    assert all(0 <= delay <= 0.5 * 2**attempt for attempt, delay in enumerate(sleeps))


def test_retry_after_hint_wins() -> None:
    sleeps: list[float] = []
    client(Scripted(transient("Throttling.User", retry_after=3.0)), sleeps).describe_ssl("r", "i")
    assert 3.0 <= sleeps[0] < 3.25


def test_gives_up_after_the_attempts() -> None:
    sleeps: list[float] = []
    inner = Scripted(*[transient("InternalError") for _ in range(5)])
    with pytest.raises(TransientCloudError):
        client(inner, sleeps, attempts=3).describe_net_info("r", "i")
    assert inner.calls == 3


def test_permanent_errors_are_not_retried() -> None:
    inner = Scripted(PermanentCloudError("m", code="InvalidDBInstanceId.NotFound", action="A"))
    with pytest.raises(PermanentCloudError):
        client(inner, []).describe_ssl("r", "i")
    assert inner.calls == 1


@pytest.mark.parametrize("code", ["Throttling.User", "ServiceUnavailable", "Timeout", "IncorrectDBSslStatus"])
def test_modify_is_never_retried_here(code: str) -> None:
    # Not even throttling: the executor audits each attempt and re-plans before the next one.
    sleeps: list[float] = []
    inner = Scripted(transient(code))
    with pytest.raises(TransientCloudError):
        client(inner, sleeps).modify_ssl("r", {})
    assert inner.calls == 1
    assert sleeps == []
