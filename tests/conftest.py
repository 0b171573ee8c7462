"""Fixtures shared by the whole test suite.

``emulator``: a fresh in-process RDS OpenAPI emulator (empty fleet, restarts of 0.2 s) for one test; it
yields :class:`rdsssl_reconcile.emulator.RunningEmulator` (``endpoint``, ``host_port``, credentials,
``admin`` and ``sdk_client()``). Seed instances with ``emulator.admin.add_instances([...])``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rdsssl_reconcile.emulator import RunningEmulator, run_emulator


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with run_emulator(restart_seconds=0.2) as running:
        yield running
