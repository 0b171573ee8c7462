"""Open a connection to a resolved target: start the embedded emulator if asked, build the SDK client.

This is the only place that imports :mod:`rdsssl_reconcile.cloud.sdk` (and so the vendor SDK), and it
does so inside :func:`connect`, so commands that never call the cloud never pay for the import.

A command that will call the cloud can start that import early, in a thread, with :func:`prefetch_sdk`,
and load its specs meanwhile (the import is about 0.4 s; what overlaps is the part that does not hold
the interpreter lock). The thread imports only :mod:`rdsssl_reconcile.cloud.sdk`; the main thread,
loading specs, imports nothing that import pulls in (tests/cloud/test_sdk_prefetch.py checks it), so
no thread ever waits for a module lock the other holds, and the one later import of the same module
in :func:`connect` waits on that same import (Python's module lock) and then finds it done.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass

from rdsssl_reconcile.cloud.port import CloudClient
from rdsssl_reconcile.cloud.retry import RetryingCloudClient, RetryListener, RetryPolicy
from rdsssl_reconcile.cloud.target import Credentials, Target


@dataclass(frozen=True, slots=True)
class Connection:
    target: Target
    client: CloudClient


#: The module whose import loads the vendor SDK.
SDK_MODULE = "rdsssl_reconcile.cloud.sdk"


class SdkPrefetch:
    """The vendor SDK's import, running in a thread (see the module docstring)."""

    def __init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rdsssl-sdk-import", daemon=True)
        self._thread.start()

    @staticmethod
    def _run() -> None:
        # A failed import is raised again by the import in connect(), in the main thread, with its traceback.
        with suppress(Exception):
            importlib.import_module(SDK_MODULE)

    def wait(self) -> None:
        """Until the import has ended (a failed one is raised again by :func:`connect`'s own import)."""
        self._thread.join()


def prefetch_sdk() -> SdkPrefetch:
    """Start importing the vendor SDK now, for a command that is about to call the cloud."""
    return SdkPrefetch()


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
