"""Fixtures for the emulator suite (``emulator`` itself is in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from rdsssl_reconcile.emulator import RunningEmulator

from .helpers import Pki, make_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()


@pytest.fixture
def client(emulator: RunningEmulator) -> Any:
    """An official SDK client (AK credentials) for the function-scoped emulator."""
    return emulator.sdk_client()
