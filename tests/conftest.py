"""Fixtures shared by the whole test suite.

``emulator``: a fresh in-process RDS OpenAPI emulator (empty fleet, restarts of 0.2 s) for one test; it
yields :class:`rdsssl_reconcile.emulator.RunningEmulator` (``endpoint``, ``host_port``, credentials,
``admin`` and ``sdk_client()``). Seed instances with ``emulator.admin.add_instances([...])``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
from rdsssl_reconcile.emulator.auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

# The SDK's credential chain reads these variables once, when alibabacloud_credentials is first imported
# (whichever test does that first), so set them for the whole session before anything can: every
# emulator a test starts accepts these documented default credentials. Tests of a missing credential
# run the CLI in a subprocess with its own environment.
os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"] = DEFAULT_ACCESS_KEY_ID
os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = DEFAULT_ACCESS_KEY_SECRET
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME and XDG_STATE_HOME: nothing a test runs may write into the real ones.

    apply's default audit log and its lock files live under ``$XDG_STATE_HOME`` (``~/.local/state``);
    a test that forgets ``--audit-log`` must write into its own temporary directory, never the user's.
    Subprocesses inherit the same environment.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    return home


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with run_emulator(restart_seconds=0.2) as running:
        yield running
