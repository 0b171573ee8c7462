"""Fixtures shared by the whole test suite.

``emulator``: a fresh in-process RDS OpenAPI emulator (empty fleet, restarts of 0.2 s) for one test; it
yields :class:`rdsssl_reconcile.emulator.RunningEmulator` (``endpoint``, ``host_port``, credentials,
``admin`` and ``sdk_client()``). Seed instances with ``emulator.admin.add_instances([...])``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
from rdsssl_reconcile.emulator.auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tests.support.home_guard import tool_files_written

# The SDK's credential chain reads these variables once, when alibabacloud_credentials is first imported
# (whichever test does that first), so set them for the whole session before anything can: every
# emulator a test starts accepts these documented default credentials. Tests of a missing credential
# run the CLI in a subprocess with its own environment.
os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"] = DEFAULT_ACCESS_KEY_ID
os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = DEFAULT_ACCESS_KEY_SECRET
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"

# The real home and state directory, before any fixture replaces them (acceptance 7: the suite leaves
# them untouched; checked at the end of the session by pytest_sessionfinish).
REAL_HOME = Path(os.environ.get("HOME") or Path.home())
REAL_STATE_HOME = Path(os.environ.get("XDG_STATE_HOME") or REAL_HOME / ".local" / "state")
_HOME_MARKER = "rdsssl_home_marker"


def pytest_sessionstart(session: pytest.Session) -> None:
    setattr(session.config, _HOME_MARKER, time.time())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if it wrote any of the tool's files (audit log, locks, plans) into the real home.

    Under xdist only the controller checks, once, after every worker has finished.
    """
    since = getattr(session.config, _HOME_MARKER, None)
    if hasattr(session.config, "workerinput") or since is None:
        return
    excluded = [Path(__file__).resolve().parents[1], Path(sys.prefix), Path(tempfile.gettempdir())]
    check = tool_files_written([REAL_HOME, REAL_STATE_HOME], since=since, excluded=excluded)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines: list[str] = []
    if check.written:
        lines.append(f"the test session wrote into the real home ({REAL_HOME}); tests must use their tmp dirs:")
        lines += [f"  {path}" for path in check.written]
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if not check.complete:
        lines.append(f"note: the real-home check ran out of time; part of {REAL_HOME} was not looked at")
    if lines and reporter is not None:
        reporter.write("\n")  # the progress line may still be open (xdist)
    for line in lines:
        if reporter is not None:
            reporter.write_line(line, red=bool(check.written), bold=True)
        else:
            sys.stderr.write(line + "\n")


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
