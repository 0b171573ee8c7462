"""Open a connection to a resolved target: start the embedded emulator if asked, build the SDK client.

This is the only place that imports :mod:`rdsssl_reconcile.cloud.sdk` (and so the vendor SDK), and it
does so inside :func:`connect`, so commands that never call the cloud never pay for the import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from rdsssl_reconcile.cloud.port import CloudClient
from rdsssl_reconcile.cloud.retry import RetryingCloudClient, RetryListener, RetryPolicy
from rdsssl_reconcile.cloud.target import Credentials, Target


@dataclass(frozen=True, slots=True)
class Connection:
    target: Target
    client: CloudClient


@contextmanager
def connect(
    target: Target,
    *,
    timeout_seconds: float = 10.0,
    retry_policy: RetryPolicy | None = None,
    on_retry: RetryListener | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Iterator[Connection]:
    """Yield a retrying SDK-backed client for ``target`` (with the embedded emulator running, if any)."""
    with ExitStack() as stack:
        if target.kind == "embedded-emulator":
            assert target.embedded is not None
            from rdsssl_reconcile.emulator.testing import run_emulator

            config = target.embedded
            if config.state is not None:
                config.state.parent.mkdir(parents=True, exist_ok=True)
            emulator = stack.enter_context(
                run_emulator(fleet=config.fleet, state_file=config.state, restart_seconds=config.restart_seconds)
            )
            target = target.with_endpoint(
                emulator.endpoint, Credentials(emulator.access_key_id, emulator.access_key_secret)
            )
        from rdsssl_reconcile.cloud.sdk import SdkCloudClient

        inner = SdkCloudClient(target, timeout_seconds=timeout_seconds)
        client = RetryingCloudClient(inner, retry_policy, on_retry=on_retry, sleep=sleep or time.sleep)
        yield Connection(target=target, client=client)
